//! [`SequenceWriter`]: one write session — lazy topic creation, finalize, and the error policies.
//!
//! * `finalize` ends every topic's stream, awaits each server status, then commits the session.
//! * On failure the policy applies. Delete: cancel the streams (the server discards them) and abort
//!   the sequence/session. Report: commit what reached the server, then record the error on the
//!   sequence (legacy leaves it unlocked; current finalizes the session, as the SDK does).
//! * Finalize and abort are idempotent; a writer dropped while open applies its policy.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tracing::{error, info, instrument, warn};

use super::client::ClientInner;
use super::topic_writer::{TopicOptions, TopicSummary, TopicWriter};
use crate::control::FlightClient;
use crate::data::put::Upload;
use crate::error::{Error, Result};
use crate::names;
use crate::protocol::{Session, TopicKey};
use arrow::datatypes::SchemaRef;
use arrow_flight::FlightDescriptor;

/// What happens to a session that fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Discard everything the session wrote.
    Delete,
    /// Keep what reached the server and record the error on the sequence.
    #[default]
    Report,
}

impl std::str::FromStr for OnError {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "delete" => Ok(OnError::Delete),
            "report" => Ok(OnError::Report),
            o => Err(format!(
                "unknown error policy `{o}` (expected delete or report)"
            )),
        }
    }
}

/// Batching limits of a writer. `None` picks the default from the server's limits.
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// Flush a topic's buffer when it reaches this many bytes (default: min(10 MiB, 0.9 × limit)).
    pub max_batch_bytes: Option<usize>,
    /// Batches per topic queued for the network before `push` waits.
    pub max_in_flight: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            max_batch_bytes: None,
            max_in_flight: 3,
        }
    }
}

/// A created topic for a caller-driven DoPut: send `schema` and batches with `descriptor` on the
/// first message through `client` (a data-plane channel).
#[derive(Debug, Clone)]
pub struct RawTopic {
    pub locator: String,
    pub descriptor: FlightDescriptor,
    pub schema: SchemaRef,
    pub client: FlightClient,
}

/// The outcome of a session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SequenceSummary {
    pub sequence: String,
    pub session: Option<String>,
    pub topics: Vec<TopicSummary>,
}

impl SequenceSummary {
    pub fn rows(&self) -> u64 {
        self.topics.iter().map(|t| t.rows).sum()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriterState {
    Open,
    Finalized,
    Discarded,
    Reported,
}

struct Shared {
    client: Arc<ClientInner>,
    session: Session,
    on_error: OnError,
    options: WriterOptions,
    topics: Mutex<BTreeMap<String, TopicWriter>>,
    state: Mutex<(WriterState, Option<SequenceSummary>)>,
}

pub struct SequenceWriter {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for SequenceWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SequenceWriter")
            .field("sequence", &self.shared.session.sequence)
            .finish()
    }
}

impl SequenceWriter {
    pub(crate) fn new(
        client: Arc<ClientInner>,
        session: Session,
        on_error: OnError,
        options: WriterOptions,
    ) -> Self {
        SequenceWriter {
            shared: Arc::new(Shared {
                client,
                session,
                on_error,
                options,
                topics: Mutex::new(BTreeMap::new()),
                state: Mutex::new((WriterState::Open, None)),
            }),
        }
    }

    pub fn name(&self) -> &str {
        &self.shared.session.sequence
    }

    pub fn session(&self) -> &Session {
        &self.shared.session
    }

    pub fn on_error(&self) -> OnError {
        self.shared.on_error
    }

    pub async fn state(&self) -> WriterState {
        self.shared.state.lock().await.0.clone()
    }

    /// The writer of an existing topic of this session.
    pub async fn topic(&self, name: &str) -> Option<TopicWriter> {
        let key = names::display_topic(name);
        self.shared.topics.lock().await.get(&key).cloned()
    }

    /// Checks and creates a topic on the server: its locator, schema and write key.
    async fn create_on_server(
        &self,
        name: &str,
        options: &TopicOptions,
        topics: &BTreeMap<String, TopicWriter>,
    ) -> Result<(String, String, SchemaRef, TopicKey)> {
        let s = &self.shared;
        if s.state.lock().await.0 != WriterState::Open {
            return Err(Error::Closed(format!(
                "sequence writer `{}`",
                s.session.sequence
            )));
        }
        let locator = names::topic_locator(&s.session.sequence, name)?;
        let display = names::display_topic(name);
        if topics.contains_key(&display) {
            return Err(Error::AlreadyExists {
                what: format!("topic `{locator}`"),
                message: "created earlier by this writer".into(),
            });
        }
        let ontology = s.client.protocol.ontology();
        let (schema, default_format) = match (&options.schema, ontology.get(&options.tag)) {
            (Some(schema), known) => (schema.clone(), known.map(|t| t.format).unwrap_or_default()),
            (None, Some(t)) => (t.schema.clone(), t.format),
            (None, None) => {
                return Err(Error::Config(format!(
                "ontology tag `{}` is unknown to a {} server: give the topic's schema explicitly",
                options.tag, s.client.info.generation
            )))
            }
        };
        let format = options.format.unwrap_or(default_format);
        let key = s
            .client
            .protocol
            .create_topic(
                &s.client.control,
                &s.session,
                &locator,
                &options.tag,
                format,
                &options.user_metadata,
            )
            .await?;
        Ok((display, locator, schema, key))
    }

    /// Creates a topic whose DoPut the caller drives itself (tools and benchmarks that stream
    /// pre-encoded Flight data). The writer does not track it: the caller must end the stream
    /// normally before [`finalize`](Self::finalize), which the server refuses otherwise.
    pub async fn topic_create_raw(&self, name: &str, options: TopicOptions) -> Result<RawTopic> {
        let topics = self.shared.topics.lock().await;
        let (_, locator, schema, key) = self.create_on_server(name, &options, &topics).await?;
        let c = &self.shared.client;
        Ok(RawTopic {
            locator,
            descriptor: c.protocol.put_descriptor(&key),
            schema,
            client: c.data.next_client(),
        })
    }

    /// Creates a topic and opens its stream. The schema is the ontology's for `options.tag` on the
    /// connected server's generation unless given.
    #[instrument(skip(self, options), fields(sequence = %self.shared.session.sequence, tag = %options.tag))]
    pub async fn topic_create(&self, name: &str, options: TopicOptions) -> Result<TopicWriter> {
        let s = &self.shared;
        let mut topics = s.topics.lock().await;
        let (display, locator, schema, key) =
            self.create_on_server(name, &options, &topics).await?;
        let descriptor = s.client.protocol.put_descriptor(&key);
        let upload = Upload::start(
            s.client.data.next_client(),
            descriptor,
            schema.clone(),
            display.clone(),
            s.options.max_in_flight,
        );
        let limit = s.client.info.max_decode_bytes;
        let max_record = s
            .client
            .info
            .max_record_bytes
            .min(limit)
            .saturating_sub(256 << 10);
        let max_batch = s
            .options
            .max_batch_bytes
            .unwrap_or((limit / 10 * 9).min(10 << 20))
            .min(max_record);
        let writer = TopicWriter::new(
            s.client.clone(),
            display.clone(),
            locator,
            options.tag,
            schema,
            upload,
            max_batch,
            max_record,
        );
        topics.insert(display, writer.clone());
        Ok(writer)
    }

    async fn writers(&self) -> Vec<TopicWriter> {
        self.shared.topics.lock().await.values().cloned().collect()
    }

    /// Ends every stream, waits for the server to commit each, then finalizes the session.
    /// On any failure the error policy applies and the error is returned.
    #[instrument(skip(self), fields(sequence = %self.shared.session.sequence))]
    pub async fn finalize(&self) -> Result<SequenceSummary> {
        let mut state = self.shared.state.lock().await;
        match state.0 {
            WriterState::Finalized => return Ok(state.1.clone().unwrap_or_default()),
            WriterState::Open => {}
            ref other => {
                return Err(Error::Closed(format!(
                    "sequence writer `{}` ({other:?})",
                    self.name()
                )))
            }
        }
        let writers = self.writers().await;
        let results = futures::future::join_all(writers.iter().map(|w| w.finish())).await;
        let mut topics = Vec::new();
        let mut failures = Vec::new();
        for (w, r) in writers.iter().zip(results) {
            match r {
                Ok(s) => topics.push(s),
                Err(e) => {
                    failures.push(e.to_string());
                    topics.push(w.summary().await);
                }
            }
        }
        let summary = SequenceSummary {
            sequence: self.name().to_string(),
            session: self.shared.session.locator.clone(),
            topics,
        };
        let outcome = if failures.is_empty() {
            self.shared
                .client
                .protocol
                .finalize(&self.shared.client.control, &self.shared.session)
                .await
        } else {
            Err(Error::Upload {
                topic: "(several)".into(),
                message: failures.join("; "),
            })
        };
        match outcome {
            Ok(()) => {
                info!(
                    rows = summary.rows(),
                    topics = summary.topics.len(),
                    "sequence finalized"
                );
                *state = (WriterState::Finalized, Some(summary.clone()));
                Ok(summary)
            }
            Err(e) => {
                error!(error = %e, "finalize failed; applying the error policy");
                let msg = format!("finalize failed: {e}");
                state.0 = self.apply_policy(self.shared.on_error, &msg).await;
                state.1 = Some(summary);
                Err(e)
            }
        }
    }

    /// Applies the error policy for a fault the caller detected (e.g. the recorder lost its input).
    pub async fn fail(&self, reason: &str) -> Result<WriterState> {
        let mut state = self.shared.state.lock().await;
        if state.0 == WriterState::Open {
            state.0 = self.apply_policy(self.shared.on_error, reason).await;
        }
        Ok(state.0.clone())
    }

    /// Discards the session whatever the policy. Idempotent; refused after finalize.
    pub async fn abort(&self) -> Result<()> {
        let mut state = self.shared.state.lock().await;
        match state.0 {
            WriterState::Discarded => Ok(()),
            WriterState::Open => {
                state.0 = self.apply_policy(OnError::Delete, "aborted").await;
                Ok(())
            }
            ref other => Err(Error::Closed(format!(
                "sequence writer `{}` ({other:?})",
                self.name()
            ))),
        }
    }

    /// Summaries of every topic so far.
    pub async fn summary(&self) -> SequenceSummary {
        let mut topics = Vec::new();
        for w in self.writers().await {
            topics.push(w.summary().await);
        }
        SequenceSummary {
            sequence: self.name().to_string(),
            session: self.shared.session.locator.clone(),
            topics,
        }
    }

    async fn apply_policy(&self, policy: OnError, reason: &str) -> WriterState {
        apply_policy(&self.shared, policy, reason).await
    }
}

async fn apply_policy(s: &Shared, policy: OnError, reason: &str) -> WriterState {
    let writers: Vec<TopicWriter> = s.topics.lock().await.values().cloned().collect();
    let (c, session) = (&s.client, &s.session);
    match policy {
        OnError::Delete => {
            // Every stream refused by the server before the session goes: a stream still being
            // handled could write its data after the delete.
            futures::future::join_all(writers.iter().map(|w| w.cancel())).await;
            if let Err(e) = c.protocol.discard(&c.control, session).await {
                error!(sequence = %session.sequence, error = %e, "could not discard the session; its data may remain on the server");
            } else {
                warn!(sequence = %session.sequence, %reason, "session discarded (policy delete)");
            }
            WriterState::Discarded
        }
        OnError::Report => {
            // Commit whatever can still be committed, then say what went wrong.
            let mut lost = Vec::new();
            for w in &writers {
                if let Err(e) = w.finish().await {
                    lost.push(format!("{}: {e}", w.name()));
                }
            }
            let mut msg = reason.to_string();
            if !lost.is_empty() {
                msg = format!("{msg}; topics not committed: {}", lost.join("; "));
            }
            if let Err(e) = c.protocol.report(&c.control, session, &msg).await {
                error!(sequence = %session.sequence, error = %e, report = %msg, "could not record the error on the server");
            } else {
                warn!(sequence = %session.sequence, report = %msg, "error reported (policy report)");
            }
            WriterState::Reported
        }
    }
}

impl Drop for SequenceWriter {
    fn drop(&mut self) {
        let open = match self.shared.state.try_lock() {
            Ok(st) => st.0 == WriterState::Open,
            Err(_) => false,
        };
        if !open {
            return;
        }
        let shared = self.shared.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn(async move {
                    let mut st = shared.state.lock().await;
                    if st.0 == WriterState::Open {
                        st.0 = apply_policy(
                            &shared,
                            shared.on_error,
                            "sequence writer dropped without finalize",
                        )
                        .await;
                    }
                });
            }
            Err(_) => {
                error!(sequence = %shared.session.sequence, "sequence writer dropped outside a runtime: the error policy could not run")
            }
        }
    }
}
