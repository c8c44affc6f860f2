//! [`TopicWriter`]: byte-bounded batching for one topic, feeding its DoPut.
//!
//! Small pushes are coalesced (in the processing pool) up to the byte budget; large batches are
//! split by rows. At most `max_in_flight` batches wait for the network; beyond that `push` waits,
//! so memory stays bounded. A record larger than the server's message limit cannot be sent: it is
//! counted, reported to the caller and noted on the server, never dropped silently.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Mutex;
use tracing::warn;

use super::client::ClientInner;
use crate::data::put::{Discard, Upload, UploadStats};
use crate::error::{Error, Result};
use crate::ontology::SerializationFormat;
use crate::protocol::Target;

/// Bytes of the data a batch refers to (slices count only their part).
/// Pending batches at least this large on average are sent without merging them.
const MIN_MESSAGE_BYTES: usize = 64 << 10;

pub fn batch_bytes(batch: &RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .map(|c| c.to_data().get_slice_memory_size().unwrap_or(0))
        .sum()
}

/// One commit at a time per legacy server, across every client of this process.
fn commit_turn(server: &str) -> Arc<tokio::sync::Mutex<()>> {
    static TURNS: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    > = std::sync::OnceLock::new();
    let mut m = TURNS
        .get_or_init(Default::default)
        .lock()
        .expect("commit turns");
    m.entry(server.to_string()).or_default().clone()
}

/// Error details can quote whole rows (image bytes included): keep them readable.
fn clip(s: &str) -> String {
    const MAX: usize = 300;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}… ({} bytes in all)", &s[..i], s.len()),
        None => s.to_string(),
    }
}

/// How a topic is created.
#[derive(Debug, Clone)]
pub struct TopicOptions {
    pub tag: String,
    /// Defaults to the ontology type's format.
    pub format: Option<SerializationFormat>,
    pub user_metadata: Value,
    /// Required for tags the ontology does not know (custom types, raw topics).
    pub schema: Option<SchemaRef>,
}

impl TopicOptions {
    pub fn new(tag: impl Into<String>) -> Self {
        TopicOptions {
            tag: tag.into(),
            format: None,
            user_metadata: Value::Object(Default::default()),
            schema: None,
        }
    }
    pub fn metadata(mut self, v: Value) -> Self {
        self.user_metadata = v;
        self
    }
    pub fn format(mut self, f: SerializationFormat) -> Self {
        self.format = Some(f);
        self
    }
    pub fn schema(mut self, s: SchemaRef) -> Self {
        self.schema = Some(s);
        self
    }
}

/// What one topic wrote, and what it could not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TopicSummary {
    pub topic: String,
    pub ontology_tag: String,
    pub rows: u64,
    pub batches: u64,
    pub wire_bytes: u64,
    /// Records refused because they exceed the server's message limit.
    pub dropped_too_large: u64,
    /// Rows refused because they did not fit the topic's schema.
    pub rejected: u64,
    /// Set when the topic's upload did not complete.
    pub error: Option<String>,
}

#[derive(Debug)]
enum Status {
    Open,
    Finished(UploadStats),
    Failed(String),
    Cancelled,
}

struct State {
    pending: Vec<RecordBatch>,
    pending_bytes: usize,
    upload: Upload,
    status: Status,
}

pub(crate) struct TopicShared {
    pub name: String,
    pub locator: String,
    pub tag: String,
    pub schema: SchemaRef,
    client: Arc<ClientInner>,
    max_batch_bytes: usize,
    max_record_bytes: usize,
    dropped: AtomicU64,
    rejected: AtomicU64,
    state: Mutex<State>,
}

/// A topic being written. Clones share the same stream.
#[derive(Clone)]
pub struct TopicWriter {
    pub(crate) inner: Arc<TopicShared>,
}

impl std::fmt::Debug for TopicWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopicWriter")
            .field("topic", &self.inner.name)
            .field("tag", &self.inner.tag)
            .finish()
    }
}

impl TopicWriter {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        client: Arc<ClientInner>,
        name: String,
        locator: String,
        tag: String,
        schema: SchemaRef,
        upload: Upload,
        max_batch_bytes: usize,
        max_record_bytes: usize,
    ) -> Self {
        TopicWriter {
            inner: Arc::new(TopicShared {
                name,
                locator,
                tag,
                schema,
                client,
                max_batch_bytes,
                max_record_bytes,
                dropped: AtomicU64::new(0),
                rejected: AtomicU64::new(0),
                state: Mutex::new(State {
                    pending: Vec::new(),
                    pending_bytes: 0,
                    upload,
                    status: Status::Open,
                }),
            }),
        }
    }

    /// The topic name, relative to the sequence, with a leading `/`.
    pub fn name(&self) -> &str {
        &self.inner.name
    }
    pub fn locator(&self) -> &str {
        &self.inner.locator
    }
    pub fn schema(&self) -> &SchemaRef {
        &self.inner.schema
    }
    pub fn ontology_tag(&self) -> &str {
        &self.inner.tag
    }

    fn check_schema(&self, batch: &RecordBatch) -> Result<()> {
        let want = self.inner.schema.fields();
        let got = batch.schema_ref().fields();
        if want != got {
            let detail = want
                .iter()
                .zip(got.iter())
                .find(|(a, b)| a != b)
                .map(|(a, b)| {
                    format!(
                        "column `{}` is {:?} (nullable {}), expected {:?} (nullable {})",
                        b.name(),
                        b.data_type(),
                        b.is_nullable(),
                        a.data_type(),
                        a.is_nullable()
                    )
                })
                .unwrap_or_else(|| format!("{} columns, expected {}", got.len(), want.len()));
            return Err(Error::SchemaMismatch {
                topic: self.inner.name.clone(),
                detail,
            });
        }
        Ok(())
    }

    fn open<'a>(&self, st: &'a State) -> Result<&'a Upload> {
        match &st.status {
            Status::Open => Ok(&st.upload),
            Status::Failed(m) => Err(Error::Upload {
                topic: self.inner.name.clone(),
                message: m.clone(),
            }),
            _ => Err(Error::Closed(format!("topic {}", self.inner.name))),
        }
    }

    /// Pushes rows as a record batch of the topic's schema.
    pub async fn push_batch(&self, batch: RecordBatch) -> Result<()> {
        self.check_schema(&batch)?;
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let mut st = self.inner.state.lock().await;
        self.open(&st)?;
        let bytes = batch_bytes(&batch);
        if bytes < self.inner.max_batch_bytes {
            st.pending_bytes += bytes;
            st.pending.push(batch);
            if st.pending_bytes >= self.inner.max_batch_bytes {
                self.flush_batches(&mut st).await?;
            }
            return Ok(());
        }
        self.flush_batches(&mut st).await?;
        let rows = batch.num_rows();
        let per =
            ((rows as u128 * self.inner.max_batch_bytes as u128 / bytes as u128) as usize).max(1);
        let mut too_large = 0usize;
        let mut offset = 0;
        while offset < rows {
            let n = per.min(rows - offset);
            let slice = batch.slice(offset, n);
            offset += n;
            if n == 1 && batch_bytes(&slice) > self.inner.max_record_bytes {
                too_large += 1;
                continue;
            }
            self.send(&st, slice).await?;
        }
        if too_large > 0 {
            drop(st);
            return Err(self.record_too_large(too_large, bytes / rows).await);
        }
        Ok(())
    }

    /// Pushes one row given as a JSON object keyed by column name; binary values are hex strings.
    /// The row is converted at once (in the worker pool), so a row that does not fit the schema is
    /// refused here, counted, and costs nothing else.
    pub async fn push_json(&self, row: Value) -> Result<()> {
        let schema = self.inner.schema.clone();
        let topic = self.inner.name.clone();
        let batch = self
            .inner
            .client
            .processing
            .run(move || -> Result<RecordBatch> {
                if !row.is_object() {
                    return Err(Error::SchemaMismatch {
                        topic,
                        detail: "a row must be a JSON object".into(),
                    });
                }
                let bad = |e: &dyn std::fmt::Display| Error::SchemaMismatch {
                    topic: topic.clone(),
                    detail: clip(&e.to_string()),
                };
                let mut dec = arrow::json::ReaderBuilder::new(schema.clone())
                    .with_batch_size(1)
                    .build_decoder()?;
                dec.serialize(std::slice::from_ref(&row))
                    .map_err(|e| bad(&e))?;
                Ok(dec
                    .flush()
                    .map_err(|e| bad(&e))?
                    .unwrap_or_else(|| RecordBatch::new_empty(schema)))
            })
            .await?;
        match batch {
            Ok(b) => self.push_batch(b).await,
            Err(e) => {
                self.inner.rejected.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    async fn send(&self, st: &State, batch: RecordBatch) -> Result<()> {
        let r = self.open(st)?.send(batch).await;
        if let Err(e) = &r {
            warn!(topic = %self.inner.name, error = %e, "upload failed");
        }
        r
    }

    async fn flush_batches(&self, st: &mut State) -> Result<()> {
        if st.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut st.pending);
        let bytes = std::mem::take(&mut st.pending_bytes);
        // Batches of a useful size go out as they are: concatenating would copy every byte once
        // more (slowly, for nested columns). Only many small ones are merged into one message.
        if pending.len() == 1 || bytes / pending.len() >= MIN_MESSAGE_BYTES {
            for b in pending {
                self.send(st, b).await?;
            }
            return Ok(());
        }
        let schema = self.inner.schema.clone();
        let batch = self
            .inner
            .client
            .processing
            .run(move || arrow::compute::concat_batches(&schema, &pending))
            .await??;
        self.send(st, batch).await
    }

    async fn record_too_large(&self, n: usize, bytes: usize) -> Error {
        self.inner.dropped.fetch_add(n as u64, Ordering::Relaxed);
        let limit = self.inner.max_record_bytes;
        let msg = format!("{n} record(s) of about {bytes} bytes dropped: larger than the server's message limit of {limit} bytes");
        warn!(topic = %self.inner.name, "{msg}");
        let c = &self.inner.client;
        if let Err(e) = c
            .protocol
            .notify(&c.control, Target::Topic, &self.inner.locator, &msg)
            .await
        {
            warn!(topic = %self.inner.name, error = %e, "could not record the drop on the server");
        }
        Error::RecordTooLarge {
            topic: self.inner.name.clone(),
            bytes,
            limit,
        }
    }

    /// Sends everything buffered.
    pub async fn flush(&self) -> Result<()> {
        let mut st = self.inner.state.lock().await;
        self.open(&st)?;
        self.flush_batches(&mut st).await
    }

    /// Flushes, ends the stream (the server commits and locks the topic) and waits for its status.
    /// Calling it again returns the same outcome.
    pub async fn finish(&self) -> Result<TopicSummary> {
        let mut st = self.inner.state.lock().await;
        if matches!(st.status, Status::Open) {
            let r = match self.flush_batches(&mut st).await {
                Ok(()) => {
                    // Legacy mosaicod deadlocks in PostgreSQL when two streams of the same tag
                    // commit at once (observed); commit one stream at a time per server.
                    let _turn = match self.inner.client.info.generation {
                        crate::protocol::Generation::Legacy => Some(
                            commit_turn(&self.inner.client.addr.to_string())
                                .lock_owned()
                                .await,
                        ),
                        crate::protocol::Generation::Current => None,
                    };
                    st.upload.finish().await
                }
                Err(e) => {
                    // Never commit a topic that lost buffered rows: discard it instead.
                    self.discard(&mut st).await;
                    Err(e)
                }
            };
            st.status = match r {
                Ok(stats) => Status::Finished(stats),
                Err(e) => Status::Failed(e.to_string()),
            };
        }
        let summary = self.summary_of(&st);
        match &st.status {
            Status::Failed(m) => Err(Error::Upload {
                topic: self.inner.name.clone(),
                message: m.clone(),
            }),
            Status::Cancelled => Err(Error::Closed(format!(
                "topic {} (cancelled)",
                self.inner.name
            ))),
            _ => Ok(summary),
        }
    }

    /// Cancels the upload and waits until the server has refused this topic's stream (see
    /// [`crate::data::put`]): nothing of it is committed.
    pub async fn cancel(&self) {
        let mut st = self.inner.state.lock().await;
        if matches!(st.status, Status::Open) {
            st.pending.clear();
            // Cancelled from here on, even if this future is dropped before the server answers.
            st.status = Status::Cancelled;
            self.discard(&mut st).await;
        }
    }

    async fn discard(&self, st: &mut State) -> Discard {
        // A stream the server did not refuse in time was reset; that is warned about there.
        st.upload.discard().await
    }

    fn summary_of(&self, st: &State) -> TopicSummary {
        let stats = match &st.status {
            Status::Finished(s) => *s,
            _ => st.upload.stats(),
        };
        TopicSummary {
            topic: self.inner.name.clone(),
            ontology_tag: self.inner.tag.clone(),
            rows: stats.rows,
            batches: stats.batches,
            wire_bytes: stats.wire_bytes,
            dropped_too_large: self.inner.dropped.load(Ordering::Relaxed),
            rejected: self.inner.rejected.load(Ordering::Relaxed),
            error: match &st.status {
                Status::Failed(m) => Some(m.clone()),
                Status::Cancelled => Some("cancelled".into()),
                _ => None,
            },
        }
    }

    /// Counters so far (buffered rows not included).
    pub async fn summary(&self) -> TopicSummary {
        let st = self.inner.state.lock().await;
        self.summary_of(&st)
    }
}
