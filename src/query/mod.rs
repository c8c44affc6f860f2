//! Catalogue queries: builders for the sequence / topic / ontology filters and their exact JSON.
//!
//! The server splices keys into SQL and (legacy) dies on an empty `$in`, so everything is validated
//! here before it is sent. Creation times are nanoseconds in this API; the legacy dialect receives
//! milliseconds (`created_timestamp`), the current one nanoseconds (`created_at_ns`). What a query
//! names is checked against the server's ontology first (`check`), raw bodies by key (`raw`).

mod check;
pub mod pattern;
mod raw;

pub use check::{closest, Resolved};

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};
use crate::names;
use crate::protocol::Generation;

/// One comparison. Values are JSON scalars; integers and floats differ to the server.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Eq(Value),
    Neq(Value),
    Lt(Value),
    Leq(Value),
    Gt(Value),
    Geq(Value),
    Between(Value, Value),
    /// Current generation only: outside `[lo, hi]`.
    Outside(Value, Value),
    In(Vec<Value>),
    /// The same on both generations: `*` any run, `?` one character, against the whole value;
    /// without either, a substring (see [`pattern`]).
    Match(String),
    Exists,
    NotExists,
}

impl Op {
    fn name(&self) -> &'static str {
        match self {
            Op::Eq(_) => "$eq",
            Op::Neq(_) => "$neq",
            Op::Lt(_) => "$lt",
            Op::Leq(_) => "$leq",
            Op::Gt(_) => "$gt",
            Op::Geq(_) => "$geq",
            Op::Between(..) => "$between",
            Op::Outside(..) => "$outside",
            Op::In(_) => "$in",
            Op::Match(_) => "$match",
            Op::Exists => "$ex",
            Op::NotExists => "$nex",
        }
    }

    fn to_json(&self, field: &str) -> Result<Value> {
        let scalar = |v: &Value| -> Result<Value> {
            if v.is_object() || v.is_array() || v.is_null() {
                return Err(Error::InvalidQuery(format!(
                    "{field}: {} takes a number, string or boolean",
                    self.name()
                )));
            }
            Ok(v.clone())
        };
        Ok(match self {
            Op::Eq(v) | Op::Neq(v) | Op::Lt(v) | Op::Leq(v) | Op::Gt(v) | Op::Geq(v) => {
                json!({ self.name(): scalar(v)? })
            }
            Op::Between(a, b) | Op::Outside(a, b) => {
                if let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) {
                    if x > y {
                        return Err(Error::InvalidQuery(format!(
                            "{field}: range [{a}, {b}] is empty (min > max)"
                        )));
                    }
                }
                json!({ self.name(): [scalar(a)?, scalar(b)?] })
            }
            Op::In(items) => {
                if items.is_empty() {
                    // mosaicod indexes items[0] unchecked and aborts the whole process (§12.17).
                    return Err(Error::InvalidQuery(format!(
                        "{field}: `$in` needs at least one value"
                    )));
                }
                let items: Result<Vec<Value>> = items.iter().map(scalar).collect();
                json!({ "$in": items? })
            }
            Op::Match(s) => json!({ "$match": s }),
            Op::Exists => json!({ "$ex": null }),
            Op::NotExists => json!({ "$nex": null }),
        })
    }

    /// Parses `OP` from the command-line form used by `mosaico-bridge query`: `value` (equality),
    /// `>5`, `>=5`, `<5`, `<=5`, `!=x`, `~text` (match), `a..b` (between), `a|b|c` (in).
    pub fn parse_cli(s: &str) -> Op {
        let v = |t: &str| -> Value {
            serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.to_string()))
        };
        if let Some(r) = s.strip_prefix(">=") {
            Op::Geq(v(r))
        } else if let Some(r) = s.strip_prefix("<=") {
            Op::Leq(v(r))
        } else if let Some(r) = s.strip_prefix("!=") {
            Op::Neq(v(r))
        } else if let Some(r) = s.strip_prefix('>') {
            Op::Gt(v(r))
        } else if let Some(r) = s.strip_prefix('<') {
            Op::Lt(v(r))
        } else if let Some(r) = s.strip_prefix('~') {
            Op::Match(r.to_string())
        } else if let Some((a, b)) = s.split_once("..") {
            Op::Between(v(a), v(b))
        } else if s.contains('|') {
            Op::In(s.split('|').map(v).collect())
        } else {
            Op::Eq(v(s))
        }
    }
}

/// Filters on sequences (`name`, creation time, user metadata).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SequenceFilter {
    pub name: Option<Op>,
    /// Creation time in nanoseconds since the Unix epoch.
    pub created_ns: Option<Op>,
    pub user_metadata: Vec<(String, Op)>,
}

/// Filters on topics; `name` is relative to its sequence with a leading `/` (e.g. `/front/imu`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TopicFilter {
    pub name: Option<Op>,
    pub created_ns: Option<Op>,
    pub ontology_tag: Option<Op>,
    pub serialization_format: Option<Op>,
    pub user_metadata: Vec<(String, Op)>,
}

/// A whole catalogue query. `raw` replaces the builders with a JSON body sent as given (after the
/// same safety checks).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    pub sequence: Option<SequenceFilter>,
    pub topic: Option<TopicFilter>,
    /// `<tag>.<field path>` → comparison, e.g. `IMU.acceleration.x` (`imu.acceleration.x` on legacy).
    pub ontology: Vec<(String, Op)>,
    pub raw: Option<Value>,
}

impl Query {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn sequence(mut self, f: SequenceFilter) -> Self {
        self.sequence = Some(f);
        self
    }
    pub fn topic(mut self, f: TopicFilter) -> Self {
        self.topic = Some(f);
        self
    }
    pub fn ontology(mut self, key: impl Into<String>, op: Op) -> Self {
        self.ontology.push((key.into(), op));
        self
    }
    pub fn raw(v: Value) -> Self {
        Query {
            raw: Some(v),
            ..Default::default()
        }
    }

    /// The request body for a server of `generation`, after [`Query::resolve`] (its notes are
    /// logged; the CLI resolves first and shows them).
    pub fn to_json(&self, generation: Generation) -> Result<Value> {
        let resolved = self.resolve(generation)?;
        for n in &resolved.notes {
            tracing::warn!("query: {n}");
        }
        resolved.query.body(generation)
    }

    /// The answer narrowed to this query's `~` patterns on names (the legacy server's `$match`
    /// is a substring of the pattern's longest literal piece, see [`pattern`]).
    pub fn narrow(&self, mut items: Vec<QueryItem>) -> Vec<QueryItem> {
        if self.raw.is_some() {
            return items;
        }
        if let Some(Op::Match(p)) = self.sequence.as_ref().and_then(|s| s.name.as_ref()) {
            items.retain(|i| pattern::matches(p, &i.sequence));
        }
        if let Some(Op::Match(p)) = self.topic.as_ref().and_then(|t| t.name.as_ref()) {
            for i in &mut items {
                let prefix = format!("{}/", i.sequence);
                i.topics.retain(|t| {
                    let rel = t.locator.strip_prefix(&prefix).unwrap_or(&t.locator);
                    pattern::matches(p, &format!("/{}", rel.trim_start_matches('/')))
                });
            }
            items.retain(|i| !i.topics.is_empty());
        }
        items
    }

    fn body(&self, generation: Generation) -> Result<Value> {
        if let Some(raw) = &self.raw {
            return Ok(raw.clone());
        }
        let legacy = generation == Generation::Legacy;
        let created_key = if legacy {
            "created_timestamp"
        } else {
            "created_at_ns"
        };
        let created = |op: &Op| -> Op {
            // ns → ms on legacy, for numeric operands
            let conv = |v: &Value| -> Value {
                match (legacy, v.as_i64()) {
                    (true, Some(ns)) => json!(ns / 1_000_000),
                    _ => v.clone(),
                }
            };
            match op {
                Op::Eq(v) => Op::Eq(conv(v)),
                Op::Neq(v) => Op::Neq(conv(v)),
                Op::Lt(v) => Op::Lt(conv(v)),
                Op::Leq(v) => Op::Leq(conv(v)),
                Op::Gt(v) => Op::Gt(conv(v)),
                Op::Geq(v) => Op::Geq(conv(v)),
                Op::Between(a, b) => Op::Between(conv(a), conv(b)),
                Op::Outside(a, b) => Op::Outside(conv(a), conv(b)),
                o => o.clone(),
            }
        };
        let check = |field: &str, op: &Op, kind: FieldKind| -> Result<Value> {
            allowed(generation, field, op, kind)?;
            match op {
                Op::Match(p) => Op::Match(pattern::for_server(p, generation)).to_json(field),
                op => op.to_json(field),
            }
        };
        let metadata = |section: &str, md: &[(String, Op)]| -> Result<Value> {
            let mut m = Map::new();
            for (k, op) in md {
                let field = format!("{section}.user_metadata.{k}");
                names::query_key(k)?;
                m.insert(k.clone(), check(&field, op, FieldKind::Metadata)?);
            }
            Ok(Value::Object(m))
        };
        let mut body = Map::new();
        if let Some(s) = &self.sequence {
            let mut m = Map::new();
            if let Some(op) = &s.name {
                m.insert("name".into(), check("sequence.name", op, FieldKind::Text)?);
            }
            if let Some(op) = &s.created_ns {
                m.insert(
                    created_key.into(),
                    check("sequence.created", &created(op), FieldKind::Time)?,
                );
            }
            if !s.user_metadata.is_empty() {
                m.insert(
                    "user_metadata".into(),
                    metadata("sequence", &s.user_metadata)?,
                );
            }
            body.insert("sequence".into(), Value::Object(m));
        }
        if let Some(t) = &self.topic {
            let mut m = Map::new();
            if let Some(op) = &t.name {
                m.insert("name".into(), check("topic.name", op, FieldKind::Text)?);
            }
            if let Some(op) = &t.created_ns {
                m.insert(
                    created_key.into(),
                    check("topic.created", &created(op), FieldKind::Time)?,
                );
            }
            if let Some(op) = &t.ontology_tag {
                m.insert(
                    "ontology_tag".into(),
                    check("topic.ontology_tag", op, FieldKind::Text)?,
                );
            }
            if let Some(op) = &t.serialization_format {
                m.insert(
                    "serialization_format".into(),
                    check("topic.serialization_format", op, FieldKind::Text)?,
                );
            }
            if !t.user_metadata.is_empty() {
                m.insert("user_metadata".into(), metadata("topic", &t.user_metadata)?);
            }
            body.insert("topic".into(), Value::Object(m));
        }
        if !self.ontology.is_empty() {
            let mut m = Map::new();
            for (k, op) in &self.ontology {
                names::query_key(k)?;
                if !k.contains('.') {
                    return Err(Error::InvalidQuery(format!(
                        "ontology key {k:?} must be `<tag>.<field path>`, e.g. `IMU.acceleration.x`"
                    )));
                }
                m.insert(
                    k.clone(),
                    check(&format!("ontology.{k}"), op, FieldKind::Ontology)?,
                );
            }
            body.insert("ontology".into(), Value::Object(m));
        }
        if body.is_empty() {
            return Err(Error::InvalidQuery(
                "an empty query matches nothing on the server: give at least one filter".into(),
            ));
        }
        Ok(Value::Object(body))
    }
}

#[derive(Clone, Copy)]
enum FieldKind {
    Text,
    Time,
    Metadata,
    Ontology,
}

/// The operators each field accepts (legacy: the server's own rules, §6.1; current: the SDK's).
fn allowed(g: Generation, field: &str, op: &Op, kind: FieldKind) -> Result<()> {
    use Op::*;
    let ok = match (g, kind) {
        (_, FieldKind::Text) => {
            matches!(op, Eq(_) | Neq(_) | In(_) | Match(_) | Exists | NotExists)
        }
        (Generation::Legacy, FieldKind::Time) => {
            matches!(
                op,
                Eq(_) | Neq(_) | Lt(_) | Leq(_) | Gt(_) | Geq(_) | Between(..) | Exists | NotExists
            )
        }
        (Generation::Legacy, FieldKind::Metadata) => !matches!(op, In(_) | Match(_) | Outside(..)),
        (Generation::Legacy, FieldKind::Ontology) => {
            matches!(op, Lt(_) | Leq(_) | Gt(_) | Geq(_) | Between(..) | Eq(_))
        }
        (Generation::Current, _) => !matches!(op, Exists | NotExists),
    };
    let ok = ok && !(g == Generation::Legacy && matches!(op, Outside(..)));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidQuery(format!(
            "{field}: `{}` is not supported by a {g} server",
            op.name()
        )))
    }
}

/// A query hit: a sequence and its matching topics (full locators `seq/topic`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryItem {
    pub sequence: String,
    pub topics: Vec<QueryTopic>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryTopic {
    pub locator: String,
    pub ontology_tag: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q() -> Query {
        Query::new()
            .sequence(SequenceFilter {
                name: Some(Op::Match("run".into())),
                created_ns: Some(Op::Geq(json!(1_700_000_000_123_000_000i64))),
                user_metadata: vec![("driver.name".into(), Op::Eq(json!("jon")))],
            })
            .topic(TopicFilter {
                ontology_tag: Some(Op::Eq(json!("imu"))),
                ..Default::default()
            })
            .ontology("imu.acceleration.x", Op::Gt(json!(5.0)))
    }

    #[test]
    fn legacy_body_is_exact() {
        let body = q().to_json(Generation::Legacy).unwrap();
        assert_eq!(
            body,
            json!({
                "sequence": {"name": {"$match": "run"}, "created_timestamp": {"$geq": 1_700_000_000_123i64},
                             "user_metadata": {"driver.name": {"$eq": "jon"}}},
                "topic": {"ontology_tag": {"$eq": "imu"}},
                "ontology": {"imu.acceleration.x": {"$gt": 5.0}}
            })
        );
    }

    #[test]
    fn current_body_uses_ns() {
        let body = q().to_json(Generation::Current).unwrap();
        assert_eq!(
            body["sequence"]["created_at_ns"],
            json!({"$geq": 1_700_000_000_123_000_000i64})
        );
        assert!(body["sequence"].get("created_timestamp").is_none());
    }

    #[test]
    fn refuses_what_breaks_the_server() {
        let empty_in = Query::new().sequence(SequenceFilter {
            name: Some(Op::In(vec![])),
            ..Default::default()
        });
        assert!(empty_in.to_json(Generation::Legacy).is_err());
        assert!(empty_in.to_json(Generation::Current).is_err());
        let quote = Query::new().ontology("imu.x'; drop", Op::Gt(json!(1)));
        assert!(quote.to_json(Generation::Legacy).is_err());
        assert!(Query::new().to_json(Generation::Legacy).is_err());
        let raw = Query::raw(json!({"sequence": {"name": {"$in": []}}}));
        assert!(raw.to_json(Generation::Legacy).is_err());
        let raw = Query::raw(json!({"sequence": {"user_metadata": {"a\"b": {"$eq": 1}}}}));
        assert!(raw.to_json(Generation::Legacy).is_err());
        // legacy rejects these server-side; say so before sending
        let neq = Query::new().ontology("imu.acceleration.x", Op::Neq(json!(1)));
        assert!(neq.to_json(Generation::Legacy).is_err());
        assert!(neq.to_json(Generation::Current).is_ok());
        let md_in = Query::new().sequence(SequenceFilter {
            user_metadata: vec![("a".into(), Op::In(vec![json!(1)]))],
            ..Default::default()
        });
        assert!(md_in.to_json(Generation::Legacy).is_err());
        let bad_range =
            Query::new().ontology("IMU.acceleration.x", Op::Between(json!(5), json!(1)));
        assert!(bad_range.to_json(Generation::Current).is_err());
    }

    #[test]
    fn cli_operators() {
        assert_eq!(Op::parse_cli(">=5"), Op::Geq(json!(5)));
        assert_eq!(Op::parse_cli("jon"), Op::Eq(json!("jon")));
        assert_eq!(Op::parse_cli("1..2.5"), Op::Between(json!(1), json!(2.5)));
        assert_eq!(Op::parse_cli("a|b"), Op::In(vec![json!("a"), json!("b")]));
        assert_eq!(Op::parse_cli("~run"), Op::Match("run".into()));
        assert_eq!(Op::parse_cli("true"), Op::Eq(json!(true)));
    }
}
