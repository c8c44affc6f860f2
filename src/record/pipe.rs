//! One ROS topic's way into Mosaico: chunks of raw CDR messages are converted by the topic's
//! adapter in the worker pool, and the batches go to the topic's writer, created on the first batch
//! (empty topics break readers). Shared by the bag importer and the live recorder.

use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::error::Error;
use crate::handlers::{MosaicoClient, SequenceWriter, TopicWriter};
use crate::ros::adapters::{Adapter, RosTopicInfo};

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
    /// Messages lost after the topic's upload failed.
    pub lost: u64,
    pub error: Option<String>,
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
}

/// Where a topic's batches go: the current sequence writer, asked for a topic writer lazily.
#[async_trait::async_trait]
pub trait TopicSink: Send {
    async fn writer(
        &mut self,
        adapter: &Adapter,
        info: &RosTopicInfo,
    ) -> crate::Result<TopicWriter>;
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
    async fn writer(
        &mut self,
        adapter: &Adapter,
        info: &RosTopicInfo,
    ) -> crate::Result<TopicWriter> {
        if let Some(w) = &self.writer {
            return Ok(w.clone());
        }
        let w = self
            .sequence
            .topic_create(
                &self.name,
                adapter.topic_options(info, self.user_metadata.clone()),
            )
            .await?;
        self.writer = Some(w.clone());
        Ok(w)
    }
}

/// Converts and writes every chunk received until the channel closes; never stops early, so the
/// producer is never blocked by a failed topic (what arrives after a failure is counted as lost).
pub async fn run_topic(
    client: MosaicoClient,
    topic: String,
    info: RosTopicInfo,
    adapter: Adapter,
    mut sink: impl TopicSink,
    mut rx: mpsc::Receiver<Chunk>,
) -> TopicReport {
    let mut report = TopicReport {
        topic: topic.clone(),
        ros_type: info.ros_type.clone(),
        raw: adapter.is_raw(),
        ..Default::default()
    };
    let mut adapter = Some(adapter);
    while let Some(chunk) = rx.recv().await {
        report.received += chunk.len() as u64;
        report.bytes += chunk.bytes as u64;
        let Some(mut a) = adapter.take() else {
            report.lost += chunk.len() as u64;
            continue;
        };
        let n = chunk.len();
        let job = client.processing().run(move || {
            let out = a.convert(&chunk.msgs);
            (a, out)
        });
        let (a, out) = match job.await {
            Ok(x) => x,
            Err(e) => {
                report.error = Some(format!("conversion worker failed: {e}"));
                report.lost += n as u64;
                continue;
            }
        };
        for (_, e) in &out.errors {
            report.malformed += 1;
            report.last_malformed = Some(e.to_string());
        }
        if !out.errors.is_empty() {
            debug!(%topic, malformed = out.errors.len(), "malformed messages skipped");
        }
        let batch = match out.batch {
            Ok(b) => b,
            Err(e) => {
                report.error = Some(format!("building a batch failed: {e}"));
                report.lost += (n - out.errors.len()) as u64;
                continue;
            }
        };
        if batch.num_rows() > 0 {
            let rows = batch.num_rows() as u64;
            let pushed = match sink.writer(&a, &info).await {
                Ok(w) => {
                    report.tag = Some(w.ontology_tag().to_string());
                    w.push_batch(batch).await
                }
                Err(e) => Err(e),
            };
            match pushed {
                Ok(()) => report.written += rows,
                Err(Error::RecordTooLarge { .. }) => {
                    // Counted by the writer (and noted on the server); the rest of the batch went.
                    report.too_large += 1;
                    report.written += rows.saturating_sub(1);
                }
                Err(e) => {
                    warn!(%topic, error = %e, "topic upload failed; its further messages are counted as lost");
                    report.error = Some(e.to_string());
                    report.lost += rows;
                    continue; // the adapter is not put back: later chunks are lost, and counted
                }
            }
        }
        adapter = Some(a);
    }
    report
}
