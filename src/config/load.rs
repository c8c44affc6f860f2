//! Reading, checking and overriding a [`RecordConfig`].

use std::path::Path;

use serde_yaml_ng::Value as Yaml;

use super::{RecordConfig, SequenceTemplate, TopicSelection};
use crate::handlers::OnError;
use crate::names;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{origin} is not valid YAML: {message}")]
    Yaml { origin: String, message: String },
    #[error("{origin}: `{key}`: {message}")]
    Invalid {
        origin: String,
        key: String,
        message: String,
    },
}

/// Values given on the command line; they win over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub server: Option<String>,
    pub api_key: Option<String>,
    pub sequence: Option<String>,
    /// Exact topic names: record these instead of the file's selection.
    pub topics: Vec<String>,
    /// More exclusion regexes.
    pub exclude: Vec<String>,
    pub on_error: Option<OnError>,
    /// `--spool DIR`: the spool directory (enables the spool).
    pub spool: Option<String>,
    /// The connection flags every command shares (`--tls-ca`, `--timeout`, ...), when given.
    pub tls_ca: Option<String>,
    pub connect_timeout_s: Option<f64>,
    pub call_timeout_s: Option<f64>,
    /// `--gzip` (only ever turns it on).
    pub gzip: bool,
    pub generation: Option<crate::Generation>,
    pub data_channels: Option<u32>,
}

/// Finds the parameters in ROS form (`<node>: ros__parameters: {...}`), or takes the document as is.
fn parameters(doc: Yaml, origin: &str) -> Result<Yaml, ConfigError> {
    let invalid = |key: &str, message: &str| ConfigError::Invalid {
        origin: origin.into(),
        key: key.into(),
        message: message.into(),
    };
    let Yaml::Mapping(map) = doc else {
        return match doc {
            Yaml::Null => Ok(Yaml::Mapping(Default::default())),
            _ => Err(invalid("(top level)", "expected a mapping of parameters")),
        };
    };
    let ros_nodes: Vec<(String, Yaml)> = map
        .iter()
        .filter_map(|(k, v)| match (k.as_str(), v.get("ros__parameters")) {
            (Some(k), Some(p)) => Some((k.to_string(), p.clone())),
            _ => None,
        })
        .collect();
    if ros_nodes.is_empty() {
        return Ok(Yaml::Mapping(map));
    }
    if ros_nodes.len() != map.len() {
        return Err(invalid(
            "(top level)",
            "mixes ROS node sections (`<node>: ros__parameters:`) with plain keys",
        ));
    }
    let pick = ros_nodes
        .iter()
        .find(|(k, _)| {
            k.trim_start_matches('/').rsplit('/').next() == Some(super::DEFAULT_NODE_NAME)
        })
        .or_else(|| ros_nodes.iter().find(|(k, _)| k == "/**"))
        .or(if ros_nodes.len() == 1 {
            ros_nodes.first()
        } else {
            None
        });
    match pick {
        Some((_, p)) => Ok(p.clone()),
        None => Err(invalid(
            "(top level)",
            "several node sections and none is `mosaico_bridge` or `/**`",
        )),
    }
}

/// The parameters of one YAML document.
fn parse(text: &str, origin: &str) -> Result<Yaml, ConfigError> {
    let doc: Yaml = serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Yaml {
        origin: origin.into(),
        message: e.to_string(),
    })?;
    parameters(doc, origin)
}

impl RecordConfig {
    /// The shipped defaults (config/record.yaml) alone.
    pub fn shipped() -> Self {
        Self::from_yaml("", "the built-in config/record.yaml")
            .expect("the shipped config/record.yaml is valid")
    }

    /// A user's parameters (ROS parameter form or plain) over the shipped defaults, key by key
    /// (see [`super::merge`]).
    pub fn from_yaml(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let shipped = parse(super::SHIPPED_YAML, "the built-in config/record.yaml")?;
        let params = super::merge::over_defaults(shipped, parse(text, origin)?);
        let cfg: RecordConfig =
            serde_path_to_error::deserialize(params).map_err(|e| ConfigError::Invalid {
                origin: origin.into(),
                key: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        cfg.validate(origin)?;
        Ok(cfg)
    }

    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_yaml(&text, &path.display().to_string())
    }

    /// The configuration as a ROS parameter file (what `record --print-config` shows).
    pub fn to_ros_yaml(&self) -> Result<String, ConfigError> {
        let mut params = serde_yaml_ng::Mapping::new();
        params.insert(
            "ros__parameters".into(),
            serde_yaml_ng::to_value(self).map_err(|e| ConfigError::Yaml {
                origin: "configuration".into(),
                message: e.to_string(),
            })?,
        );
        let mut doc = serde_yaml_ng::Mapping::new();
        doc.insert(self.node_name.clone().into(), Yaml::Mapping(params));
        serde_yaml_ng::to_string(&doc).map_err(|e| ConfigError::Yaml {
            origin: "configuration".into(),
            message: e.to_string(),
        })
    }

    pub fn apply(&mut self, o: Overrides) -> Result<(), ConfigError> {
        if let Some(s) = o.server {
            self.server = s;
        }
        if let Some(k) = o.api_key {
            self.api_key = k;
        }
        if let Some(s) = o.sequence {
            self.sequence.name = s;
        }
        if !o.topics.is_empty() {
            self.topics = TopicSelection {
                all: false,
                names: o.topics,
                include: vec![],
                exclude: self.topics.exclude.clone(),
            };
        }
        self.topics.exclude.extend(o.exclude);
        if let Some(p) = o.on_error {
            self.on_error = p;
        }
        if let Some(d) = o.spool {
            self.spool.dir = d;
            self.spool.enabled = true;
        }
        if let Some(p) = o.tls_ca {
            self.tls_ca = p;
        }
        if let Some(t) = o.connect_timeout_s {
            self.connect_timeout_s = t;
        }
        if let Some(t) = o.call_timeout_s {
            self.call_timeout_s = t;
        }
        self.gzip |= o.gzip;
        if o.generation.is_some() {
            self.generation = o.generation.into();
        }
        if let Some(n) = o.data_channels {
            self.pool.data_channels = n;
        }
        self.validate("command line")
    }

    /// Checks every value a typo could break, naming the key.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| {
            Err(ConfigError::Invalid {
                origin: origin.into(),
                key: key.into(),
                message,
            })
        };
        if let Err(e) = crate::control::ServerAddr::parse(&self.server) {
            return bad("server", e.to_string());
        }
        for (key, v) in [
            ("connect_timeout_s", self.connect_timeout_s),
            ("call_timeout_s", self.call_timeout_s),
            ("stop_timeout_s", self.stop_timeout_s),
            ("diagnostics_period_s", self.diagnostics_period_s),
            ("spool.sync_interval_s", self.spool.sync_interval_s),
        ] {
            // A year at most: larger values overflow time arithmetic.
            if !(v > 0.0 && v <= 3.2e7) {
                return bad(
                    key,
                    format!("must be a positive number of seconds (at most a year), got {v}"),
                );
            }
        }
        if self.spool.chunk_bytes < 4096 {
            return bad(
                "spool.chunk_bytes",
                format!("must be at least 4096, got {}", self.spool.chunk_bytes),
            );
        }
        if self.node_name.is_empty()
            || !self
                .node_name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return bad(
                "node_name",
                format!(
                    "`{}` is not a ROS node name (letters, digits, `_`)",
                    self.node_name
                ),
            );
        }
        if !self.sequence.name.is_empty() {
            if let Err(e) = names::sequence_name(&self.sequence.name) {
                return bad("sequence.name", e.to_string());
            }
        }
        if let Err(m) = SequenceTemplate::parse(&self.sequence.template) {
            return bad("sequence.template", m);
        }
        if let Err((key, m)) = self.topics.compile() {
            return bad(&format!("topics.{key}"), m);
        }
        if !self.topics.all && self.topics.names.is_empty() && self.topics.include.is_empty() {
            return bad(
                "topics",
                "nothing to record: set `all: true`, or list `names` or `include` patterns".into(),
            );
        }
        for (label, o) in &self.overrides {
            let key = format!("overrides.{label}");
            if let Err(e) = names::topic_name(&o.topic) {
                return bad(&format!("{key}.topic"), e.to_string());
            }
            if let Some(q) = o.jpeg_quality {
                if !(1..=100).contains(&q) {
                    return bad(
                        &format!("{key}.jpeg_quality"),
                        format!("must be 1-100, got {q}"),
                    );
                }
            }
            if o.depth == Some(0) {
                return bad(&format!("{key}.depth"), "must be at least 1".into());
            }
        }
        if !(1..=100).contains(&self.images.jpeg_quality) {
            return bad(
                "images.jpeg_quality",
                format!("must be 1-100, got {}", self.images.jpeg_quality),
            );
        }
        if self.queue.max_bytes_per_topic == 0
            || self.queue.max_bytes_total < self.queue.max_bytes_per_topic
        {
            return bad(
                "queue",
                format!(
                    "max_bytes_per_topic ({}) must be positive and at most max_bytes_total ({})",
                    self.queue.max_bytes_per_topic, self.queue.max_bytes_total
                ),
            );
        }
        Ok(())
    }
}
