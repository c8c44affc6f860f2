//! Protocol generations. Every difference between the legacy (snapshot mosaicod) and the current
//! (SDK 0.7) wire protocol lives behind [`Protocol`]; the rest of the client speaks in sequences,
//! sessions and topics.

pub mod current;
pub mod detect;
pub mod legacy;

use arrow_flight::{FlightDescriptor, Ticket};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::control::ControlPlane;
use crate::error::Result;
use crate::ontology::{Ontology, SerializationFormat};
use crate::query::{Query, QueryItem};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Generation {
    /// The public mosaicod snapshot (SDK 0.1): keys, `sequence_finalize`, PATH descriptors.
    Legacy,
    /// Today's servers (SDK 0.7): `info`, sessions, locators, CMD descriptors, API keys.
    Current,
}

impl std::str::FromStr for Generation {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "legacy" => Ok(Generation::Legacy),
            "current" => Ok(Generation::Current),
            o => Err(format!(
                "unknown protocol generation `{o}` (expected legacy or current)"
            )),
        }
    }
}

impl std::fmt::Display for Generation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Generation::Legacy => "legacy",
            Generation::Current => "current",
        })
    }
}

/// What the server said about itself at connect time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    pub generation: Generation,
    pub version: Option<String>,
    /// The server's gRPC decode limit: the largest message we may send.
    pub max_decode_bytes: usize,
    /// The server's gRPC encode limit: the largest message it may send us.
    pub max_encode_bytes: usize,
    /// The largest record (one row) the server both accepts and serves back: the decode limit,
    /// or less where the server cannot read larger rows back (legacy: its DoGet target size).
    pub max_record_bytes: usize,
}

/// A write session: on legacy the sequence key; on current a session of a sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub sequence: String,
    /// Legacy: the sequence key. Current: the session uuid.
    pub key: String,
    /// Current only: `seq:<ULID>`.
    pub locator: Option<String>,
    /// Whether this session created the sequence (current: discarding deletes the sequence too).
    pub created_sequence: bool,
}

/// A created topic ready for its one DoPut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicKey {
    pub locator: String,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub name: String,
    pub kind: String,
    pub msg: String,
    pub created: String,
}

/// Where a notification hangs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Sequence,
    Topic,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionInfo {
    pub locator: String,
    pub created_at_ns: Option<i64>,
    pub completed_at_ns: Option<i64>,
    pub locked: bool,
    pub topics: Vec<String>,
}

/// A sequence as the catalogue knows it. Fields a generation does not report are `None`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SequenceInfo {
    pub name: String,
    pub user_metadata: Value,
    /// Topic names relative to the sequence, with a leading `/`.
    pub topics: Vec<String>,
    pub locked: Option<bool>,
    pub total_size_bytes: Option<u64>,
    /// Creation time as the server reports it (legacy: display string; current: from ns).
    pub created: Option<String>,
    pub created_at_ns: Option<i64>,
    pub sessions: Vec<SessionInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopicInfo {
    pub sequence: String,
    /// Relative to the sequence, with a leading `/`.
    pub topic: String,
    pub locator: String,
    pub ontology_tag: String,
    pub serialization_format: SerializationFormat,
    pub user_metadata: Value,
    pub locked: Option<bool>,
    pub total_size_bytes: Option<u64>,
    pub chunks: Option<u64>,
    pub row_count: Option<u64>,
    /// `[start_ns, end_ns]` of the data, when the server reports it.
    pub interval: Option<(i64, i64)>,
    pub created: Option<String>,
}

/// A time window on `timestamp_ns`: start inclusive, end exclusive (the current server's rule).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub start_ns: Option<i64>,
    pub end_ns: Option<i64>,
}

impl TimeRange {
    pub fn is_all(&self) -> bool {
        self.start_ns.is_none() && self.end_ns.is_none()
    }
    pub fn contains(&self, t: i64) -> bool {
        self.start_ns.is_none_or(|s| t >= s) && self.end_ns.is_none_or(|e| t < e)
    }
}

/// How to read one topic: the tickets to DoGet, and whether the window must still be applied
/// client-side (legacy servers have no server-side slicing).
#[derive(Debug, Clone)]
pub struct ReadPlan {
    pub tickets: Vec<Ticket>,
    pub client_window: Option<TimeRange>,
    /// The topic has no data (current servers report no interval): nothing to DoGet.
    pub empty: bool,
}

/// The one place where protocol generations differ.
#[async_trait]
pub trait Protocol: Send + Sync + std::fmt::Debug {
    fn generation(&self) -> Generation;

    fn ontology(&self) -> &'static Ontology {
        Ontology::for_generation(self.generation())
    }

    /// Creates a sequence and opens a write session on it.
    async fn create_sequence(
        &self,
        ctrl: &ControlPlane,
        name: &str,
        user_metadata: &Value,
    ) -> Result<Session>;

    /// Opens a new write session on an existing sequence (current only; new topic names only).
    async fn open_session(&self, ctrl: &ControlPlane, name: &str) -> Result<Session>;

    async fn create_topic(
        &self,
        ctrl: &ControlPlane,
        session: &Session,
        locator: &str,
        ontology_tag: &str,
        format: SerializationFormat,
        user_metadata: &Value,
    ) -> Result<TopicKey>;

    /// The CMD descriptor that opens a topic's DoPut.
    fn put_descriptor(&self, topic: &TopicKey) -> FlightDescriptor;

    /// Commits the session: every topic's stream must have completed.
    async fn finalize(&self, ctrl: &ControlPlane, session: &Session) -> Result<()>;

    /// Deletes what the session wrote (error policy Delete).
    async fn discard(&self, ctrl: &ControlPlane, session: &Session) -> Result<()>;

    /// Records an error on the sequence and leaves its data for inspection (error policy Report).
    async fn report(&self, ctrl: &ControlPlane, session: &Session, msg: &str) -> Result<()>;

    async fn notify(
        &self,
        ctrl: &ControlPlane,
        target: Target,
        locator: &str,
        msg: &str,
    ) -> Result<()>;
    async fn list_notifications(
        &self,
        ctrl: &ControlPlane,
        target: Target,
        locator: &str,
    ) -> Result<Vec<Notification>>;
    async fn purge_notifications(
        &self,
        ctrl: &ControlPlane,
        target: Target,
        locator: &str,
    ) -> Result<()>;

    async fn delete_sequence(&self, ctrl: &ControlPlane, name: &str) -> Result<()>;
    async fn delete_topic(&self, ctrl: &ControlPlane, locator: &str) -> Result<()>;

    async fn sequence_info(&self, ctrl: &ControlPlane, name: &str) -> Result<SequenceInfo>;
    async fn topic_info(&self, ctrl: &ControlPlane, locator: &str) -> Result<TopicInfo>;

    /// Sequence names, locked or not.
    async fn list_sequences(&self, ctrl: &ControlPlane) -> Result<Vec<String>> {
        let infos = ctrl.list_flights().await?;
        let mut names: Vec<String> = infos
            .into_iter()
            .filter_map(|i| i.flight_descriptor.and_then(|d| d.path.into_iter().next()))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn read_plan(
        &self,
        ctrl: &ControlPlane,
        locator: &str,
        range: TimeRange,
    ) -> Result<ReadPlan>;

    /// The request body of a catalogue query in this generation's dialect.
    fn query_body(&self, q: &Query) -> Result<Value>;
    fn parse_query_reply(&self, reply: Option<Value>) -> Result<Vec<QueryItem>>;

    async fn query(&self, ctrl: &ControlPlane, q: &Query) -> Result<Vec<QueryItem>> {
        let body = self.query_body(q)?;
        let reply = ctrl.action_idempotent("query", &body, "").await?;
        self.parse_query_reply(reply)
    }
}

/// Reads a string field of a JSON reply, naming the action when it is missing.
pub(crate) fn str_field(v: &Value, key: &str, what: &str) -> Result<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| {
            crate::error::Error::protocol(what, format!("missing string field `{key}` in {v}"))
        })
}

/// The notifications of a list reply: `{LIST_KEY: [{"name", TYPE_KEY, "msg", "created_datetime"}]}`
/// (the generations differ only by these two keys); no reply or no list is none.
pub(crate) fn parse_notifications(
    kind: &str,
    reply: Option<&Value>,
    list_key: &str,
    type_key: &str,
) -> crate::error::Result<Vec<Notification>> {
    let Some(items) = reply
        .and_then(|r| r.get(list_key))
        .and_then(Value::as_array)
    else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .map(|n| {
            Ok(Notification {
                name: str_field(n, "name", kind)?,
                kind: str_field(n, type_key, kind)?,
                msg: str_field(n, "msg", kind)?,
                created: str_field(n, "created_datetime", kind)?,
            })
        })
        .collect()
}

/// Metadata the server must receive as a JSON object (`user_metadata` is required on create).
pub(crate) fn metadata_object(v: &Value) -> Value {
    if v.is_null() {
        Value::Object(Default::default())
    } else {
        v.clone()
    }
}
