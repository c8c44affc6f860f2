//! Live intake's first stop: every message taken from a topic's queue is appended to the session's
//! spool segment on a writer thread of its own, before anything else can lose it. Chunks are closed
//! and the segment synced to disk every `spool.sync_interval_s` (the sync runs on another thread,
//! so the writer never waits for the disk), and a heartbeat says what was synced. The uploader
//! follows the open segment through [`SpoolProgress`].
//!
//! A split is a clean time boundary: messages received before it go to the old segment (kept open
//! briefly for messages still in the queues), later ones to the new one. When the quota or the disk
//! is full, kept uploaded segments are deleted first, then `spool.when_full` applies, and every
//! message refused is counted.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tracing::{error, info, warn};

use super::clock::RecordClock;
use crate::bag::writer::ChunkCounts;
use crate::bag::{BagError, SegmentWriter};
use crate::config::{RecordConfig, WhenFull};
use crate::transport::{now_ns, Qos, RawMessage};
use crate::upload::follow::SpoolProgress;
use crate::upload::spool_dir::{self, Heartbeat, PartPhase, SessionDir};

/// How long the previous segment stays open after a split for messages received before it.
const SPLIT_GRACE: Duration = Duration::from_millis(500);
/// How often free disk space is measured while writing.
const SPACE_CHECK: Duration = Duration::from_millis(200);

/// A topic as the spool writes it.
#[derive(Debug)]
pub struct SpoolTopic {
    pub name: String,
    pub ros_type: String,
    pub definition: String,
    pub offered: Vec<Qos>,
    /// The topic's `timestamp_ns` choice when not the receive time (see [`crate::bag::TIMESTAMP_KEY`]).
    pub timestamp: Option<&'static str>,
    pub counts: SpoolCounts,
}

/// What became of a topic's messages at the spool.
#[derive(Debug, Default)]
pub struct SpoolCounts {
    /// Appended to a segment.
    pub spooled: AtomicU64,
    /// Refused because the spool was full (`when_full: stop`).
    pub full: AtomicU64,
    /// Lost because writing the segment failed (the reason is logged).
    pub write_failed: AtomicU64,
    /// Spooled, then deleted to make room before they were uploaded (`when_full: delete_oldest`).
    pub deleted: AtomicU64,
}

enum Cmd {
    Messages(Arc<SpoolTopic>, Vec<RawMessage>),
    Split(oneshot::Sender<u32>),
    Close(oneshot::Sender<()>),
}

/// Appends a topic's messages to the spool.
#[derive(Clone)]
pub struct SpoolSender(mpsc::Sender<Cmd>);

impl SpoolSender {
    /// Appends messages of `topic` (in receive order); `false` once the spool is closed.
    pub async fn write(&self, topic: Arc<SpoolTopic>, msgs: Vec<RawMessage>) -> bool {
        self.0.send(Cmd::Messages(topic, msgs)).await.is_ok()
    }
}

/// The spool of one live session.
pub struct SpoolWriter {
    tx: mpsc::Sender<Cmd>,
    thread: Option<std::thread::JoinHandle<()>>,
    pub dir: SessionDir,
    pub progress: Arc<SpoolProgress>,
}

struct Open {
    part: u32,
    seg: SegmentWriter,
    opened: Instant,
    /// Set on the previous segment after a split: messages received before this stay in it.
    cut_ns: Option<i64>,
    sealed_by: Option<Instant>,
}

struct Writer {
    dir: SessionDir,
    root: PathBuf,
    cfg: Arc<RecordConfig>,
    progress: Arc<SpoolProgress>,
    current: Open,
    previous: Option<Open>,
    sync: std::sync::mpsc::Sender<SyncJob>,
    /// Bytes of the whole spool directory (approximate between scans).
    spool_bytes: u64,
    free: Option<u64>,
    last_space_check: Instant,
    /// When deleting found nothing to delete: not tried again before the next space check.
    nothing_to_delete: Option<Instant>,
    full_logged: bool,
    topics: BTreeMap<String, Arc<SpoolTopic>>,
    /// What messages are stamped with: a split cuts by the same time.
    clock: RecordClock,
}

struct SyncJob {
    file: std::fs::File,
    heartbeat: Option<Heartbeat>,
}

fn facts_of(dir: &SessionDir, part: u32) -> BTreeMap<String, String> {
    let f = &dir.facts;
    BTreeMap::from([
        ("session_id".into(), f.session_id.clone()),
        ("sequence".into(), f.sequence.clone()),
        ("part".into(), part.to_string()),
        ("started_at".into(), f.started_at.to_rfc3339()),
        ("host".into(), f.host.clone()),
        ("metadata".into(), f.metadata.to_string()),
    ])
}

impl SpoolWriter {
    /// Starts the spool of a new session in `dir`, writing part `first_part` first.
    /// `progress` must be registered with the uploader before `dir` was created.
    pub fn start(
        dir: SessionDir,
        cfg: Arc<RecordConfig>,
        first_part: u32,
        progress: Arc<SpoolProgress>,
        clock: RecordClock,
    ) -> Result<Self, BagError> {
        let root = cfg.spool.root();
        let seg =
            SegmentWriter::create(&dir.segment_path(first_part), &facts_of(&dir, first_part))?;
        progress.open(first_part);
        let (sync_tx, sync_rx) = std::sync::mpsc::channel::<SyncJob>();
        let sync_dir = dir.clone();
        std::thread::Builder::new()
            .name("spool-sync".into())
            .spawn(move || {
                while let Ok(job) = sync_rx.recv() {
                    if let Err(e) = job.file.sync_data() {
                        error!(error = %e, "spool: syncing a segment to disk failed");
                        continue;
                    }
                    if let Some(h) = job.heartbeat {
                        if let Err(e) = sync_dir.save_heartbeat(&h) {
                            warn!(error = %e, "spool: heartbeat not written");
                        }
                    }
                }
            })
            .map_err(BagError::io(&dir.path))?;
        let (tx, rx) = mpsc::channel::<Cmd>(64);
        let w = Writer {
            spool_bytes: spool_dir::dir_bytes(&root),
            free: spool_dir::free_bytes(&root),
            last_space_check: Instant::now(),
            nothing_to_delete: None,
            root,
            dir: dir.clone(),
            cfg,
            clock,
            progress: progress.clone(),
            current: Open {
                part: first_part,
                seg,
                opened: Instant::now(),
                cut_ns: None,
                sealed_by: None,
            },
            previous: None,
            sync: sync_tx,
            full_logged: false,
            topics: BTreeMap::new(),
        };
        let thread = std::thread::Builder::new()
            .name("spool-writer".into())
            .spawn(move || w.run(rx))
            .map_err(BagError::io(&dir.path))?;
        info!(dir = %dir.path.display(), "spooling to disk");
        Ok(SpoolWriter {
            tx,
            thread: Some(thread),
            dir,
            progress,
        })
    }

    /// A handle for the topics' forwarding tasks.
    pub fn sender(&self) -> SpoolSender {
        SpoolSender(self.tx.clone())
    }

    /// Cuts the session now: later messages go to the next part, whose number is returned.
    pub async fn split(&self) -> Option<u32> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Cmd::Split(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Seals the last segment; everything sent before is on disk when this returns.
    pub async fn close(mut self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Cmd::Close(tx)).await.is_ok() {
            let _ = rx.await;
        }
        if let Some(t) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

impl Writer {
    fn run(mut self, mut rx: mpsc::Receiver<Cmd>) {
        let period = Duration::from_secs_f64(self.cfg.spool.sync_interval_s);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("spool writer runtime");
        let mut next_sync = Instant::now() + period;
        loop {
            let wait = next_sync.saturating_duration_since(Instant::now());
            let cmd = rt.block_on(async { tokio::time::timeout(wait, rx.recv()).await });
            match cmd {
                Ok(Some(Cmd::Messages(topic, msgs))) => self.append(&topic, msgs),
                Ok(Some(Cmd::Split(reply))) => {
                    let part = self.rotate(self.clock.now_ns());
                    let _ = reply.send(part);
                }
                Ok(Some(Cmd::Close(reply))) => {
                    self.close_all();
                    let _ = reply.send(());
                    return;
                }
                Ok(None) => return self.close_all(),
                Err(_) => {}
            }
            if self
                .previous
                .as_ref()
                .is_some_and(|p| p.sealed_by.is_some_and(|t| Instant::now() >= t))
            {
                let p = self.previous.take().expect("previous");
                self.seal(p);
            }
            if Instant::now() >= next_sync {
                self.sync_now();
                next_sync = Instant::now() + period;
            }
            if self.split_due() {
                self.rotate(self.clock.now_ns());
            }
        }
    }

    fn split_due(&self) -> bool {
        let s = &self.cfg.split;
        let st = self.current.seg.stats();
        (s.max_bytes > 0 && st.bytes >= s.max_bytes)
            || (s.max_duration_s > 0 && self.current.opened.elapsed().as_secs() >= s.max_duration_s)
    }

    /// Room for `n` more bytes: the quota and the disk's free space, after deleting what may go.
    fn room_for(&mut self, n: u64) -> bool {
        if self.last_space_check.elapsed() >= SPACE_CHECK {
            self.free = spool_dir::free_bytes(&self.root);
            self.last_space_check = Instant::now();
        }
        let fits = |w: &Self| {
            let quota = w.cfg.spool.max_bytes == 0 || w.spool_bytes + n <= w.cfg.spool.max_bytes;
            let disk = w.free.is_none_or(|f| f >= n + w.cfg.spool.min_free_bytes);
            quota && disk
        };
        if fits(self) {
            if self.full_logged {
                info!("spool has room again: spooling resumes");
                self.full_logged = false;
            }
            return true;
        }
        // Room is made from other sessions' and this session's sealed segments, oldest first;
        // when there was nothing to delete, the spool is not searched again for every message.
        if self
            .nothing_to_delete
            .is_some_and(|t| t.elapsed() < SPACE_CHECK)
        {
            return false;
        }
        while !fits(self) {
            let Some(freed) = self.delete_oldest() else {
                self.nothing_to_delete = Some(Instant::now());
                break;
            };
            self.spool_bytes = self.spool_bytes.saturating_sub(freed);
            self.free = spool_dir::free_bytes(&self.root);
        }
        fits(self)
    }

    /// Deletes the oldest segment that may go: an uploaded one kept by `keep: keep`, or with
    /// `when_full: delete_oldest` any sealed one. Returns the bytes freed.
    fn delete_oldest(&mut self) -> Option<u64> {
        let (sessions, _) = spool_dir::scan(&self.root).ok()?;
        let live: Vec<u32> = {
            let mut v = vec![self.current.part];
            v.extend(self.previous.as_ref().map(|p| p.part));
            v
        };
        let mut pick: Option<(SessionDir, u32, PathBuf, bool)> = None;
        'outer: for uploaded_only in [true, false] {
            if !uploaded_only && self.cfg.spool.when_full != WhenFull::DeleteOldest {
                break;
            }
            for s in &sessions {
                let state = s.upload_state().unwrap_or_default();
                for (part, path) in s.segments().unwrap_or_default() {
                    if s.path == self.dir.path && live.contains(&part) {
                        continue;
                    }
                    let committed = state
                        .parts
                        .get(&part)
                        .is_some_and(|p| p.phase == PartPhase::Committed);
                    if committed || !uploaded_only {
                        pick = Some((s.clone(), part, path, committed));
                        break 'outer;
                    }
                }
            }
        }
        let (s, part, path, committed) = pick?;
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let messages = spool_dir::file_summary(&path)
            .ok()
            .flatten()
            .map(|f| f.topics);
        if let Err(e) = s.remove_segment(part) {
            warn!(error = %e, "spool full: could not delete a segment");
            return None;
        }
        if committed {
            info!(segment = %path.display(), bytes, "spool full: deleted a segment already on the server");
        } else {
            let mut lost = 0;
            for (topic, (_, _, n)) in messages.unwrap_or_default() {
                lost += n;
                if s.path == self.dir.path {
                    if let Some(t) = self.topics.get(&topic) {
                        t.counts.deleted.fetch_add(n, Ordering::Relaxed);
                    }
                }
            }
            error!(segment = %path.display(), bytes, messages = lost, "spool full: deleted a segment NOT yet uploaded (when_full: delete_oldest)");
            let _ = s.update_part(part, |p| {
                p.recovered = Some(format!(
                    "deleted unuploaded to make room (when_full: delete_oldest): {lost} messages lost"
                ));
            });
        }
        Some(bytes)
    }

    fn append(&mut self, topic: &Arc<SpoolTopic>, msgs: Vec<RawMessage>) {
        self.topics
            .entry(topic.name.clone())
            .or_insert_with(|| topic.clone());
        for m in msgs {
            let n = m.cdr.len() as u64;
            if !self.room_for(n + 64) {
                topic.counts.full.fetch_add(1, Ordering::Relaxed);
                if !self.full_logged {
                    error!(
                        spool = %self.root.display(), spool_bytes = self.spool_bytes,
                        free = ?self.free, "spool full: new messages are refused and counted (when_full: stop)"
                    );
                    self.full_logged = true;
                }
                continue;
            }
            let target = match &mut self.previous {
                Some(p) if p.cut_ns.is_some_and(|cut| m.received_ns < cut) => p,
                _ => &mut self.current,
            };
            let r = target
                .seg
                .channel(
                    &topic.name,
                    &topic.ros_type,
                    &topic.definition,
                    &topic.offered,
                    topic.timestamp,
                )
                .and_then(|ch| target.seg.write(ch, m.received_ns.max(0) as u64, &m.cdr));
            match r {
                Ok(()) => {
                    self.spool_bytes += n;
                    self.free = self.free.map(|f| f.saturating_sub(n));
                    if target.seg.buffered_bytes() >= self.cfg.spool.chunk_bytes {
                        let flushed = target.seg.flush();
                        self.credit(flushed);
                    }
                }
                Err(e) => {
                    topic.counts.write_failed.fetch_add(1, Ordering::Relaxed);
                    error!(topic = %topic.name, error = %e, "spool: writing a message failed");
                }
            }
        }
        self.progress.grew();
    }

    /// Counts a chunk's messages as spooled (written to the file), or as lost when writing it
    /// failed; after a failure the segment is cut there and the next part starts.
    fn credit(&mut self, r: Result<ChunkCounts, (BagError, ChunkCounts)>) {
        let (counts, failed) = match r {
            Ok(c) => (c, None),
            Err((e, c)) => (c, Some(e)),
        };
        count(&self.topics, counts, failed.is_none());
        if let Some(e) = failed {
            error!(error = %e, "spool: writing a chunk failed (its messages are counted as lost); the segment ends before it, recording goes on in a new part");
            self.free = spool_dir::free_bytes(&self.root);
            let part = self.current.part;
            self.progress.seal(part);
            if let Err(e) = self.open_next() {
                error!(error = %e, "spool: no new segment could be opened");
            }
        }
    }

    /// Opens the next part as `current`, dropping the broken one.
    fn open_next(&mut self) -> Result<(), BagError> {
        let part = self.current.part + 1;
        let seg = SegmentWriter::create(&self.dir.segment_path(part), &facts_of(&self.dir, part))?;
        self.progress.open(part);
        self.current = Open {
            part,
            seg,
            opened: Instant::now(),
            cut_ns: None,
            sealed_by: None,
        };
        Ok(())
    }

    /// Starts the next part at `cut_ns`; the current one stays open briefly for older messages.
    fn rotate(&mut self, cut_ns: i64) -> u32 {
        if let Some(p) = self.previous.take() {
            self.seal(p);
        }
        let part = self.current.part + 1;
        match SegmentWriter::create(&self.dir.segment_path(part), &facts_of(&self.dir, part)) {
            Ok(seg) => {
                self.progress.open(part);
                let mut old = std::mem::replace(
                    &mut self.current,
                    Open {
                        part,
                        seg,
                        opened: Instant::now(),
                        cut_ns: None,
                        sealed_by: None,
                    },
                );
                old.cut_ns = Some(cut_ns);
                old.sealed_by = Some(Instant::now() + SPLIT_GRACE);
                self.previous = Some(old);
                info!(part, "spool: new part");
            }
            Err(e) => error!(error = %e, "spool: cannot start a new part; the current one goes on"),
        }
        self.current.part
    }

    fn seal(&mut self, o: Open) {
        let part = o.part;
        finish_segment(&self.topics, &self.sync, o.seg);
        self.progress.seal(part);
        if let Err(e) = self.dir.write_metadata(Some(self.current.part)) {
            warn!(error = %e, "spool: metadata.yaml not updated");
        }
    }

    fn sync_now(&mut self) {
        let counts = |o: &Open| -> BTreeMap<String, u64> {
            o.seg
                .topics()
                .map(|t| (t.topic.clone(), t.messages))
                .collect()
        };
        if let Some(p) = &mut self.previous {
            let r = p.seg.flush();
            self.credit(r);
        }
        let r = self.current.seg.flush();
        self.credit(r);
        self.progress.grew();
        if let Ok(file) = self.current.seg.sync_handle() {
            let _ = self.sync.send(SyncJob {
                file,
                heartbeat: Some(Heartbeat {
                    synced_at_ns: now_ns(),
                    part: self.current.part,
                    synced_messages: counts(&self.current),
                }),
            });
        }
        if let Some(p) = &self.previous {
            if let Ok(file) = p.seg.sync_handle() {
                let _ = self.sync.send(SyncJob {
                    file,
                    heartbeat: None,
                });
            }
        }
    }

    fn close_all(mut self) {
        if let Some(p) = self.previous.take() {
            self.seal(p);
        }
        let Writer {
            current,
            topics,
            sync,
            progress,
            dir,
            ..
        } = self;
        finish_segment(&topics, &sync, current.seg);
        progress.seal(current.part);
        if let Err(e) = dir.write_metadata(None) {
            warn!(error = %e, "spool: metadata.yaml not updated");
        }
    }
}

/// Writes a segment's last chunk and summary, counts that chunk, and has the file synced.
fn finish_segment(
    topics: &BTreeMap<String, Arc<SpoolTopic>>,
    sync: &std::sync::mpsc::Sender<SyncJob>,
    seg: SegmentWriter,
) {
    let path = seg.path().to_path_buf();
    match seg.finish() {
        Ok((last, file)) => {
            count(topics, last, true);
            let _ = sync.send(SyncJob {
                file,
                heartbeat: None,
            });
        }
        Err((e, lost)) => {
            count(topics, lost, false);
            error!(segment = %path.display(), error = %e, "spool: sealing failed; its last chunk is lost (counted), recovery reads the rest")
        }
    }
}

/// Adds a chunk's messages to each topic's spooled (`written`) or write-failed count.
fn count(topics: &BTreeMap<String, Arc<SpoolTopic>>, counts: ChunkCounts, written: bool) {
    for (topic, n) in counts {
        if let Some(t) = topics.get(&topic) {
            let c = if written {
                &t.counts.spooled
            } else {
                &t.counts.write_failed
            };
            c.fetch_add(n, Ordering::Relaxed);
        }
    }
}
