//! What a query names, checked against the ontology of the server it goes to before it is sent:
//! a typo otherwise matches nothing and answers `0 sequence(s)`. Tags and field paths must exist
//! (the closest valid spelling is suggested), a tag in the other generation's spelling is
//! translated, a topic name without its leading `/` gets one, and `~` patterns mean the same on
//! both generations (see [`pattern`]).

use arrow::datatypes::{DataType, Fields};
use serde_json::Value;

use super::{pattern, Op, Query, TopicFilter};
use crate::error::{Error, Result};
use crate::ontology::{Ontology, SerializationFormat};
use crate::protocol::Generation;

/// A query made exact for one generation, and what was changed to get there (for the user).
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub query: Query,
    pub notes: Vec<String>,
}

/// Every tag a server of `g` can hold topics of: the SDK's ontology and this project's extensions.
fn tags(g: Generation) -> Vec<&'static str> {
    Ontology::for_generation(g)
        .types()
        .chain(Ontology::extensions(g).types())
        .map(|t| t.tag.as_str())
        .collect()
}

fn schema_of(g: Generation, tag: &str) -> Option<arrow::datatypes::SchemaRef> {
    Ontology::for_generation(g)
        .get(tag)
        .or_else(|| Ontology::extensions(g).get(tag))
        .map(|t| t.schema.clone())
}

/// The same type's tag on a server of `g`, when `tag` is another generation's spelling of it.
fn translated(g: Generation, tag: &str) -> Option<&'static str> {
    let other = match g {
        Generation::Legacy => Generation::Current,
        Generation::Current => Generation::Legacy,
    };
    let class = Ontology::for_generation(other)
        .get(tag)
        .or_else(|| Ontology::extensions(other).get(tag))?
        .class
        .clone();
    Ontology::class_or_extension(g, &class).map(|t| t.tag.as_str())
}

/// The candidate closest to `wrong` when it is close enough to be a typo.
pub fn closest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let w = wrong.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&w, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn did_you_mean(s: Option<&str>) -> String {
    s.map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default()
}

/// A tag valid on `g`: as given, translated from the other generation (noted), or an error.
fn tag(g: Generation, given: &str, notes: &mut Vec<String>) -> Result<String> {
    let known = tags(g);
    if known.contains(&given) {
        return Ok(given.to_string());
    }
    if let Some(t) = translated(g, given) {
        notes.push(format!(
            "tag `{given}` is the other generation's spelling: `{t}` on this {g} server"
        ));
        return Ok(t.to_string());
    }
    let hint = match closest(given, known.iter().copied()) {
        Some(s) => did_you_mean(Some(s)),
        None => format!("; tags on a {g} server: {}", known.join(", ")),
    };
    Err(Error::InvalidQuery(format!(
        "no ontology tag `{given}` on this {g} server{hint}"
    )))
}

/// The searchable leaves of a schema (numbers, booleans, text), as dotted paths.
fn leaves(fields: &Fields, prefix: &str, out: &mut Vec<(String, bool)>) {
    for f in fields {
        let path = format!("{prefix}{}", f.name());
        match f.data_type() {
            DataType::Struct(children) => leaves(children, &format!("{path}."), out),
            t => out.push((path, searchable(t))),
        }
    }
}

fn searchable(t: &DataType) -> bool {
    t.is_numeric()
        || matches!(
            t,
            DataType::Boolean
                | DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Date32
                | DataType::Date64
                | DataType::Time32(_)
                | DataType::Time64(_)
                | DataType::Timestamp(..)
        )
}

/// `<tag>.<field path>` checked: the tag (translated if need be) and a searchable leaf of its type.
fn field(g: Generation, key: &str, notes: &mut Vec<String>) -> Result<String> {
    let Some((given_tag, path)) = key.split_once('.') else {
        return Err(Error::InvalidQuery(format!(
            "field {key:?} must be `<tag>.<field path>`, e.g. `{}.acceleration.x`",
            match g {
                Generation::Legacy => "imu",
                Generation::Current => "IMU",
            }
        )));
    };
    let t = tag(g, given_tag, notes)?;
    let schema = schema_of(g, &t).expect("a known tag has a schema");
    let mut all = Vec::new();
    leaves(schema.fields(), "", &mut all);
    match all.iter().find(|(p, _)| p == path) {
        Some((_, true)) => Ok(format!("{t}.{path}")),
        Some((_, false)) => Err(Error::InvalidQuery(format!(
            "field `{t}.{path}` is a list or binary column: the server indexes only numbers, \
             booleans and text"
        ))),
        None => {
            let ok: Vec<&str> = all.iter().filter(|l| l.1).map(|l| l.0.as_str()).collect();
            let hint = match closest(path, ok.iter().copied()) {
                Some(s) => did_you_mean(Some(&format!("{t}.{s}"))),
                None => format!("; fields of `{t}`: {}", ok.join(", ")),
            };
            Err(Error::InvalidQuery(format!(
                "`{t}` has no field `{path}`{hint}"
            )))
        }
    }
}

/// A topic name with its leading `/` (names are compared relative to their sequence, `/imu`).
fn slashed(v: &Value, notes: &mut Vec<String>) -> Value {
    match v.as_str() {
        Some(s) if !s.starts_with('/') => {
            let fixed = format!("/{s}");
            notes.push(format!(
                "topic `{s}` taken as `{fixed}` (topic names start with `/`)"
            ));
            Value::String(fixed)
        }
        _ => v.clone(),
    }
}

fn topic_name(op: &Op, notes: &mut Vec<String>) -> Result<Op> {
    Ok(match op {
        Op::Eq(v) => Op::Eq(slashed(v, notes)),
        Op::Neq(v) => Op::Neq(slashed(v, notes)),
        Op::In(vs) => Op::In(vs.iter().map(|v| slashed(v, notes)).collect()),
        Op::Match(p) if pattern::anchored(p) && !p.starts_with(['/', '*', '?']) => {
            let fixed = format!("/{p}");
            notes.push(format!(
                "topic pattern `{p}` taken as `{fixed}` (topic names start with `/`)"
            ));
            Op::Match(fixed)
        }
        o => o.clone(),
    })
}

/// A text field with a fixed set of values (tags, formats): each value checked by `one`, and a
/// pattern expanded to the values it matches (the same on both generations, exactly).
fn closed_set(
    field: &str,
    op: &Op,
    values: &[&str],
    mut one: impl FnMut(&str, &mut Vec<String>) -> Result<String>,
    notes: &mut Vec<String>,
) -> Result<Op> {
    let mut each = |v: &Value| -> Result<Value> {
        match v.as_str() {
            Some(s) => one(s, notes).map(Value::String),
            None => Err(Error::InvalidQuery(format!("{field}: {v} is not text"))),
        }
    };
    Ok(match op {
        Op::Eq(v) => Op::Eq(each(v)?),
        Op::Neq(v) => Op::Neq(each(v)?),
        Op::In(vs) => Op::In(vs.iter().map(&mut each).collect::<Result<_>>()?),
        Op::Match(p) => {
            pattern::check(p)?;
            let hits: Vec<Value> = values
                .iter()
                .filter(|v| pattern::matches(p, v))
                .map(|v| Value::String(v.to_string()))
                .collect();
            if hits.is_empty() {
                return Err(Error::InvalidQuery(format!(
                    "{field}: `~{p}` matches none of {}",
                    values.join(", ")
                )));
            }
            Op::In(hits)
        }
        o => o.clone(),
    })
}

fn format_of(given: &str) -> Result<String> {
    given
        .parse::<SerializationFormat>()
        .map(|f| f.as_str().to_string())
        .map_err(|m| Error::InvalidQuery(format!("topic.serialization_format: {m}")))
}

impl Query {
    /// This query checked against the ontology of a `g` server and made exact for it: tags and
    /// field paths exist (else an error with the closest spelling), tags in the other
    /// generation's spelling are translated, topic names get their leading `/`, tag and format
    /// patterns become the list of values they match. Raw bodies are checked by key only (they
    /// are the way to name a tag this client does not know).
    pub fn resolve(&self, g: Generation) -> Result<Resolved> {
        let mut notes = Vec::new();
        let mut q = self.clone();
        if let Some(raw) = &q.raw {
            super::raw::check(raw, g)?;
            return Ok(Resolved { query: q, notes });
        }
        if let Some(s) = &mut q.sequence {
            if let Some(Op::Match(p)) = &s.name {
                pattern::check(p)?;
            }
        }
        if let Some(t) = &mut q.topic {
            let TopicFilter {
                name,
                ontology_tag,
                serialization_format,
                ..
            } = t;
            if let Some(op) = name {
                if let Op::Match(p) = &*op {
                    pattern::check(p)?;
                }
                *op = topic_name(op, &mut notes)?;
            }
            if let Some(op) = ontology_tag {
                let known = tags(g);
                *op = closed_set(
                    "topic.ontology_tag",
                    op,
                    &known,
                    |s, n| tag(g, s, n),
                    &mut notes,
                )?;
            }
            if let Some(op) = serialization_format {
                let all: Vec<&str> = SerializationFormat::ALL
                    .iter()
                    .map(|f| f.as_str())
                    .collect();
                *op = closed_set(
                    "topic.serialization_format",
                    op,
                    &all,
                    |s, _| format_of(s),
                    &mut notes,
                )?;
            }
        }
        for (key, op) in &mut q.ontology {
            *key = field(g, key, &mut notes)?;
            if let Op::Match(p) = op {
                pattern::check(p)?;
            }
        }
        Ok(Resolved { query: q, notes })
    }
}
