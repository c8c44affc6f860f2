//! One ROS topic's way into Mosaico: chunks of raw CDR messages are converted by the topic's
//! adapter in the worker pool, and the batches go to the topic's writer, created on the first batch
//! (empty topics break readers). Shared by the bag importer and the live recorder.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::error::Error;
use crate::handlers::{MosaicoClient, SequenceWriter, TopicWriter};
use crate::ros::adapters::{Adapter, RosTopicInfo};
use crate::upload::latency::LatencyBook;

/// Messages of one topic: `(timestamp_ns, CDR bytes with the encapsulation header)`.
#[derive(Debug, Default)]
pub struct Chunk {
    pub msgs: Vec<(i64, Bytes)>,
    pub bytes: usize,
}

impl Chunk {
    pub fn push(&mut self, ts: i64, data: Bytes) {
        self.bytes += data.len();
        self.msgs.push((ts, data));
    }
    pub fn len(&self) -> usize {
        self.msgs.len()
    }
    /// The timestamp of the first message.
    pub fn first_ts(&self) -> Option<i64> {
        self.msgs.first().map(|m| m.0)
    }

    pub fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }
}

/// What happened to one topic, for the summary and the loss report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TopicReport {
    pub topic: String,
    pub ros_type: String,
    /// The ontology tag written (`None` when nothing was).
    pub tag: Option<String>,
    /// Stored as raw CDR (no typed mapping for its ROS type).
    pub raw: bool,
    pub received: u64,
    pub written: u64,
    /// CDR bytes received.
    pub bytes: u64,
    /// Messages that did not decode, and the last reason.
    pub malformed: u64,
    pub last_malformed: Option<String>,
    /// Messages refused because one row exceeds the server's message limit.
    pub too_large: u64,
    /// Messages dropped by the queue policy before conversion (live recording only).
    pub dropped: u64,
    /// Messages lost after the topic's upload failed (or still queued when it did); with the
    /// spool: refused because it was full, or deleted from it to make room before upload.
    pub lost: u64,
    /// Messages the middleware says it lost before delivering them (not in `received`).
    pub middleware_lost: u64,
    /// Spool mode: messages appended to the spool.
    pub spooled: u64,
    /// Spool mode: messages in parts the server confirmed.
    pub committed: u64,
    /// Spool mode: spooled, not yet committed: safe on disk, uploaded later (also by the next run).
    pub pending: u64,
    pub error: Option<String>,
    /// Spool mode: receive→sent and receive→committed latency of what the server committed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<crate::upload::latency::TopicLatency>,
}

impl TopicReport {
    /// Why nothing of this topic was written, if so.
    pub fn skipped(&self) -> Option<String> {
        if self.written > 0 {
            return None;
        }
        Some(match (&self.error, self.received, self.malformed) {
            (Some(e), _, _) => format!("upload failed: {e}"),
            (None, 0, _) => "no messages".into(),
            (None, _, m) if m > 0 => format!(
                "every message was malformed ({})",
                self.last_malformed.as_deref().unwrap_or("?")
            ),
            _ => "no rows".into(),
        })
    }

    /// Messages received (or lost by the middleware) that will never be stored, for whatever reason.
    pub fn not_written(&self) -> u64 {
        self.not_stored() + self.middleware_lost
    }

    /// Messages received that will never be stored (the middleware's own losses are not in it:
    /// they were never received).
    pub fn not_stored(&self) -> u64 {
        self.malformed + self.too_large + self.dropped + self.lost
    }
}

/// Live counters of one topic, shared by its source (which counts what it received) and the pipe
/// (everything after). Queue drops are the queue's own counters. Read by diagnostics while the
/// topic runs.
#[derive(Debug, Default)]
pub struct TopicStats {
    pub received: AtomicU64,
    pub bytes: AtomicU64,
    pub written: AtomicU64,
    pub malformed: AtomicU64,
    pub too_large: AtomicU64,
    pub lost: AtomicU64,
    detail: Mutex<StatsDetail>,
    /// Where this topic's receive→sent latency is counted, under its name (live recording).
    latency: Option<(Arc<LatencyBook>, String)>,
}

#[derive(Debug, Default)]
struct StatsDetail {
    tag: Option<String>,
    last_malformed: Option<String>,
    error: Option<String>,
}

impl TopicStats {
    /// Stats that also count the topic's receive→sent latency into `book`.
    pub fn measured(book: Arc<LatencyBook>, topic: &str) -> Self {
        TopicStats {
            latency: Some((book, topic.to_string())),
            ..Default::default()
        }
    }

    pub fn received(&self, bytes: usize) {
        self.received.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    pub fn error(&self) -> Option<String> {
        self.detail.lock().expect("stats lock").error.clone()
    }

    fn set_error(&self, e: String) {
        self.detail.lock().expect("stats lock").error = Some(e);
    }

    /// A snapshot as a report.
    pub fn report(&self, topic: &str, ros_type: &str, raw: bool) -> TopicReport {
        let d = self.detail.lock().expect("stats lock");
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        TopicReport {
            topic: topic.to_string(),
            ros_type: ros_type.to_string(),
            tag: d.tag.clone(),
            raw,
            received: get(&self.received),
            written: get(&self.written),
            bytes: get(&self.bytes),
            malformed: get(&self.malformed),
            last_malformed: d.last_malformed.clone(),
            too_large: get(&self.too_large),
            dropped: 0, // the queue's count, added by the live recorder
            lost: get(&self.lost),
            error: d.error.clone(),
            ..Default::default()
        }
    }
}

/// Where a topic's batches go.
#[async_trait::async_trait]
pub trait TopicSink: Send {
    /// Writes `batch`, creating the topic from the adapter's options on first use; returns the
    /// ontology tag written.
    async fn push(
        &mut self,
        adapter: &Adapter,
        info: &RosTopicInfo,
        batch: RecordBatch,
    ) -> crate::Result<String>;
}

/// A topic of one fixed sequence writer (the importer's case).
pub struct SequenceSink {
    pub sequence: Arc<SequenceWriter>,
    pub name: String,
    pub user_metadata: Value,
    writer: Option<TopicWriter>,
}

impl SequenceSink {
    pub fn new(sequence: Arc<SequenceWriter>, name: &str, user_metadata: Value) -> Self {
        SequenceSink {
            sequence,
            name: name.to_string(),
            user_metadata,
            writer: None,
        }
    }
}

#[async_trait::async_trait]
impl TopicSink for SequenceSink {
    async fn push(
        &mut self,
        adapter: &Adapter,
        info: &RosTopicInfo,
        batch: RecordBatch,
    ) -> crate::Result<String> {
        let w = match &self.writer {
            Some(w) => w.clone(),
            None => {
                let opts = adapter.topic_options(info, self.user_metadata.clone());
                let w = self.sequence.topic_create(&self.name, opts).await?;
                self.writer = Some(w.clone());
                w
            }
        };
        w.push_batch(batch).await?;
        Ok(w.ontology_tag().to_string())
    }
}

/// Converts and writes every chunk received until the channel closes; never stops early, so the
/// producer is never blocked by a failed topic (what arrives after a failure is counted as lost).
/// The source counts what it received in `stats`; this counts everything after.
pub async fn run_topic(
    client: MosaicoClient,
    topic: String,
    info: RosTopicInfo,
    adapter: Adapter,
    mut sink: impl TopicSink,
    mut rx: mpsc::Receiver<Chunk>,
    stats: Arc<TopicStats>,
) -> TopicReport {
    let raw = adapter.is_raw();
    let mut adapter = Some(adapter);
    let mut unstamped_told = false;
    while let Some(chunk) = rx.recv().await {
        let Some(mut a) = adapter.take() else {
            TopicStats::add(&stats.lost, chunk.len() as u64);
            continue;
        };
        let n = chunk.len();
        let stamps: Option<Vec<i64>> = stats
            .latency
            .as_ref()
            .map(|_| chunk.msgs.iter().map(|m| m.0).collect());
        let job = client.processing().run(move || {
            let out = a.convert(&chunk.msgs);
            (a, out)
        });
        let (a, out) = match job.await {
            Ok(x) => x,
            Err(e) => {
                stats.set_error(format!("conversion worker failed: {e}"));
                TopicStats::add(&stats.lost, n as u64);
                continue;
            }
        };
        if a.unstamped() > 0 && !unstamped_told {
            warn!(%topic, "messages with a zero header stamp: stored at their receive time");
            unstamped_told = true;
        }
        if let Some((_, e)) = out.errors.last() {
            TopicStats::add(&stats.malformed, out.errors.len() as u64);
            stats.detail.lock().expect("stats lock").last_malformed = Some(e.to_string());
            debug!(%topic, malformed = out.errors.len(), "malformed messages skipped");
        }
        let batch = match out.batch {
            Ok(b) => b,
            Err(e) => {
                stats.set_error(format!("building a batch failed: {e}"));
                TopicStats::add(&stats.lost, (n - out.errors.len()) as u64);
                continue;
            }
        };
        if batch.num_rows() > 0 {
            let rows = batch.num_rows() as u64;
            match sink.push(&a, &info, batch).await {
                Ok(tag) => {
                    TopicStats::add(&stats.written, rows);
                    if let (Some((book, name)), Some(stamps)) = (&stats.latency, &stamps) {
                        book.sent(name, stamps, crate::transport::now_ns());
                    }
                    let mut d = stats.detail.lock().expect("stats lock");
                    if d.tag.is_none() {
                        d.tag = Some(tag);
                    }
                }
                Err(Error::RecordTooLarge { .. }) => {
                    // Counted by the writer (and noted on the server); the rest of the batch went.
                    TopicStats::add(&stats.too_large, 1);
                    TopicStats::add(&stats.written, rows.saturating_sub(1));
                }
                Err(e) => {
                    warn!(%topic, error = %e, "topic upload failed; its further messages are counted as lost");
                    stats.set_error(e.to_string());
                    TopicStats::add(&stats.lost, rows);
                    continue; // the adapter is not put back: later chunks are lost, and counted
                }
            }
        }
        adapter = Some(a);
    }
    stats.report(&topic, &info.ros_type, raw)
}
