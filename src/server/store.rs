//! The test server's state: sequences, sessions, topics and their data, in memory. No I/O here;
//! the Flight layer turns requests into calls on [`Store`] and its errors into gRPC statuses.

use std::collections::BTreeMap;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use serde_json::Value;

use crate::ontology::SerializationFormat;

/// The catalogue's "no such row" text, as mosaicod words it.
pub const NOT_FOUND: &str =
    "facade error :: repository error :: backend error :: no rows returned by a query that expected to return at least one row";
pub const SEQUENCE_LOCKED: &str =
    "facade error :: sequence locked, unable to perform modifications";
pub const SESSION_LOCKED: &str = "facade error :: session locked, unable to perform modifications";
pub const TOPIC_UNLOCKED: &str = "facade error :: topic unlocked, unable to perform the requested operation over an unlocked topic";
pub const IS_LOCKED: &str = "sequence is locked";
pub const UNAUTHORIZED: &str = "facade error :: unauthorized";

/// A server-side failure: the gRPC code class and mosaicod's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Everything mosaicod reports (it uses INTERNAL for all of it).
    Internal(String),
    InvalidArgument(String),
    Unauthenticated(String),
    /// The process is gone (after the documented `$in: []` crash).
    Dead,
}

impl Fault {
    pub fn internal(s: impl Into<String>) -> Self {
        Fault::Internal(s.into())
    }
}

pub type Outcome<T> = std::result::Result<T, Fault>;

#[derive(Debug, Clone)]
pub struct Notice {
    pub kind: String,
    pub msg: String,
    pub created_ms: i64,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub uuid: String,
    pub locator: String,
    pub created_ns: i64,
    pub completed_ns: Option<i64>,
    pub locked: bool,
}

#[derive(Debug, Clone)]
pub struct Sequence {
    pub name: String,
    /// Legacy write key.
    pub key: String,
    pub user_metadata: Value,
    pub created_ns: i64,
    /// Legacy: finalized. Current: derived from the sessions.
    pub locked: bool,
    pub sessions: Vec<Session>,
    pub notices: Vec<Notice>,
}

#[derive(Debug, Clone)]
pub struct Topic {
    pub locator: String,
    pub sequence: String,
    /// Current: the session uuid the topic belongs to.
    pub session: Option<String>,
    pub key: String,
    pub tag: String,
    pub format: SerializationFormat,
    pub user_metadata: Value,
    pub created_ns: i64,
    pub completed_ns: Option<i64>,
    pub locked: bool,
    /// Set by the last clean end of a DoPut (`None`: never written).
    pub schema: Option<SchemaRef>,
    pub batches: Vec<RecordBatch>,
    /// Size of the committed data as stored: its Arrow IPC encoding (mosaicod counts the bytes of
    /// the chunk files it wrote; the test server measures its own encoding, never the client's
    /// in-memory estimate).
    pub stored_bytes: u64,
    /// Chunk rows: one per committed DoPut with data (re-puts add stale ones, as on mosaicod).
    pub chunks: u64,
    pub notices: Vec<Notice>,
    /// The data objects were removed behind the catalogue's back (the empty-name delete quirk).
    pub data_lost: bool,
}

impl Topic {
    pub fn rows(&self) -> u64 {
        self.batches.iter().map(|b| b.num_rows() as u64).sum()
    }
    pub fn bytes(&self) -> u64 {
        self.stored_bytes
    }
    pub fn has_data(&self) -> bool {
        self.rows() > 0 && !self.data_lost
    }
    /// `[min, max]` of `timestamp_ns`.
    pub fn interval(&self) -> Option<(i64, i64)> {
        use arrow::array::{Array, Int64Array};
        let mut out: Option<(i64, i64)> = None;
        for b in &self.batches {
            if let Some(ts) = b
                .column_by_name("timestamp_ns")
                .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
            {
                for t in ts.iter().flatten() {
                    out = Some(out.map_or((t, t), |(a, z)| (a.min(t), z.max(t))));
                }
            }
        }
        out.filter(|_| !self.data_lost)
    }
}

#[derive(Debug, Default)]
pub struct Store {
    pub sequences: BTreeMap<String, Sequence>,
    pub topics: BTreeMap<String, Topic>,
    pub layers: BTreeMap<String, String>,
    /// Set when a request would have crashed mosaicod: every later call fails.
    pub dead: bool,
}

/// mosaicod's name sanitising: trim whitespace, drop one leading `/`.
pub fn sanitize(name: &str) -> String {
    let t = name.trim();
    t.strip_prefix('/').unwrap_or(t).to_string()
}

pub fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

/// chrono's `DateTime<Utc>` display of a millisecond timestamp (fraction omitted when zero).
pub fn datetime_display(ns: i64) -> String {
    let ms = ns.div_euclid(1_000_000);
    let dt = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
    if ms % 1000 == 0 {
        dt.format("%Y-%m-%d %H:%M:%S UTC").to_string()
    } else {
        dt.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string()
    }
}

pub fn check_key(given: &str, expected: &str) -> Outcome<()> {
    match uuid::Uuid::parse_str(given) {
        Err(e) => Err(Fault::internal(format!("malformed key :: {e}"))),
        Ok(u) if u.to_string() == expected => Ok(()),
        Ok(_) => Err(Fault::internal("bad key")),
    }
}

impl Store {
    pub fn new() -> Self {
        let mut s = Store::default();
        s.layers.insert("default".into(), "Default layer".into());
        s
    }

    pub fn sequence(&self, name: &str) -> Outcome<&Sequence> {
        self.sequences
            .get(name)
            .ok_or_else(|| Fault::internal(NOT_FOUND))
    }

    pub fn sequence_mut(&mut self, name: &str) -> Outcome<&mut Sequence> {
        self.sequences
            .get_mut(name)
            .ok_or_else(|| Fault::internal(NOT_FOUND))
    }

    pub fn topic(&self, locator: &str) -> Outcome<&Topic> {
        self.topics
            .get(locator)
            .ok_or_else(|| Fault::internal(NOT_FOUND))
    }

    pub fn topic_mut(&mut self, locator: &str) -> Outcome<&mut Topic> {
        self.topics
            .get_mut(locator)
            .ok_or_else(|| Fault::internal(NOT_FOUND))
    }

    pub fn topics_of<'a>(&'a self, sequence: &'a str) -> impl Iterator<Item = &'a Topic> + 'a {
        self.topics.values().filter(move |t| t.sequence == sequence)
    }

    pub fn create_sequence(&mut self, name: &str, user_metadata: Value) -> Outcome<&Sequence> {
        if self.sequences.contains_key(name) {
            return Err(Fault::internal(format!("sequence `{name}` already exists")));
        }
        let seq = Sequence {
            name: name.to_string(),
            key: uuid::Uuid::new_v4().to_string(),
            user_metadata,
            created_ns: now_ns(),
            locked: false,
            sessions: Vec::new(),
            notices: Vec::new(),
        };
        Ok(self.sequences.entry(name.to_string()).or_insert(seq))
    }

    #[allow(clippy::too_many_arguments)]
    pub fn create_topic(
        &mut self,
        sequence: &str,
        session: Option<String>,
        locator: &str,
        tag: &str,
        format: SerializationFormat,
        user_metadata: Value,
    ) -> Outcome<&Topic> {
        // mosaicod tests a string prefix, not a path (§10.1).
        if !locator.starts_with(sequence) {
            return Err(Fault::internal(UNAUTHORIZED));
        }
        if self.topics.contains_key(locator) {
            return Err(Fault::internal(format!("topic `{locator}` already exists")));
        }
        let t = Topic {
            locator: locator.to_string(),
            sequence: sequence.to_string(),
            session,
            key: uuid::Uuid::new_v4().to_string(),
            tag: tag.to_string(),
            format,
            user_metadata,
            created_ns: now_ns(),
            completed_ns: None,
            locked: false,
            schema: None,
            batches: Vec::new(),
            stored_bytes: 0,
            chunks: 0,
            notices: Vec::new(),
            data_lost: false,
        };
        Ok(self.topics.entry(locator.to_string()).or_insert(t))
    }

    /// Removes a sequence with all its topics (no lock checks: callers decide).
    pub fn remove_sequence(&mut self, name: &str) {
        self.sequences.remove(name);
        self.topics.retain(|_, t| t.sequence != name);
    }

    /// The empty-name delete quirk (§12a): every data object goes, catalogue rows stay.
    pub fn wipe_objects(&mut self) {
        for t in self.topics.values_mut() {
            t.batches.clear();
            t.data_lost = true;
        }
    }

    /// Commits a DoPut: the data replaces what was there and the topic locks.
    pub fn commit(
        &mut self,
        locator: &str,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Outcome<()> {
        self.write(locator, schema, batches)?;
        let t = self.topic_mut(locator)?;
        t.locked = true;
        t.completed_ns = Some(now_ns());
        Ok(())
    }

    /// What mosaicod does with a stream the client reset (measured): tonic hands it the reset as
    /// an end of stream, so it writes the data file and its chunk row, and hyper drops it before
    /// the lock. The data is there and DoGet reads it; the topic stays unlocked.
    pub fn write_reset(
        &mut self,
        locator: &str,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Outcome<()> {
        self.write(locator, schema, batches)
    }

    fn write(
        &mut self,
        locator: &str,
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Outcome<()> {
        let t = self.topic_mut(locator)?;
        let batches: Vec<RecordBatch> = batches.into_iter().filter(|b| b.num_rows() > 0).collect();
        let has_rows = !batches.is_empty();
        t.stored_bytes = encoded_bytes(&schema, &batches)
            .map_err(|e| Fault::internal(format!("writer error :: {e}")))?;
        t.schema = Some(schema);
        t.batches = batches;
        t.data_lost = false;
        if has_rows {
            t.chunks += 1;
        }
        Ok(())
    }

    /// Bytes under a topic path, nested topics included (mosaicod lists the prefix recursively).
    pub fn topic_tree_bytes(&self, locator: &str) -> (u64, u64) {
        let prefix = format!("{locator}/");
        self.topics
            .values()
            .filter(|t| t.locator == locator || t.locator.starts_with(&prefix))
            .fold((0, 0), |(c, b), t| {
                (c + if t.has_data() { t.chunks } else { 0 }, b + t.bytes())
            })
    }

    pub fn sequence_bytes(&self, name: &str) -> u64 {
        self.topics_of(name).map(Topic::bytes).sum()
    }
}

/// Length of `batches` as one Arrow IPC stream.
fn encoded_bytes(
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<u64, arrow::error::ArrowError> {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len() as u64;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    if batches.is_empty() {
        return Ok(0);
    }
    let mut w = arrow::ipc::writer::StreamWriter::try_new(Count(0), schema)?;
    for b in batches {
        w.write(b)?;
    }
    w.finish()?;
    Ok(w.into_inner()?.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_keys_and_displays_follow_mosaicod() {
        assert_eq!(sanitize("  /run_1 "), "run_1");
        assert_eq!(sanitize("//a"), "/a", "only one leading slash goes");
        let k = uuid::Uuid::new_v4().to_string();
        assert!(check_key(&k, &k).is_ok());
        assert_eq!(
            check_key(&uuid::Uuid::new_v4().to_string(), &k),
            Err(Fault::internal("bad key"))
        );
        assert!(
            matches!(check_key("nope", &k), Err(Fault::Internal(m)) if m.starts_with("malformed key :: "))
        );
        assert_eq!(
            datetime_display(1_765_432_101_234_000_000),
            "2025-12-11 05:48:21.234 UTC"
        );
        assert_eq!(
            datetime_display(1_765_432_101_000_000_000),
            "2025-12-11 05:48:21 UTC"
        );
    }

    #[test]
    fn topics_belong_by_prefix_and_lock_on_commit() {
        let mut s = Store::new();
        s.create_sequence("run", json!({})).unwrap();
        assert_eq!(
            s.create_topic(
                "run",
                None,
                "other/imu",
                "imu",
                SerializationFormat::Default,
                json!({})
            )
            .unwrap_err(),
            Fault::internal(UNAUTHORIZED)
        );
        s.create_topic(
            "run",
            None,
            "run/imu",
            "imu",
            SerializationFormat::Default,
            json!({}),
        )
        .unwrap();
        assert!(s
            .create_topic(
                "run",
                None,
                "run/imu",
                "imu",
                SerializationFormat::Default,
                json!({})
            )
            .is_err());
        let schema = std::sync::Arc::new(arrow::datatypes::Schema::empty());
        s.commit("run/imu", schema, vec![]).unwrap();
        let t = s.topic("run/imu").unwrap();
        assert!(
            t.locked && t.chunks == 0 && !t.has_data(),
            "an empty stream locks but writes no chunk"
        );
    }
}
