//! One live recording session: every selected topic of the ROS graph flows
//! callback → byte-budgeted queue → adapter in the worker pool → topic writer of the current part.
//!
//! Topics are subscribed as they appear (discovery runs periodically) and created on the server
//! on their first converted batch. A split waits for batches in flight, finalizes the part and opens
//! the next one; a fault (the server gone, a stream broken) stops intake, counts what was lost and
//! applies the error policy. Nothing is dropped without being counted.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, RwLock};
use tokio::task::JoinHandle;
use tracing::{debug, error, info, warn};

use super::clock::RecordClock;
use super::qos::reader_qos;
use super::queue::{ByteQueue, Pushed, SharedBudget};
use super::session::{PartSummary, Recording, Resume};
use crate::config::{Compression, RecordConfig, Timestamp, TopicMatcher};
use crate::error::{Error, Result};
use crate::handlers::topic_writer::batch_bytes;
use crate::handlers::{MosaicoClient, WriterState};
use crate::ros::adapters::TimestampSource;
use crate::ros::{adapter_or_raw, Adapter, AdapterOptions, ImageCompression, RosTopicInfo};
use crate::transport::{GraphTopic, OnMessage, Qos, RawMessage, Subscription, Transport};
use crate::upload::is_fault;
use crate::upload::pipe::{run_topic, Chunk, TopicReport, TopicSink, TopicStats};

/// Bytes of messages handed to a worker at once: a few camera frames, or thousands of IMU rows.
const CHUNK_BYTES: u64 = 8 << 20;
/// How often the server is asked whether it is alive while recording.
const HEALTH_PERIOD: Duration = Duration::from_secs(1);
/// How long a fault waits for batches already on their way before giving up on them.
const FAULT_DRAIN: Duration = Duration::from_secs(5);

/// State shared by the session and its topic pipes.
struct Shared {
    /// `None` once the session has ended.
    recording: RwLock<Option<Recording>>,
    /// Bytes written in the current part (the split clock).
    part_bytes: AtomicU64,
    fault: Mutex<Option<String>>,
}

impl Shared {
    fn fault(&self) -> Option<String> {
        self.fault.lock().expect("fault lock").clone()
    }

    fn set_fault(&self, why: String) {
        let mut f = self.fault.lock().expect("fault lock");
        if f.is_none() {
            error!(reason = %why, "recording fault");
            *f = Some(why);
        }
    }
}

/// Writes a topic's batches into whatever part is current.
struct LiveSink {
    shared: Arc<Shared>,
    topic: String,
}

#[async_trait::async_trait]
impl TopicSink for LiveSink {
    async fn push(
        &mut self,
        adapter: &Adapter,
        info: &RosTopicInfo,
        batch: RecordBatch,
    ) -> Result<String> {
        if let Some(f) = self.shared.fault() {
            return Err(Error::Closed(format!("the session (fault: {f})")));
        }
        let bytes = batch_bytes(&batch) as u64;
        loop {
            {
                // Held across the push: a split waits for it, so no batch lands in a closed part.
                let g = self.shared.recording.read().await;
                let rec = g
                    .as_ref()
                    .ok_or_else(|| Error::Closed("the recording session".into()))?;
                if let Some(w) = rec.cached_topic(&self.topic) {
                    return match w.push_batch(batch).await {
                        Ok(()) => {
                            self.shared.part_bytes.fetch_add(bytes, Ordering::Relaxed);
                            Ok(w.ontology_tag().to_string())
                        }
                        Err(e) => {
                            if is_fault(&e) {
                                self.shared
                                    .set_fault(format!("upload of {} failed: {e}", self.topic));
                            }
                            Err(e)
                        }
                    };
                }
            }
            let mut g = self.shared.recording.write().await;
            let rec = g
                .as_mut()
                .ok_or_else(|| Error::Closed("the recording session".into()))?;
            if let Err(e) = rec
                .topic(&self.topic, || {
                    adapter.topic_options(info, Value::Object(Default::default()))
                })
                .await
            {
                if is_fault(&e) {
                    self.shared
                        .set_fault(format!("creating topic {} failed: {e}", self.topic));
                }
                return Err(e);
            }
        }
    }
}

/// A subscribed topic.
struct LiveTopic {
    ros_type: String,
    qos: Qos,
    raw: bool,
    stats: Arc<TopicStats>,
    queue: Arc<ByteQueue<RawMessage>>,
    sub: Option<Box<dyn Subscription>>,
    forward: JoinHandle<()>,
    pipe: JoinHandle<TopicReport>,
    /// Rows written into parts already finalized (safe whatever happens to the current part).
    finalized_rows: AtomicU64,
}

/// A topic's counters while it records, for diagnostics.
#[derive(Debug, Clone, Serialize)]
pub struct TopicStatus {
    pub report: TopicReport,
    pub qos: Qos,
    pub queued_bytes: u64,
}

/// How a session ended.
#[derive(Debug, Clone, Serialize)]
pub struct SessionOutcome {
    /// The first part's sequence name.
    pub sequence: String,
    pub session_id: String,
    /// Finalized parts.
    pub parts: Vec<PartSummary>,
    /// `finalized`, `reported` (policy report: left unlocked with a notification) or `discarded`
    /// (policy delete).
    pub state: String,
    pub error: Option<String>,
    pub topics: Vec<TopicReport>,
    /// Messages received but not stored, over every topic.
    pub lost: u64,
    /// Messages the middleware lost before delivering them (DDS sequence gaps, r2r inbox
    /// overflow), over every topic: never received, so not in `lost`.
    pub middleware_lost: u64,
    /// Where the recording continues if the node records on (after a fault).
    #[serde(skip)]
    pub resume: Option<Resume>,
}

impl SessionOutcome {
    /// Sets the session's totals from its topics.
    pub fn counted(mut self) -> Self {
        self.lost = self.topics.iter().map(|t| t.not_stored()).sum();
        self.middleware_lost = self.topics.iter().map(|t| t.middleware_lost).sum();
        self
    }
}

/// A recording session on the live graph.
pub struct LiveSession {
    client: MosaicoClient,
    cfg: Arc<RecordConfig>,
    graph: RosGraph,
    shared: Arc<Shared>,
    topics: BTreeMap<String, LiveTopic>,
    budget: Arc<SharedBudget>,
    pub sequence: String,
    pub session_id: String,
    part: u32,
    part_started: std::time::Instant,
    last_check: std::time::Instant,
}

impl LiveSession {
    /// Starts a session (or continues one after a fault) and subscribes to what is in the graph.
    pub async fn start(
        client: MosaicoClient,
        cfg: Arc<RecordConfig>,
        graph: RosGraph,
        host: &str,
        counter: u32,
        resume: Option<&Resume>,
    ) -> Result<Self> {
        let recording = match resume {
            Some(r) => Recording::resume(client.clone(), cfg.clone(), host, r).await?,
            None => Recording::begin(client.clone(), cfg.clone(), host, counter).await?,
        };
        let mut s = LiveSession {
            sequence: recording.base_name.clone(),
            session_id: recording.session_id.clone(),
            part: recording.part(),
            budget: SharedBudget::new(cfg.queue.max_bytes_total),
            shared: Arc::new(Shared {
                recording: RwLock::new(Some(recording)),
                part_bytes: AtomicU64::new(0),
                fault: Mutex::new(None),
            }),
            client,
            cfg,
            graph,
            topics: BTreeMap::new(),
            part_started: std::time::Instant::now(),
            last_check: std::time::Instant::now(),
        };
        s.discover();
        Ok(s)
    }

    pub fn part(&self) -> u32 {
        self.part
    }

    /// The sequence the current part writes to.
    pub fn part_sequence(&self) -> String {
        super::session::part_naming(self.client.generation(), &self.sequence, self.part).sequence
    }

    /// Subscribes to selected topics that appeared since the last call.
    pub fn discover(&mut self) {
        if self.fault().is_some() {
            return;
        }
        for t in new_topics(&self.graph, |n| self.topics.contains_key(n)) {
            if let Err(e) = self.subscribe(&t) {
                warn!(topic = %t.name, error = %e, "cannot record this topic");
            }
        }
    }

    fn subscribe(&mut self, t: &GraphTopic) -> Result<()> {
        let over = self.cfg.override_for(&t.name);
        let qos = reader_qos(
            &t.ros_type,
            &t.publishers,
            self.graph.transport.backend(),
            over,
        );
        let adapter = adapter_or_raw(
            &t.ros_type,
            self.client.generation(),
            &adapter_options(&self.cfg, &t.name),
        );
        let raw = adapter.is_raw();
        if raw {
            warn!(topic = %t.name, ros_type = %t.ros_type, "no typed mapping: stored as raw CDR");
        }
        warn_if_unstampable(&self.cfg, t);
        let (queue, stats, sub) = subscribe_queued(&self.cfg, &self.graph, &self.budget, t, qos)?;

        let (tx, rx) = mpsc::channel::<Chunk>(2);
        let forward = tokio::spawn({
            let queue = queue.clone();
            async move {
                while let Some(items) = queue.pop_batch(CHUNK_BYTES).await {
                    let mut chunk = Chunk::default();
                    for m in items {
                        chunk.push(m.received_ns, m.cdr);
                    }
                    if tx.send(chunk).await.is_err() {
                        break;
                    }
                }
            }
        });
        let info = RosTopicInfo {
            ros_type: t.ros_type.clone(),
            definition: None,
            qos: Some(json!(t
                .publishers
                .iter()
                .map(|p| &p.qos)
                .collect::<Vec<_>>())),
        };
        let sink = LiveSink {
            shared: self.shared.clone(),
            topic: t.name.clone(),
        };
        let pipe = tokio::spawn(run_topic(
            self.client.clone(),
            t.name.clone(),
            info,
            adapter,
            sink,
            rx,
            stats.clone(),
        ));
        info!(topic = %t.name, ros_type = %t.ros_type, ?qos, "recording topic");
        self.topics.insert(
            t.name.clone(),
            LiveTopic {
                ros_type: t.ros_type.clone(),
                qos,
                raw,
                stats,
                queue,
                sub: Some(sub),
                forward,
                pipe,
                finalized_rows: AtomicU64::new(0),
            },
        );
        Ok(())
    }

    /// The fault that broke this session, if any.
    pub fn fault(&self) -> Option<String> {
        self.shared.fault()
    }

    /// Asks the server about the current part over the control plane: batches can sit in the
    /// client for a while, so a dead server is noticed here rather than at the next flush.
    pub async fn check_server(&mut self) {
        if self.fault().is_some() || self.last_check.elapsed() < HEALTH_PERIOD {
            return;
        }
        self.last_check = std::time::Instant::now();
        let limit = Duration::from_secs_f64(self.cfg.connect_timeout_s.max(0.5));
        let seq = self.part_sequence();
        match tokio::time::timeout(limit, self.client.sequence_handler(&seq)).await {
            Err(_) => self
                .shared
                .set_fault(format!("the server did not answer within {limit:?}")),
            Ok(Err(
                e @ (Error::Connect { .. } | Error::Transport { .. } | Error::Timeout { .. }),
            )) => self
                .shared
                .set_fault(format!("the server is unreachable: {e}")),
            Ok(Err(e)) => debug!(error = %e, "health check"),
            Ok(Ok(_)) => {}
        }
    }

    /// Whether the current part reached its duration or size limit.
    pub fn split_due(&self) -> bool {
        let s = &self.cfg.split;
        (s.max_bytes > 0 && self.shared.part_bytes.load(Ordering::Relaxed) >= s.max_bytes)
            || (s.max_duration_s > 0 && self.part_started.elapsed().as_secs() >= s.max_duration_s)
    }

    /// Finalizes the current part and continues in the next one.
    pub async fn split(&mut self) -> Result<PartSummary> {
        let mut g = self.shared.recording.write().await;
        let rec = g
            .as_mut()
            .ok_or_else(|| Error::Closed("the recording session".into()))?;
        match rec.split().await {
            Ok(done) => {
                let done = done.clone();
                // Nothing is pushed while the write lock is held: these counts are exact.
                for t in self.topics.values() {
                    t.finalized_rows
                        .store(t.stats.written.load(Ordering::Relaxed), Ordering::Relaxed);
                }
                self.part = rec.part();
                self.part_started = std::time::Instant::now();
                self.shared.part_bytes.store(0, Ordering::Relaxed);
                Ok(done)
            }
            Err(e) => {
                self.shared.set_fault(format!("split failed: {e}"));
                Err(e)
            }
        }
    }

    /// Live counters of every topic.
    pub fn status(&self) -> Vec<TopicStatus> {
        self.topics
            .iter()
            .map(|(name, t)| TopicStatus {
                report: self.report(name, t),
                qos: t.qos,
                queued_bytes: t.queue.bytes(),
            })
            .collect()
    }

    fn report(&self, name: &str, t: &LiveTopic) -> TopicReport {
        let mut r = t.stats.report(name, &t.ros_type, t.raw);
        let d = &t.queue.drops;
        r.dropped = d.oldest.load(Ordering::Relaxed) + d.newest.load(Ordering::Relaxed);
        r.lost += d.discarded.load(Ordering::Relaxed);
        r
    }

    /// Stops intake and waits for every queued message to be written.
    async fn drain(&mut self) {
        for t in self.topics.values_mut() {
            t.sub.take();
            t.queue.close();
        }
        for t in self.topics.values_mut() {
            let _ = (&mut t.forward).await;
            let _ = (&mut t.pipe).await;
        }
    }

    /// Stops intake, discards what is queued (counted as lost) and gives batches already on their
    /// way a short time to finish.
    async fn abandon(&mut self) {
        for (name, t) in self.topics.iter_mut() {
            t.sub.take();
            let n = t.queue.discard();
            if n > 0 {
                warn!(topic = %name, discarded = n, "queued messages lost");
            }
        }
        let deadline = tokio::time::Instant::now() + FAULT_DRAIN;
        for (name, t) in self.topics.iter_mut() {
            let _ = tokio::time::timeout_at(deadline, &mut t.forward).await;
            if tokio::time::timeout_at(deadline, &mut t.pipe)
                .await
                .is_err()
            {
                t.forward.abort();
                t.pipe.abort();
                warn!(topic = %name, "batches still on their way were abandoned");
            }
        }
    }

    fn outcome(
        &self,
        state: String,
        error: Option<String>,
        parts: Vec<PartSummary>,
        failed: bool,
        resume: Option<Resume>,
    ) -> SessionOutcome {
        let mut topics: Vec<TopicReport> = self
            .topics
            .iter()
            .map(|(name, t)| {
                let mut r = self.report(name, t);
                if failed {
                    // Whatever was received and is not accounted for went down with the session.
                    let accounted = r.written + r.malformed + r.too_large + r.dropped + r.lost;
                    r.lost += r.received.saturating_sub(accounted);
                }
                r
            })
            .collect();
        topics.sort_by(|a, b| a.topic.cmp(&b.topic));
        SessionOutcome {
            sequence: self.sequence.clone(),
            session_id: self.session_id.clone(),
            parts,
            state,
            error,
            topics,
            lost: 0,
            middleware_lost: 0,
            resume,
        }
        .counted()
    }

    /// Ends the session cleanly: everything received is written, then the part is finalized.
    /// A failure while finalizing has already applied the error policy.
    pub async fn stop(mut self) -> SessionOutcome {
        self.drain().await;
        if let Some(f) = self.fault() {
            return self.fail(&f).await;
        }
        let rec = self.shared.recording.write().await.take();
        let Some(rec) = rec else {
            return self.outcome(
                "discarded".into(),
                Some("already ended".into()),
                vec![],
                true,
                None,
            );
        };
        let resume = rec.resume_point();
        match rec.finish().await {
            Ok(parts) => {
                let out = self.outcome("finalized".into(), None, parts, false, None);
                info!(sequence = %out.sequence, parts = out.parts.len(), lost = out.lost, "recording finalized");
                out
            }
            Err(e) => {
                let state = if self.cfg.on_error == crate::handlers::OnError::Delete {
                    "discarded"
                } else {
                    "reported"
                };
                error!(sequence = %self.sequence, error = %e, "finalize failed; the error policy applied");
                self.outcome(
                    state.into(),
                    Some(e.to_string()),
                    vec![],
                    true,
                    Some(resume),
                )
            }
        }
    }

    /// Ends the session after a fault: applies the error policy and reports what was lost.
    pub async fn fail(mut self, reason: &str) -> SessionOutcome {
        self.shared.set_fault(reason.to_string());
        self.abandon().await;
        let rec = self.shared.recording.write().await.take();
        let Some(rec) = rec else {
            return self.outcome("discarded".into(), Some(reason.into()), vec![], true, None);
        };
        let resume = rec.resume_point();
        let suffix = rec.topic_suffix();
        let (state, summary, parts) = rec.fail(reason).await;
        let discarded = state == WriterState::Discarded;
        let state = match state {
            WriterState::Discarded => "discarded",
            WriterState::Reported => "reported",
            WriterState::Finalized => "finalized",
            _ => "failed",
        };
        let mut out = self.outcome(state.into(), Some(reason.into()), parts, true, Some(resume));
        // Rows pushed into a stream the server never committed (or a discarded part) are lost too.
        for t in out.topics.iter_mut() {
            let name = format!("{}{suffix}", t.topic);
            let committed = summary.topics.iter().find(|s| s.topic == name);
            if discarded || committed.is_some_and(|s| s.error.is_some()) {
                let safe = self.topics[&t.topic].finalized_rows.load(Ordering::Relaxed);
                t.lost += t.written.saturating_sub(safe);
                t.written = safe.min(t.written);
            }
        }
        let out = out.counted();
        for t in out.topics.iter().filter(|t| t.not_written() > 0) {
            error!(
                topic = %t.topic, received = t.received, written = t.written, lost = t.lost,
                dropped = t.dropped, malformed = t.malformed, "messages not stored"
            );
        }
        error!(sequence = %out.sequence, state = %out.state, lost = out.lost, reason, "recording broken by a fault");
        out
    }
}

/// The adapter options of `topic`: the image settings, with the topic's override if any.
pub fn adapter_options(cfg: &RecordConfig, topic: &str) -> AdapterOptions {
    let o = cfg.override_for(topic);
    let compression = o
        .and_then(|o| o.compression)
        .unwrap_or(cfg.images.compression);
    let quality = o
        .and_then(|o| o.jpeg_quality)
        .unwrap_or(cfg.images.jpeg_quality);
    let stamp = o.and_then(|o| o.timestamp).unwrap_or(cfg.timestamp);
    AdapterOptions {
        image: match compression {
            Compression::None => ImageCompression::Raw,
            Compression::Png => ImageCompression::Png,
            Compression::Jpeg => ImageCompression::Jpeg { quality },
        },
        image_format: cfg.images.serialization_format,
        timestamp: match stamp {
            Timestamp::Header => TimestampSource::HeaderStamp,
            Timestamp::Receive if cfg.use_sim_time => TimestampSource::SimTime,
            Timestamp::Receive => TimestampSource::ReceiveTime,
        },
    }
}

/// Says so when a topic asked for header stamps cannot have them (it is recorded at receive time).
pub(super) fn warn_if_unstampable(cfg: &RecordConfig, t: &GraphTopic) {
    if adapter_options(cfg, &t.name).timestamp == TimestampSource::HeaderStamp
        && !crate::ros::adapters::starts_with_header(&t.ros_type)
    {
        warn!(topic = %t.name, ros_type = %t.ros_type, "timestamp: header, but this type does not start with a std_msgs/Header (or the bridge does not know its definition): recorded at receive time");
    }
}

/// The ROS side of a session: the transport, the topics selected in its graph, and the clock that
/// stamps what arrives.
#[derive(Clone)]
pub struct RosGraph {
    pub transport: Arc<dyn Transport>,
    pub matcher: Arc<TopicMatcher>,
    pub clock: RecordClock,
}

/// Selected topics of the graph not `known` yet; the node's own publications (e.g. /diagnostics)
/// are never recorded.
pub(super) fn new_topics(graph: &RosGraph, known: impl Fn(&str) -> bool) -> Vec<GraphTopic> {
    let me = graph.transport.node_name();
    graph
        .transport
        .graph()
        .into_iter()
        .filter(|t| !known(&t.name) && graph.matcher.matches(&t.name))
        .filter(|t| {
            t.publishers.is_empty() || !t.publishers.iter().all(|p| p.node.as_deref() == Some(&*me))
        })
        .collect()
}

/// A subscribed topic's queue, its counters and the subscription feeding them.
pub(super) type Intake = (
    Arc<ByteQueue<RawMessage>>,
    Arc<TopicStats>,
    Box<dyn Subscription>,
);

/// Subscribes to `t` into a new byte-budgeted queue (the topic's override or the configured
/// budget, sharing `budget`), counting what arrives.
pub(super) fn subscribe_queued(
    cfg: &RecordConfig,
    graph: &RosGraph,
    budget: &Arc<SharedBudget>,
    t: &GraphTopic,
    qos: Qos,
) -> Result<Intake> {
    let limit = cfg
        .override_for(&t.name)
        .and_then(|o| o.queue_bytes)
        .unwrap_or(cfg.queue.max_bytes_per_topic);
    let queue = Arc::new(ByteQueue::new(limit, cfg.queue.policy, budget.clone()));
    let stats = Arc::new(TopicStats::default());
    let callback = on_message(
        t.name.clone(),
        queue.clone(),
        stats.clone(),
        graph.clock.clone(),
    );
    let sub = graph
        .transport
        .subscribe(&t.name, &t.ros_type, qos, callback)?;
    Ok((queue, stats, sub))
}

/// The subscription callback: counts, then queues under the drop policy (which may block).
fn on_message(
    topic: String,
    queue: Arc<ByteQueue<RawMessage>>,
    stats: Arc<TopicStats>,
    clock: RecordClock,
) -> OnMessage {
    Arc::new(move |mut m: RawMessage| {
        clock.stamp(&mut m);
        stats.received(m.cdr.len());
        let size = m.cdr.len() as u64;
        let dropped = match queue.push_blocking(m, size) {
            Pushed::Queued => 0,
            Pushed::QueuedDropping(n) => n,
            Pushed::Dropped => 1,
            Pushed::Closed => {
                stats.lost.fetch_add(1, Ordering::Relaxed);
                0
            }
        };
        if dropped > 0 {
            let d = &queue.drops;
            let total = d.oldest.load(Ordering::Relaxed) + d.newest.load(Ordering::Relaxed);
            // Logged at 1, 2, 4, 8, ... drops: visible without flooding the log.
            if total.is_power_of_two() {
                warn!(%topic, dropped_total = total, queued_bytes = queue.bytes(), "queue full: messages dropped by the drop policy");
            } else {
                debug!(%topic, dropped_total = total, "queue full");
            }
        }
    })
}
