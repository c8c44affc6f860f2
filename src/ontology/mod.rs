//! The Mosaico ontology: one Arrow schema per type tag, versioned with the protocol generation.
//!
//! * legacy (snapshot mosaicod, SDK 0.1): snake_case tags (`imu`, `vector_3_d`), envelope
//!   `timestamp_ns, message_header`, header `{seq, stamp{sec, nanosec}, frame_id}`.
//! * current (SDK 0.7): class-name tags (`IMU`, `Vector3d`), envelope `timestamp_ns` only, header
//!   `{timestamp{seconds, nanoseconds}, frame_id, sample_counter}`, and many more types.
//!
//! The schemas are the reference appendices verbatim (`*.schemas`), parsed once. The rest of the code
//! asks this module for schemas and never spells them out again.

pub mod notation;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use arrow::datatypes::{Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use crate::protocol::Generation;
use notation::Macros;

/// How the server stores a topic (`default`: plain parquet; `image`: ZSTD-22 on the legacy server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SerializationFormat {
    #[default]
    Default,
    Ragged,
    Image,
}

impl SerializationFormat {
    pub const ALL: [SerializationFormat; 3] = [Self::Default, Self::Ragged, Self::Image];

    pub fn as_str(self) -> &'static str {
        match self {
            SerializationFormat::Default => "default",
            SerializationFormat::Ragged => "ragged",
            SerializationFormat::Image => "image",
        }
    }
}

impl std::str::FromStr for SerializationFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "default" => Ok(Self::Default),
            "ragged" => Ok(Self::Ragged),
            "image" => Ok(Self::Image),
            o => Err(format!(
                "unknown serialization format `{o}` (expected default, ragged or image)"
            )),
        }
    }
}

impl std::fmt::Display for SerializationFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One ontology type: its tag on the wire, the SDK class it maps to, format and full schema.
#[derive(Debug, Clone)]
pub struct OntologyType {
    pub tag: String,
    pub class: String,
    pub format: SerializationFormat,
    pub schema: SchemaRef,
}

/// All types of one generation.
#[derive(Debug)]
pub struct Ontology {
    pub generation: Generation,
    by_tag: BTreeMap<String, OntologyType>,
    by_class: BTreeMap<String, String>,
    macros: Macros,
}

impl Ontology {
    /// The ontology that readers of a server of `generation` expect.
    pub fn for_generation(generation: Generation) -> &'static Ontology {
        static LEGACY: OnceLock<Ontology> = OnceLock::new();
        static CURRENT: OnceLock<Ontology> = OnceLock::new();
        match generation {
            Generation::Legacy => LEGACY.get_or_init(|| {
                Ontology::parse(Generation::Legacy, include_str!("legacy.schemas"))
                    .expect("legacy.schemas")
            }),
            Generation::Current => CURRENT.get_or_init(|| {
                Ontology::parse(Generation::Current, include_str!("current.schemas"))
                    .expect("current.schemas")
            }),
        }
    }

    /// Parses a schema file: macro lines `NAME = type`, then blocks
    /// `[tag] [Class] (serialization_format=fmt)` followed by indented `name: type!|?` columns.
    pub fn parse(generation: Generation, text: &str) -> Result<Ontology, notation::NotationError> {
        let mut macros = Macros::default();
        for line in text.lines() {
            if let Some((name, body)) = line.split_once(" = ") {
                if !line.starts_with(' ') && !line.starts_with('[') {
                    macros.define(name, body);
                }
            }
        }
        let mut by_tag = BTreeMap::new();
        let mut by_class = BTreeMap::new();
        let mut current: Option<(
            String,
            String,
            SerializationFormat,
            Vec<arrow::datatypes::Field>,
        )> = None;
        let mut finish = |cur: Option<(
            String,
            String,
            SerializationFormat,
            Vec<arrow::datatypes::Field>,
        )>| {
            if let Some((tag, class, format, fields)) = cur {
                by_class.insert(class.clone(), tag.clone());
                let schema = Arc::new(Schema::new(fields));
                by_tag.insert(
                    tag.clone(),
                    OntologyType {
                        tag,
                        class,
                        format,
                        schema,
                    },
                );
            }
        };
        for line in text.lines() {
            if let Some(head) = line.strip_prefix('[') {
                finish(current.take());
                let (tag, rest) = head
                    .split_once(']')
                    .ok_or_else(|| notation::NotationError {
                        at: line.into(),
                        msg: "expected `]`".into(),
                    })?;
                let rest = rest.trim();
                let (class, fmt) = match rest.split_once('(') {
                    Some((c, f)) => (c.trim(), f),
                    None => ("", rest),
                };
                let fmt = fmt
                    .trim_end_matches(')')
                    .trim()
                    .strip_prefix("serialization_format=")
                    .ok_or_else(|| notation::NotationError {
                        at: line.into(),
                        msg: "missing serialization_format".into(),
                    })?;
                let format = fmt.parse().map_err(|m| notation::NotationError {
                    at: line.into(),
                    msg: m,
                })?;
                let class = if class.is_empty() { tag } else { class };
                current = Some((tag.to_string(), class.to_string(), format, Vec::new()));
            } else if line.starts_with("    ") && !line.trim().is_empty() {
                let f = macros.parse_field(line)?;
                match current.as_mut() {
                    Some(c) => c.3.push(f),
                    None => {
                        return Err(notation::NotationError {
                            at: line.into(),
                            msg: "column outside a block".into(),
                        })
                    }
                }
            }
        }
        finish(current.take());
        Ok(Ontology {
            generation,
            by_tag,
            by_class,
            macros,
        })
    }

    /// The types this project adds where the official SDK has no class (ROS types such as
    /// `RelativeHumidity`, raw CDR, and on the legacy generation LIDAR, laser, range...), in the
    /// same notation and with the base generation's macros. Documented in
    /// `docs/ontology-extensions.md`; `python/mosaico_bridge_ontology` registers the current ones
    /// with the official SDK.
    pub fn extensions(generation: Generation) -> &'static Ontology {
        static LEGACY: OnceLock<Ontology> = OnceLock::new();
        static CURRENT: OnceLock<Ontology> = OnceLock::new();
        fn with_macros(base: &str, ext: &str) -> String {
            let macros: Vec<&str> = base
                .lines()
                .filter(|l| l.contains(" = ") && !l.starts_with(' ') && !l.starts_with('['))
                .collect();
            format!("{}\n{ext}", macros.join("\n"))
        }
        match generation {
            Generation::Legacy => LEGACY.get_or_init(|| {
                let text = with_macros(
                    include_str!("legacy.schemas"),
                    include_str!("extensions_legacy.schemas"),
                );
                Ontology::parse(Generation::Legacy, &text).expect("extensions_legacy.schemas")
            }),
            Generation::Current => CURRENT.get_or_init(|| {
                let text = with_macros(
                    include_str!("current.schemas"),
                    include_str!("extensions_current.schemas"),
                );
                Ontology::parse(Generation::Current, &text).expect("extensions_current.schemas")
            }),
        }
    }

    /// A type by class name, built-in first, then this project's extensions.
    pub fn class_or_extension(
        generation: Generation,
        class: &str,
    ) -> Option<&'static OntologyType> {
        Ontology::for_generation(generation)
            .by_class(class)
            .or_else(|| Ontology::extensions(generation).by_class(class))
    }

    pub fn get(&self, tag: &str) -> Option<&OntologyType> {
        self.by_tag.get(tag)
    }

    /// Looks a type up by SDK class name (`IMU`, `Vector3d`), which is stable across generations.
    pub fn by_class(&self, class: &str) -> Option<&OntologyType> {
        self.by_class.get(class).and_then(|t| self.by_tag.get(t))
    }

    pub fn types(&self) -> impl Iterator<Item = &OntologyType> {
        self.by_tag.values()
    }

    /// Parses a type in this generation's notation (macros such as `HDR` or `V3` included); used by
    /// the adapters that build custom types on top of the shared structs.
    pub fn parse_type(
        &self,
        text: &str,
    ) -> Result<arrow::datatypes::DataType, notation::NotationError> {
        self.macros.parse_type(text)
    }

    /// The columns every topic of this generation starts with.
    pub fn envelope_len(&self) -> usize {
        match self.generation {
            Generation::Legacy => 2,
            Generation::Current => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::DataType;

    #[test]
    fn legacy_has_every_documented_tag() {
        let o = Ontology::for_generation(Generation::Legacy);
        assert_eq!(o.types().count(), 38);
        let imu = o.get("imu").unwrap();
        assert_eq!(imu.class, "IMU");
        assert_eq!(imu.schema.field(0).name(), "timestamp_ns");
        assert!(!imu.schema.field(0).is_nullable());
        assert_eq!(imu.schema.field(1).name(), "message_header");
        assert_eq!(o.by_class("Vector3d").unwrap().tag, "vector_3_d");
        assert_eq!(o.get("image").unwrap().format, SerializationFormat::Image);
        // nested vectors carry covariance, covariance_type and header (§7.1)
        let DataType::Struct(fs) = o
            .get("imu")
            .unwrap()
            .schema
            .field_with_name("acceleration")
            .unwrap()
            .data_type()
            .clone()
        else {
            panic!()
        };
        let names: Vec<_> = fs.iter().map(|f| f.name().as_str()).collect();
        assert_eq!(
            names,
            ["x", "y", "z", "covariance", "covariance_type", "header"]
        );
    }

    #[test]
    fn current_has_every_sdk_class() {
        let o = Ontology::for_generation(Generation::Current);
        assert_eq!(o.types().count(), 60);
        assert_eq!(o.get("IMU").unwrap().schema.fields().len(), 5);
        assert_eq!(o.by_class("PointCloud2").unwrap().tag, "PointCloud2");
    }

    #[test]
    fn extensions_parse_and_never_shadow_a_built_in_tag() {
        for g in [Generation::Legacy, Generation::Current] {
            let ext = Ontology::extensions(g);
            assert!(ext.types().count() >= 3);
            for t in ext.types() {
                assert!(
                    Ontology::for_generation(g).get(&t.tag).is_none(),
                    "{} shadows a built-in",
                    t.tag
                );
                assert!(
                    Ontology::for_generation(g).by_class(&t.class).is_none(),
                    "{} shadows a built-in",
                    t.class
                );
                assert_eq!(t.schema.field(0).name(), "timestamp_ns");
                assert!(t.schema.fields().len() > 1);
            }
            assert_eq!(
                Ontology::class_or_extension(g, "RosMessageCdr")
                    .unwrap()
                    .class,
                "RosMessageCdr"
            );
        }
        assert_eq!(
            Ontology::class_or_extension(Generation::Legacy, "PointCloud2")
                .unwrap()
                .tag,
            "point_cloud_2"
        );
        assert_eq!(
            Ontology::class_or_extension(Generation::Current, "PointCloud2")
                .unwrap()
                .tag,
            "PointCloud2"
        );
    }

    /// The current ontology must print exactly as the official SDK's classes do (names, order, types,
    /// nullability, list children): the fixture is generated from PyPI `mosaicolabs` by
    /// `scripts/sdk_ontology_fixture.py`.
    #[test]
    fn current_matches_the_official_sdk_fixture() {
        let fixture = include_str!("../../tests/fixtures/ontology/current.txt");
        let o = Ontology::for_generation(Generation::Current);
        let mut seen = 0;
        let mut blocks = fixture.split("\n[").skip(1);
        for block in &mut blocks {
            let mut lines = block.lines();
            let head = lines.next().unwrap();
            let (tag, rest) = head.split_once(']').unwrap();
            let fmt = rest
                .split_whitespace()
                .find_map(|w| w.strip_prefix("format="))
                .unwrap();
            let t = o.get(tag).unwrap_or_else(|| panic!("tag {tag} missing"));
            assert_eq!(t.format.as_str(), fmt, "format of {tag}");
            let want: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
            let got: Vec<String> = t
                .schema
                .fields()
                .iter()
                .map(|f| notation::pyarrow_field(f))
                .collect();
            assert_eq!(got, want, "schema of {tag}");
            seen += 1;
        }
        assert_eq!(seen, 60);
    }
}
