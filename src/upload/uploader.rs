//! The uploader: turns every spool segment into a committed part, oldest session first, each part
//! in order — segments left by an earlier run (crash recovery), then the live session's, following
//! the open segment as it grows so data reaches the server within seconds.
//!
//! A part is removed from disk only after the server confirmed its finalize. When the server or the
//! network goes away the part is abandoned (the server's unfinished copy is removed before it is
//! sent again) and retried with backoff and jitter; intake is not affected. A topic the server keeps
//! rejecting while it is otherwise healthy is set aside: left out of the part, its data kept in the
//! segment and reported. Cut segments (a crash) are first rewritten to their readable prefix.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use serde_json::json;
use tokio::sync::{watch, Notify};
use tracing::{error, info, warn};

use super::engine::{self, is_fault, Abort, Selection, Target};
use super::follow::SpoolProgress;
use super::latency::{LatencyBook, TopicLatency};
use super::parts::{self, OnServer, PartSummary, META_PART};
use super::spool_dir::{self, PartPhase, SessionDir};
use crate::bag::reader::{segment_facts, End, Sealed};
use crate::bag::{BagError, SegmentReader, SegmentWriter, Tail};
use crate::config::Keep;
use crate::control::channel::{ConnectOptions, ServerAddr};
use crate::error::{Error, Result};
use crate::handlers::{MosaicoClient, WriterOptions};

/// A topic's messages go to the server in chunks spanning at most this much receive time.
const LIVE_CHUNK_AGE: Duration = Duration::from_millis(500);

/// Retry delays while the server is unreachable: doubling up to the maximum, with jitter.
pub const RETRY_MIN: Duration = Duration::from_millis(500);
pub const RETRY_MAX: Duration = Duration::from_secs(10);
/// A topic whose upload failed this many times in a row while the server answered is set aside.
pub const SET_ASIDE_AFTER: u32 = 3;
/// How often the server is asked whether it is alive while a part uploads.
const HEALTH_PERIOD: Duration = Duration::from_secs(1);
/// How often the spool is looked at for new work when nothing wakes the uploader.
const IDLE_POLL: Duration = Duration::from_millis(500);

#[derive(Clone)]
pub struct UploadConfig {
    pub root: PathBuf,
    pub server: ServerAddr,
    pub connect: ConnectOptions,
    pub keep: Keep,
    pub adapters: engine::AdapterChoice,
    pub writer: WriterOptions,
}

/// What the uplink is doing, for `/diagnostics`, the logs and reports.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UplinkStatus {
    /// `connecting`, `uploading`, `idle`, `waiting` (for the server) or `stopped`.
    pub state: String,
    pub reason: Option<String>,
    /// `sequence part N` being uploaded.
    pub uploading: Option<String>,
    /// Segments (and their bytes) waiting in the spool, the part being uploaded included.
    pub backlog_segments: u64,
    pub backlog_bytes: u64,
    /// Age of the oldest waiting session, in seconds.
    pub oldest_s: f64,
    pub parts_committed: u64,
    pub retries: u64,
    /// `session/topic` → the server's error, for topics set aside.
    pub set_aside: BTreeMap<String, String>,
    /// Parts that cannot be uploaded (unreadable segment, name clash), with the reason.
    pub stuck: BTreeMap<String, String>,
}

/// What the server committed of one topic of a recording session.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TopicUpload {
    pub committed: u64,
    /// Messages that did not decode, and the last reason.
    pub malformed: u64,
    pub last_malformed: Option<String>,
    /// Rows refused for exceeding the server's message limit.
    pub too_large: u64,
    /// The ontology tag written.
    pub tag: Option<String>,
}

/// Per recording session, per topic.
pub type Committed = HashMap<String, BTreeMap<String, TopicUpload>>;

/// Live sessions the uploader follows, by session id.
#[derive(Default)]
pub struct LiveSessions {
    map: Mutex<HashMap<String, Arc<SpoolProgress>>>,
}

impl LiveSessions {
    pub fn add(&self, session_id: &str, p: Arc<SpoolProgress>) {
        self.map
            .lock()
            .expect("live")
            .insert(session_id.to_string(), p);
    }
    pub fn remove(&self, session_id: &str) {
        self.map.lock().expect("live").remove(session_id);
    }
    fn get(&self, session_id: &str) -> Option<Arc<SpoolProgress>> {
        self.map.lock().expect("live").get(session_id).cloned()
    }
}

struct Inner {
    cfg: UploadConfig,
    live: LiveSessions,
    wake: Notify,
    status: Mutex<UplinkStatus>,
    committed: Mutex<Committed>,
    /// Per session: receive→sent and receive→committed latency of its topics.
    latency: Mutex<HashMap<String, Arc<LatencyBook>>>,
    parts: Mutex<HashMap<String, Vec<PartSummary>>>,
    /// Per session: topics set aside, with the server's reason.
    aside: Mutex<HashMap<String, BTreeMap<String, String>>>,
    /// `(session, topic)` → consecutive failures while the server answered.
    topic_failures: Mutex<HashMap<(String, String), u32>>,
    stuck: Mutex<HashSet<(String, u32)>>,
}

/// The background uploader of one spool.
pub struct Uploader {
    inner: Arc<Inner>,
    /// `Some(deadline)`: finish what can be finished by then, then stop.
    stop: watch::Sender<Option<tokio::time::Instant>>,
    task: tokio::task::JoinHandle<()>,
}

struct Work {
    session: SessionDir,
    part: u32,
    path: PathBuf,
    live: Option<Arc<SpoolProgress>>,
}

enum PartError {
    /// The server or the connection failed (or the upload was stopped): retry later.
    Fault {
        reason: String,
        topic: Option<String>,
    },
    /// This part cannot be uploaded as it is (e.g. its segment is unreadable).
    Stuck(String),
    /// Topics were set aside: upload the part again at once, without them.
    Redo,
}

impl From<Error> for PartError {
    fn from(e: Error) -> Self {
        match e {
            Error::Bag(b) => PartError::Stuck(b.to_string()),
            e @ Error::AlreadyExists { .. } => PartError::Stuck(e.to_string()),
            e => PartError::Fault {
                reason: e.to_string(),
                topic: None,
            },
        }
    }
}

impl From<BagError> for PartError {
    fn from(e: BagError) -> Self {
        PartError::Stuck(e.to_string())
    }
}

impl Uploader {
    /// Starts uploading whatever the spool holds, and what live sessions add to it.
    pub fn start(cfg: UploadConfig) -> Self {
        let inner = Arc::new(Inner {
            cfg,
            live: LiveSessions::default(),
            wake: Notify::new(),
            status: Mutex::new(UplinkStatus {
                state: "connecting".into(),
                ..Default::default()
            }),
            committed: Mutex::new(HashMap::new()),
            latency: Mutex::new(HashMap::new()),
            parts: Mutex::new(HashMap::new()),
            aside: Mutex::new(HashMap::new()),
            topic_failures: Mutex::new(HashMap::new()),
            stuck: Mutex::new(HashSet::new()),
        });
        let (stop, stop_rx) = watch::channel(None);
        let task = tokio::spawn(run(inner.clone(), stop_rx));
        Uploader { inner, stop, task }
    }

    /// Follows a live session's segments (register before its first segment is written).
    pub fn follow(&self, session_id: &str, progress: Arc<SpoolProgress>) {
        self.inner.live.add(session_id, progress);
        self.inner.wake.notify_one();
    }

    /// Whether a live session with this id is being followed.
    pub fn is_following(&self, session_id: &str) -> bool {
        self.inner.live.get(session_id).is_some()
    }

    /// The live session ended (its segments are sealed); its remaining parts upload as backlog.
    pub fn unfollow(&self, session_id: &str) {
        self.inner.live.remove(session_id);
        self.inner.wake.notify_one();
    }

    /// There may be new work (a segment sealed, a session started).
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    pub fn status(&self) -> UplinkStatus {
        self.inner.status.lock().expect("status").clone()
    }

    /// What the server committed so far of `session_id`, per topic.
    pub fn committed(&self, session_id: &str) -> BTreeMap<String, TopicUpload> {
        self.inner
            .committed
            .lock()
            .expect("committed")
            .get(session_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Receive→sent and receive→committed latency of `session_id`'s topics so far.
    pub fn latency(&self, session_id: &str) -> BTreeMap<String, TopicLatency> {
        self.inner.latency_book(session_id).summary()
    }

    /// The parts of `session_id` this uploader committed, in order.
    pub fn parts(&self, session_id: &str) -> Vec<PartSummary> {
        let mut v = self
            .inner
            .parts
            .lock()
            .expect("parts")
            .get(session_id)
            .cloned()
            .unwrap_or_default();
        v.sort_by_key(|p| p.part);
        v
    }

    /// Topics of `session_id` set aside (left in the spool), with the reason.
    pub fn set_aside(&self, session_id: &str) -> BTreeMap<String, String> {
        self.inner
            .aside
            .lock()
            .expect("aside")
            .get(session_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Whether every part of `session_id` now on disk is committed (none waits).
    pub fn session_done(&self, session_id: &str) -> bool {
        let Ok((sessions, _)) = spool_dir::scan(&self.inner.cfg.root) else {
            return false;
        };
        match sessions.iter().find(|s| s.facts.session_id == session_id) {
            None => true,
            Some(s) => {
                let stuck = self.inner.stuck.lock().expect("stuck");
                pending_parts(s)
                    .iter()
                    .all(|(p, _)| stuck.contains(&(session_id.to_string(), *p)))
            }
        }
    }

    /// Why parts of `session_id` cannot be uploaded, if any.
    pub fn stuck(&self, session_id: &str) -> Vec<String> {
        let Ok((sessions, _)) = spool_dir::scan(&self.inner.cfg.root) else {
            return vec![];
        };
        let Some(s) = sessions.iter().find(|s| s.facts.session_id == session_id) else {
            return vec![];
        };
        let st = self.status();
        st.stuck
            .iter()
            .filter(|(k, _)| k.starts_with(&format!("{} part ", s.facts.sequence)))
            .map(|(k, v)| format!("{k}: {v}"))
            .collect()
    }

    /// Waits until `session_id` has nothing left to upload, or `deadline`.
    pub async fn wait_session(&self, session_id: &str, deadline: tokio::time::Instant) -> bool {
        loop {
            if self.session_done(session_id) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Uploads what it can until nothing is left or `deadline`, then stops; an unfinished part
    /// stays in the spool for the next run.
    pub async fn finish(self, deadline: tokio::time::Instant) -> UplinkStatus {
        let _ = self.stop.send(Some(deadline));
        self.inner.wake.notify_one();
        let mut task = self.task;
        // The task honours the deadline itself; this bound only guards against a stuck server call.
        let grace = deadline + Duration::from_secs(2);
        if tokio::time::timeout_at(grace, &mut task).await.is_err() {
            task.abort();
            warn!("the uploader did not stop in time; its part stays in the spool");
        }
        let mut s = self.inner.status.lock().expect("status").clone();
        s.state = "stopped".into();
        s
    }
}

/// Parts of a session still to upload, in order.
fn pending_parts(s: &SessionDir) -> Vec<(u32, PathBuf)> {
    let state = s.upload_state().unwrap_or_default();
    s.segments()
        .unwrap_or_default()
        .into_iter()
        .filter(|(p, _)| {
            state
                .parts
                .get(p)
                .is_none_or(|st| st.phase == PartPhase::Uploading)
        })
        .collect()
}

impl Inner {
    fn set_status(&self, f: impl FnOnce(&mut UplinkStatus)) {
        f(&mut self.status.lock().expect("status"));
    }

    /// The next part to upload, tidying committed segments and finished sessions on the way.
    fn next_work(&self) -> Option<Work> {
        let (sessions, _) = spool_dir::scan(&self.cfg.root).ok()?;
        let stuck = self.stuck.lock().expect("stuck").clone();
        let (mut segs, mut bytes, mut oldest) = (0u64, 0u64, None);
        let mut found = None;
        for s in sessions {
            let live = self.live.get(&s.facts.session_id);
            let state = s.upload_state().unwrap_or_default();
            let segments = s.segments().unwrap_or_default();
            let mut waiting = false;
            for (part, path) in &segments {
                let committed = state
                    .parts
                    .get(part)
                    .is_some_and(|p| p.phase == PartPhase::Committed);
                if committed {
                    // A session with topics set aside keeps its segments: they hold those topics.
                    if self.cfg.keep == Keep::Delete && self.set_aside(&s).is_empty() {
                        let _ = s.remove_segment(*part);
                    }
                    continue;
                }
                if stuck.contains(&(s.facts.session_id.clone(), *part)) {
                    continue;
                }
                waiting = true;
                segs += 1;
                bytes += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
                if found.is_none() {
                    found = Some(Work {
                        session: s.clone(),
                        part: *part,
                        path: path.clone(),
                        live: live.clone().filter(|p| p.is_open(*part)),
                    });
                }
            }
            if waiting {
                let age = (chrono::Utc::now() - s.facts.started_at).num_milliseconds() as f64 / 1e3;
                oldest = Some(oldest.map_or(age, |o: f64| o.max(age)));
            } else if live.is_none()
                && self.cfg.keep == Keep::Delete
                && s.segments().unwrap_or_default().is_empty()
            {
                // Everything of this session is on the server.
                if let Err(e) = std::fs::remove_dir_all(&s.path) {
                    warn!(dir = %s.path.display(), error = %e, "could not remove an uploaded session");
                } else {
                    info!(dir = %s.path.display(), "session uploaded: removed from the spool");
                }
            }
        }
        self.set_status(|st| {
            st.backlog_segments = segs;
            st.backlog_bytes = bytes;
            st.oldest_s = oldest.unwrap_or(0.0);
        });
        found
    }

    async fn connect(&self) -> Result<MosaicoClient> {
        MosaicoClient::connect_with(&self.cfg.server, self.cfg.connect.clone()).await
    }

    /// Topics of the session set aside so far.
    fn set_aside(&self, s: &SessionDir) -> BTreeSet<String> {
        s.upload_state()
            .unwrap_or_default()
            .parts
            .values()
            .flat_map(|p| p.set_aside.keys().cloned())
            .collect()
    }

    async fn upload_part(
        &self,
        c: &MosaicoClient,
        w: &Work,
        abort: &Abort,
    ) -> std::result::Result<(), PartError> {
        let facts = &w.session.facts;
        let part = w.part;
        let known = w.session.upload_state()?.parts.get(&part).cloned();
        let on = parts::on_server(
            c,
            facts,
            part,
            known.as_ref().and_then(|k| k.server_session.as_deref()),
        )
        .await?;
        match on {
            OnServer::Committed => {
                // An earlier try committed it and its answer was lost (or an earlier run crashed
                // after committing): the segment's own counts say what it holds.
                info!(sequence = %facts.sequence, part, "part already on the server: not sent again");
                let summary = spool_dir::file_summary(&w.path)?;
                let set_aside = self.set_aside(&w.session);
                let counts: Vec<(String, u64)> = summary
                    .as_ref()
                    .map(|s| {
                        s.topics
                            .iter()
                            .filter(|(t, _)| !set_aside.contains(*t))
                            .map(|(t, (_, _, n))| (t.clone(), *n))
                            .collect()
                    })
                    .unwrap_or_default();
                let n = counts.iter().map(|c| c.1).sum();
                self.count_committed(
                    &facts.session_id,
                    counts.into_iter().map(|(t, n)| {
                        let u = TopicUpload {
                            committed: n,
                            ..Default::default()
                        };
                        (t, u)
                    }),
                );
                w.session.update_part(part, |p| {
                    p.phase = PartPhase::Committed;
                    p.committed_messages = n;
                })?;
                if self.cfg.keep == Keep::Delete && set_aside.is_empty() {
                    w.session.remove_segment(part)?;
                }
                return Ok(());
            }
            OnServer::Unfinished { .. } => parts::remove_unfinished(c, facts, part, &on).await?,
            OnServer::Absent => {}
        }
        if w.live.is_none() {
            let path = w.path.clone();
            let dir = w.session.clone();
            let note = tokio::task::spawn_blocking(move || repair(&dir, part, &path))
                .await
                .map_err(|e| PartError::Stuck(format!("recovery task: {e}")))??;
            if let Some(note) = note {
                w.session.update_part(part, |p| p.recovered = Some(note))?;
            }
        }
        let writer = parts::open(c, facts, part, self.cfg.writer).await?;
        let server_session = writer.session().locator.clone();
        w.session.update_part(part, |p| {
            p.phase = PartPhase::Uploading;
            p.server_session = server_session;
        })?;
        let tail: Box<dyn Tail> = match &w.live {
            Some(progress) => progress.tail(part, abort.clone()),
            None => Box::new(Sealed),
        };
        let reader = SegmentReader::open(&w.path, tail)?;
        let naming = parts::part_naming(c.generation(), &facts.sequence, part);
        let writer = Arc::new(writer);
        let latency = self.latency_book(&facts.session_id);
        let target = Target {
            writer: writer.clone(),
            topic_suffix: naming.topic_suffix.clone(),
            topic_metadata: json!({ META_PART: part }),
            latency: Some(latency.clone()),
            max_chunk_age_ns: Some(LIVE_CHUNK_AGE.as_nanos() as i64),
        };
        let selection = Selection {
            skip: self.set_aside(&w.session),
            ..Default::default()
        };
        self.set_status(|s| {
            s.state = "uploading".into();
            s.reason = None;
            s.uploading = Some(format!("{} part {part}", facts.sequence));
        });
        let health = tokio::spawn(watch_health(
            c.clone(),
            naming.sequence.clone(),
            self.cfg.connect.timeout,
            abort.clone(),
        ));
        let report = engine::upload(
            c,
            reader,
            target,
            selection,
            self.cfg.adapters.clone(),
            abort.clone(),
            |_| {},
        )
        .await;
        health.abort();
        let report = report?;
        if let Some(reason) = report.fault.clone() {
            if tokio::time::timeout(Duration::from_secs(2), writer.abort())
                .await
                .is_err()
            {
                warn!(
                    part,
                    "could not discard the unfinished part now; it is replaced on the next try"
                );
            }
            return Err(PartError::Fault {
                reason,
                topic: abort.topic(),
            });
        }
        // A topic refused for a reason of its own (not the connection) would be missing from the
        // part while its segment is deleted: it is set aside (kept in the spool) and the part
        // is redone without it.
        let refused: Vec<(String, String)> = report
            .topics
            .iter()
            .filter_map(|t| t.error.clone().map(|e| (t.topic.clone(), e)))
            .collect();
        if !refused.is_empty() {
            let _ = tokio::time::timeout(Duration::from_secs(2), writer.abort()).await;
            for (topic, reason) in &refused {
                self.set_topic_aside(w, topic, reason);
            }
            return Err(PartError::Redo);
        }
        let summary = writer.finalize().await.map_err(|e| PartError::Fault {
            reason: format!("finalize failed: {e}"),
            topic: None,
        })?;
        latency.committed(crate::transport::now_ns());
        let total: u64 = report.topics.iter().map(|t| t.written).sum();
        self.count_committed(
            &facts.session_id,
            report.topics.iter().map(|t| {
                let u = TopicUpload {
                    committed: t.written,
                    malformed: t.malformed,
                    last_malformed: t.last_malformed.clone(),
                    too_large: t.too_large,
                    tag: t.tag.clone(),
                };
                (t.topic.clone(), u)
            }),
        );
        self.parts
            .lock()
            .expect("parts")
            .entry(facts.session_id.clone())
            .or_default()
            .push(PartSummary {
                part,
                sequence: naming.sequence.clone(),
                summary: summary.clone(),
            });
        for t in &report.topics {
            self.topic_failures
                .lock()
                .expect("failures")
                .remove(&(facts.session_id.clone(), t.topic.clone()));
        }
        // Counted first: whoever sees the part committed also sees its counts and summary.
        w.session.update_part(part, |p| {
            p.phase = PartPhase::Committed;
            p.committed_messages = total;
        })?;
        self.set_status(|s| s.parts_committed += 1);
        info!(
            sequence = %summary.sequence, part, messages = total,
            "part committed on the server"
        );
        if self.cfg.keep == Keep::Delete && self.set_aside(&w.session).is_empty() {
            w.session.remove_segment(part)?;
        }
        Ok(())
    }

    fn latency_book(&self, session_id: &str) -> Arc<LatencyBook> {
        let mut books = self.latency.lock().expect("latency");
        books.entry(session_id.to_string()).or_default().clone()
    }

    /// Adds what a part committed to the session's counts, per topic.
    fn count_committed(
        &self,
        session_id: &str,
        topics: impl Iterator<Item = (String, TopicUpload)>,
    ) {
        let mut c = self.committed.lock().expect("committed");
        let e = c.entry(session_id.to_string()).or_default();
        for (topic, add) in topics {
            let u = e.entry(topic).or_default();
            u.committed += add.committed;
            u.malformed += add.malformed;
            u.too_large += add.too_large;
            u.last_malformed = add.last_malformed.or(u.last_malformed.take());
            u.tag = u.tag.take().or(add.tag);
        }
    }

    /// Counts a failure of `topic`; at [`SET_ASIDE_AFTER`] the topic is set aside.
    fn topic_failed(&self, w: &Work, topic: &str, reason: &str) {
        let key = (w.session.facts.session_id.clone(), topic.to_string());
        let n = {
            let mut f = self.topic_failures.lock().expect("failures");
            let n = f.entry(key).or_default();
            *n += 1;
            *n
        };
        if n >= SET_ASIDE_AFTER {
            self.set_topic_aside(w, topic, reason);
        }
    }

    /// Leaves `topic` out of this session's parts from now on; its data stays in the spool.
    fn set_topic_aside(&self, w: &Work, topic: &str, reason: &str) {
        error!(
            topic, reason, sequence = %w.session.facts.sequence,
            "the server refuses this topic: set aside (its data stays in the spool); the other topics go on"
        );
        let _ = w.session.update_part(w.part, |p| {
            p.set_aside.insert(topic.to_string(), reason.to_string());
        });
        self.aside
            .lock()
            .expect("aside")
            .entry(w.session.facts.session_id.clone())
            .or_default()
            .insert(topic.to_string(), reason.to_string());
        self.set_status(|s| {
            s.set_aside.insert(
                format!("{}{topic}", w.session.facts.sequence),
                reason.to_string(),
            );
        });
    }
}

/// Sets `abort` when the server stops answering.
async fn watch_health(c: MosaicoClient, sequence: String, limit: Duration, abort: Abort) {
    let limit = limit.max(Duration::from_millis(500));
    loop {
        tokio::time::sleep(HEALTH_PERIOD).await;
        match tokio::time::timeout(limit, c.sequence_handler(&sequence)).await {
            Err(_) => return abort.set(format!("the server did not answer within {limit:?}")),
            Ok(Err(e)) if is_fault(&e) => {
                return abort.set(format!("the server is unreachable: {e}"))
            }
            Ok(_) => {}
        }
    }
}

/// A cut segment (a crash or power cut) is rewritten to its readable prefix, so it is a valid bag
/// and uploads like any other. Returns what was recovered, or `None` if the segment was complete.
pub fn repair(
    dir: &SessionDir,
    part: u32,
    path: &std::path::Path,
) -> std::result::Result<Option<String>, BagError> {
    if spool_dir::file_summary(path)?.is_some() {
        return Ok(None);
    }
    let facts = segment_facts(path)?.unwrap_or_else(|| {
        BTreeMap::from([
            ("session_id".into(), dir.facts.session_id.clone()),
            ("part".into(), part.to_string()),
        ])
    });
    let tmp = path.with_extension("mcap.recovering");
    let _ = std::fs::remove_file(&tmp);
    let mut reader = SegmentReader::open(path, Box::new(Sealed))?;
    let mut out = SegmentWriter::create(&tmp, &facts)?;
    let mut channels: HashMap<u16, u16> = HashMap::new();
    let (mut n, mut last) = (0u64, None);
    for m in reader.by_ref() {
        let m = m?;
        let ch = match channels.get(&m.channel.id) {
            Some(c) => *c,
            None => {
                let c = out.channel(
                    &m.channel.topic,
                    &m.channel.ros_type,
                    m.channel.definition.as_deref().unwrap_or(""),
                    &m.channel.offered(),
                    m.channel.timestamp_source.as_deref(),
                )?;
                channels.insert(m.channel.id, c);
                c
            }
        };
        out.write(ch, m.log_time, &m.data)?;
        if out.buffered_bytes() >= crate::config::DEFAULT_SPOOL_CHUNK_BYTES {
            out.flush().map_err(|(e, _)| e)?;
        }
        n += 1;
        last = Some(m.log_time);
    }
    let (_, file) = out.finish().map_err(|(e, _)| e)?;
    file.sync_all().map_err(BagError::io(&tmp))?;
    let cut = match reader.end() {
        Some(End::Cut {
            readable_bytes,
            file_bytes,
            reason,
        }) => format!("cut at about byte {readable_bytes} of {file_bytes} ({reason})"),
        _ => "complete but without a summary".into(),
    };
    let heartbeat = dir.heartbeat().ok().flatten().filter(|h| h.part == part);
    let window = match (last, &heartbeat) {
        (Some(l), Some(h)) => format!(
            "; the recorder last synced {:.3} s after the last message recovered (what arrived after that sync is lost)",
            (h.synced_at_ns - l as i64) as f64 / 1e9
        ),
        (None, Some(_)) => "; no message could be recovered".into(),
        _ => String::new(),
    };
    let lost_synced: u64 = heartbeat
        .as_ref()
        .map(|h| h.synced_messages.values().sum::<u64>().saturating_sub(n))
        .unwrap_or(0);
    std::fs::rename(&tmp, path).map_err(BagError::io(path))?;
    let note = format!(
        "recovered {n} messages of a segment {cut}{window}{}",
        if lost_synced > 0 {
            format!("; {lost_synced} messages synced before the crash are missing")
        } else {
            String::new()
        }
    );
    warn!(segment = %path.display(), "{note}");
    dir.write_metadata(None)?;
    Ok(Some(note))
}

/// Sleeps `wait`, or less: until the stop deadline, or until the stop request changes.
async fn nap(wait: Duration, stop: &mut watch::Receiver<Option<tokio::time::Instant>>) {
    let until = tokio::time::Instant::now() + wait;
    let until = match *stop.borrow() {
        Some(d) => until.min(d),
        None => until,
    };
    tokio::select! {
        _ = tokio::time::sleep_until(until) => {}
        _ = stop.changed() => {}
    }
}

fn jitter(d: Duration) -> Duration {
    d.mul_f64(rand::random_range(0.5..1.0))
}

async fn run(inner: Arc<Inner>, mut stop: watch::Receiver<Option<tokio::time::Instant>>) {
    let mut client: Option<MosaicoClient> = None;
    let mut delay = RETRY_MIN;
    loop {
        let deadline = *stop.borrow();
        if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
            break;
        }
        let Some(work) = inner.next_work() else {
            if deadline.is_some() {
                break;
            }
            inner.set_status(|s| {
                if s.state != "waiting" {
                    s.state = "idle".into();
                }
                s.uploading = None;
            });
            tokio::select! {
                _ = inner.wake.notified() => {}
                _ = tokio::time::sleep(IDLE_POLL) => {}
                _ = stop.changed() => {}
            }
            continue;
        };
        let c = match &client {
            Some(c) => c.clone(),
            None => match inner.connect().await {
                Ok(c) => {
                    info!(server = %inner.cfg.server, generation = ?c.generation(), "uplink connected");
                    client = Some(c.clone());
                    c
                }
                Err(e) => {
                    let wait = jitter(delay);
                    warn!(error = %e, retry_in_s = wait.as_secs_f64(), backlog_segments = inner.status.lock().expect("status").backlog_segments, "uplink: server unreachable; recording goes on into the spool");
                    inner.set_status(|s| {
                        s.state = "waiting".into();
                        s.reason = Some(e.to_string());
                        s.retries += 1;
                    });
                    delay = (delay * 2).min(RETRY_MAX);
                    nap(wait, &mut stop).await;
                    continue;
                }
            },
        };
        let abort = Abort::new();
        let upload = inner.upload_part(&c, &work, &abort);
        tokio::pin!(upload);
        let result = loop {
            let deadline = *stop.borrow();
            if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                abort.set("stopping: the stop timeout ran out");
                break (&mut upload).await;
            }
            let until = async move {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            // Stopping: a live part is sealed by then, so its upload ends by itself; past the
            // deadline the part is abandoned and stays in the spool.
            tokio::select! {
                r = &mut upload => break r,
                _ = stop.changed() => {}
                _ = until => {}
            }
        };
        if result.is_err() {
            // What was sent of this part is sent again when it is redone.
            inner
                .latency_book(&work.session.facts.session_id)
                .forget_uncommitted();
        }
        match result {
            Ok(()) => delay = RETRY_MIN,
            Err(PartError::Redo) => {}
            Err(PartError::Stuck(reason)) => {
                error!(sequence = %work.session.facts.sequence, part = work.part, %reason, "this part cannot be uploaded; it stays in the spool (see `spool ls`)");
                inner
                    .stuck
                    .lock()
                    .expect("stuck")
                    .insert((work.session.facts.session_id.clone(), work.part));
                inner.set_status(|s| {
                    s.stuck.insert(
                        format!("{} part {}", work.session.facts.sequence, work.part),
                        reason,
                    );
                });
            }
            Err(PartError::Fault { reason, topic }) => {
                if stop
                    .borrow()
                    .is_some_and(|d| tokio::time::Instant::now() >= d)
                {
                    warn!(
                        part = work.part,
                        "stopped mid-part: it stays in the spool and is uploaded by the next run"
                    );
                    break;
                }
                // A topic's failure while the server still answers is that topic's problem.
                let healthy = match topic {
                    Some(_) => tokio::time::timeout(inner.cfg.connect.timeout, c.list_sequences())
                        .await
                        .is_ok_and(|r| r.is_ok()),
                    None => false,
                };
                if let (Some(t), true) = (&topic, healthy) {
                    inner.topic_failed(&work, t, &reason);
                } else {
                    client = None;
                }
                let wait = jitter(delay);
                warn!(part = work.part, %reason, retry_in_s = wait.as_secs_f64(), "uplink: part upload failed; it will be sent again from the spool");
                inner.set_status(|s| {
                    s.state = "waiting".into();
                    s.reason = Some(reason);
                    s.retries += 1;
                });
                delay = (delay * 2).min(RETRY_MAX);
                nap(wait, &mut stop).await;
            }
        }
    }
    inner.set_status(|s| {
        s.state = "stopped".into();
        s.uploading = None;
    });
    if let Some(c) = client {
        c.close();
    }
}
