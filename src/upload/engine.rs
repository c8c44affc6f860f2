//! The one upload engine: messages of a bag or spool segment (raw CDR with their channel) are
//! routed per topic to [`run_topic`], which converts them in the worker pool and writes the batches
//! into one part (a [`SequenceWriter`]). Import, the live recorder's uploader, crash recovery and
//! `spool upload` all run this, with a different source.
//!
//! The source is read on a blocking thread with bounded channels to the topic tasks, so memory is
//! bounded whatever the source's size; a fault (the server or connection gone) stops reading at
//! once, and the caller decides what to do with the part.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;
use regex::Regex;
use serde_json::Value;
use tokio::sync::mpsc;
use tracing::warn;

use crate::bag::reader::End;
use crate::bag::{BagError, BagMessage, SegmentReader};
use crate::error::{Error, Result};
use crate::handlers::{MosaicoClient, SequenceWriter};
use crate::ros::adapters::{
    adapter_or_raw, Adapter, AdapterOptions, RosTopicInfo, TimestampSource,
};
use crate::upload::latency::LatencyBook;
use crate::upload::pipe::{run_topic, Chunk, SequenceSink, TopicReport, TopicSink, TopicStats};

/// A chunk is sent to its topic's task at this many bytes or messages, whichever comes first.
/// Up to `CHUNKS_IN_FLIGHT` + 2 chunks of a topic are alive (waiting, converting, being filled):
/// at 4 MiB a multi-MB frame is one chunk, not two.
pub const CHUNK_BYTES: usize = 4 << 20;
pub const CHUNK_MESSAGES: usize = 20_000;
/// Chunks waiting per topic: the reader pauses beyond that (backpressure).
pub const CHUNKS_IN_FLIGHT: usize = 2;

/// How long topic tasks may take to end after an abort.
const ABORT_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Hands `chunk` to a topic task, waiting while its channel is full unless the upload is aborted;
/// `false` when it was not handed over.
fn send_unless_aborted(tx: &mpsc::Sender<Chunk>, mut chunk: Chunk, abort: &Abort) -> bool {
    loop {
        match tx.try_send(chunk) {
            Ok(()) => return true,
            Err(mpsc::error::TrySendError::Closed(_)) => return false,
            Err(mpsc::error::TrySendError::Full(c)) => {
                if abort.is_set() {
                    return false;
                }
                chunk = c;
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
    }
}

/// Errors that mean the server or the connection is gone, not that one topic misbehaved.
pub fn is_fault(e: &Error) -> bool {
    matches!(
        e,
        Error::Connect { .. }
            | Error::Timeout { .. }
            | Error::Transport { .. }
            | Error::Upload { .. }
            | Error::Server { .. }
            | Error::Closed(_)
            | Error::Unauthenticated { .. }
    )
}

/// Set once to stop an upload: by the engine on a fault, or by its caller (shutdown, a failed
/// health check). A live source's follower sees it too.
#[derive(Debug, Default, Clone)]
pub struct Abort(Arc<(AtomicBool, Mutex<Option<AbortReason>>)>);

/// The topic whose upload failed (if that was the cause), and why.
type AbortReason = (Option<String>, String);

impl Abort {
    pub fn new() -> Self {
        Self::default()
    }
    /// Stops the upload for `why`; the first reason stays.
    pub fn set(&self, why: impl Into<String>) {
        self.set_inner(None, why.into());
    }
    /// Stops the upload because writing `topic` failed.
    pub fn set_topic(&self, topic: &str, why: impl Into<String>) {
        self.set_inner(Some(topic.to_string()), why.into());
    }
    fn set_inner(&self, topic: Option<String>, why: String) {
        let mut r = self.0 .1.lock().expect("abort lock");
        if r.is_none() {
            *r = Some((topic, why));
        }
        self.0 .0.store(true, Ordering::Release);
    }
    pub fn is_set(&self) -> bool {
        self.0 .0.load(Ordering::Acquire)
    }
    pub fn reason(&self) -> Option<String> {
        self.0
             .1
            .lock()
            .expect("abort lock")
            .as_ref()
            .map(|r| r.1.clone())
    }
    /// The source topic whose upload failed first, when that is what stopped the upload.
    pub fn topic(&self) -> Option<String> {
        self.0
             .1
            .lock()
            .expect("abort lock")
            .as_ref()
            .and_then(|r| r.0.clone())
    }
}

/// Which topics of the source go into the part.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Anchored regexes; empty: every topic.
    pub include: Vec<Regex>,
    pub exclude: Vec<Regex>,
    /// Exact topic names left out (topics set aside after the server kept rejecting them).
    pub skip: BTreeSet<String>,
}

impl Selection {
    /// Compiles whole-name patterns; `what` names the option in errors.
    pub fn patterns(include: &[String], exclude: &[String], what: &str) -> Result<Self> {
        let anchored = |list: &[String]| -> Result<Vec<Regex>> {
            list.iter()
                .map(|p| {
                    Regex::new(&format!("^(?:{p})$"))
                        .map_err(|e| Error::Config(format!("{what} pattern `{p}`: {e}")))
                })
                .collect()
        };
        Ok(Selection {
            include: anchored(include)?,
            exclude: anchored(exclude)?,
            skip: BTreeSet::new(),
        })
    }

    fn keeps(&self, topic: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|r| r.is_match(topic)))
            && !self.exclude.iter().any(|r| r.is_match(topic))
            && !self.skip.contains(topic)
    }
}

/// The adapter options of each topic (image compression may differ per topic).
pub type AdapterChoice = Arc<dyn Fn(&str) -> AdapterOptions + Send + Sync>;

/// Messages of a bag or segment, in file order.
pub trait Source:
    Iterator<Item = std::result::Result<BagMessage, BagError>> + Send + 'static
{
    /// Where the source ended early (a cut file), once it is exhausted.
    fn cut(&self) -> Option<String> {
        None
    }
}

impl Source for SegmentReader {
    fn cut(&self) -> Option<String> {
        self.end().and_then(End::cut)
    }
}

/// Where the messages go: one part.
pub struct Target {
    pub writer: Arc<SequenceWriter>,
    /// Appended to every topic name (`__partN` on current servers).
    pub topic_suffix: String,
    /// User metadata of every topic created.
    pub topic_metadata: Value,
    /// Where to count receive→sent latency (spool segments: timestamps are receive times).
    pub latency: Option<Arc<LatencyBook>>,
    /// A live source's topic chunk is handed over once it spans this much time, whatever its
    /// size, so a slow topic reaches the server within about that (a bag's: by size only).
    pub max_chunk_age_ns: Option<i64>,
}

/// What one upload did.
#[derive(Debug, Clone, Default)]
pub struct EngineReport {
    /// Per source topic (without the part suffix).
    pub topics: Vec<TopicReport>,
    /// Topics of the source left out by the selection.
    pub filtered_out: Vec<String>,
    /// Messages read from the source.
    pub read: u64,
    /// Set when the upload stopped on a fault or an abort.
    pub fault: Option<String>,
    /// Set when the source ended early (a cut file), saying where.
    pub cut: Option<String>,
}

/// A sink that marks the whole upload as faulted when the server or connection fails.
struct FaultSink {
    inner: SequenceSink,
    topic: String,
    abort: Abort,
}

#[async_trait::async_trait]
impl TopicSink for FaultSink {
    async fn push(
        &mut self,
        adapter: &Adapter,
        info: &RosTopicInfo,
        batch: RecordBatch,
    ) -> Result<String> {
        let r = self.inner.push(adapter, info, batch).await;
        if let Err(e) = &r {
            if is_fault(e) {
                self.abort.set_topic(
                    &self.topic,
                    format!("upload of {} failed: {e}", self.inner.name),
                );
            }
        }
        r
    }
}

struct TopicTask {
    tx: mpsc::Sender<Chunk>,
    pending: Chunk,
    stats: Arc<TopicStats>,
}

/// A topic to start: its name, what is known of it, its chunks, its counters, and the timestamp
/// choice its spool channel was recorded with.
type Spawn = (
    String,
    RosTopicInfo,
    mpsc::Receiver<Chunk>,
    Arc<TopicStats>,
    Option<TimestampSource>,
);

/// Uploads every selected message of `source` into `target`; `progress(messages_read)` is called
/// as the reader goes. Returns `Err` only when the source itself cannot be read.
pub async fn upload<S>(
    client: &MosaicoClient,
    source: S,
    target: Target,
    selection: Selection,
    adapters: AdapterChoice,
    abort: Abort,
    progress: impl Fn(u64) + Send + Sync + 'static,
) -> Result<EngineReport>
where
    S: Source,
{
    let (spawn_tx, mut spawn_rx) = mpsc::unbounded_channel::<Spawn>();
    let reader = {
        let abort = abort.clone();
        let latency = target.latency.clone();
        let max_age = target.max_chunk_age_ns;
        tokio::task::spawn_blocking(
            move || -> std::result::Result<(Vec<String>, u64, Option<String>), BagError> {
                let mut source = source;
                let mut tasks: HashMap<u16, Option<TopicTask>> = HashMap::new();
                let mut filtered = Vec::new();
                let mut read = 0u64;
                for m in source.by_ref() {
                    if abort.is_set() {
                        break;
                    }
                    let m = m?;
                    read += 1;
                    if read.is_multiple_of(4096) {
                        progress(read);
                    }
                    let task = tasks.entry(m.channel.id).or_insert_with(|| {
                        let c = &m.channel;
                        if !selection.keeps(&c.topic) {
                            filtered.push(c.topic.clone());
                            return None;
                        }
                        let info = RosTopicInfo {
                            ros_type: c.ros_type.clone(),
                            definition: c.definition.clone(),
                            qos: c
                                .qos_yaml
                                .clone()
                                .filter(|q| !q.is_empty())
                                .map(Value::String),
                        };
                        let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
                        let recorded_as = c
                            .timestamp_source
                            .as_deref()
                            .and_then(TimestampSource::from_name);
                        // Log times in simulated time say nothing of the wall-clock latency.
                        let sim = recorded_as == Some(TimestampSource::SimTime);
                        let stats = Arc::new(match &latency {
                            Some(book) if !sim => TopicStats::measured(book.clone(), &c.topic),
                            _ => TopicStats::default(),
                        });
                        spawn_tx
                            .send((c.topic.clone(), info, rx, stats.clone(), recorded_as))
                            .ok()?;
                        Some(TopicTask {
                            tx,
                            pending: Chunk::default(),
                            stats,
                        })
                    });
                    let Some(t) = task else { continue };
                    t.stats.received(m.data.len());
                    let now = m.log_time as i64;
                    t.pending.push(now, m.data);
                    let old = |c: &Chunk| {
                        max_age.is_some_and(|a| c.first_ts().is_some_and(|f| now - f >= a))
                    };
                    if t.pending.bytes >= CHUNK_BYTES
                        || t.pending.len() >= CHUNK_MESSAGES
                        || old(&t.pending)
                    {
                        let chunk = std::mem::take(&mut t.pending);
                        if !send_unless_aborted(&t.tx, chunk, &abort) {
                            break;
                        }
                    }
                    // Other topics' chunks may have grown old meanwhile.
                    if max_age.is_some() && read.is_multiple_of(256) {
                        for t in tasks.values_mut().flatten().filter(|t| old(&t.pending)) {
                            let chunk = std::mem::take(&mut t.pending);
                            if !send_unless_aborted(&t.tx, chunk, &abort) {
                                break;
                            }
                        }
                    }
                }
                for t in tasks.into_values().flatten() {
                    if !t.pending.is_empty() {
                        send_unless_aborted(&t.tx, t.pending, &abort);
                    }
                }
                progress(read);
                filtered.sort();
                filtered.dedup();
                Ok((filtered, read, source.cut()))
            },
        )
    };

    let mut handles = Vec::new();
    while let Some((topic, info, rx, stats, recorded_as)) = spawn_rx.recv().await {
        let mut opts = adapters(&topic);
        if let Some(t) = recorded_as {
            opts.timestamp = t;
        }
        let adapter = adapter_or_raw(&info.ros_type, client.generation(), &opts);
        if adapter.is_raw() {
            warn!(%topic, ros_type = %info.ros_type, "no typed mapping: stored as raw CDR");
        }
        let name = format!("{}{}", topic.trim_end_matches('/'), target.topic_suffix);
        let sink = FaultSink {
            inner: SequenceSink::new(target.writer.clone(), &name, target.topic_metadata.clone()),
            topic: topic.clone(),
            abort: abort.clone(),
        };
        handles.push(tokio::spawn(run_topic(
            client.clone(),
            topic,
            info,
            adapter,
            sink,
            rx,
            stats,
        )));
    }
    let read = reader
        .await
        .map_err(|e| Error::Closed(format!("bag reader: {e}")))?;
    let mut topics = Vec::new();
    for mut h in handles {
        // After an abort a topic task may wait on a dead stream: it gets a moment, then goes.
        let r = if abort.is_set() {
            match tokio::time::timeout(ABORT_GRACE, &mut h).await {
                Ok(r) => r,
                Err(_) => {
                    h.abort();
                    continue;
                }
            }
        } else {
            h.await
        };
        topics.push(r.map_err(|e| Error::Closed(format!("topic task: {e}")))?);
    }
    topics.sort_by(|a, b| a.topic.cmp(&b.topic));
    let (filtered_out, read, cut) = read.map_err(Error::from)?;
    Ok(EngineReport {
        topics,
        filtered_out,
        read,
        fault: abort.reason(),
        cut,
    })
}
