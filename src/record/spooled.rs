//! A live recording session with the spool: every selected topic flows
//! callback → byte-budgeted queue → spool segment on disk; the [`Uploader`] turns segments into
//! parts on the server on its own time. The session needs no server to start, to go on through an
//! outage, or to stop: what the server has not confirmed stays on disk for the next run.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::live::{new_topics, subscribe_queued, RosGraph, SessionOutcome, TopicStatus};
use super::qos::reader_qos;
use super::queue::{ByteQueue, SharedBudget};
use super::session::{recording_metadata, recording_name};
use super::spool::{SpoolTopic, SpoolWriter};
use crate::config::RecordConfig;
use crate::error::{Error, Result};
use crate::ros::adapters::TimestampSource;
use crate::transport::{GraphTopic, Qos, RawMessage, Subscription};
use crate::upload::follow::SpoolProgress;
use crate::upload::pipe::{TopicReport, TopicStats};
use crate::upload::spool_dir::{self, SessionDir, SessionFacts};
use crate::upload::Uploader;

/// Bytes of messages handed to the spool writer at once.
const SPOOL_BATCH_BYTES: u64 = 2 << 20;

struct SpooledTopic {
    ros_type: String,
    qos: Qos,
    stats: Arc<TopicStats>,
    queue: Arc<ByteQueue<RawMessage>>,
    sub: Option<Box<dyn Subscription>>,
    /// The middleware's loss count when the subscription ended.
    middleware_lost: u64,
    forward: JoinHandle<()>,
    spool: Arc<SpoolTopic>,
}

/// A recording session that writes to the spool.
pub struct SpooledSession {
    cfg: Arc<RecordConfig>,
    graph: RosGraph,
    uploader: Arc<Uploader>,
    spool: Option<SpoolWriter>,
    topics: BTreeMap<String, SpooledTopic>,
    budget: Arc<SharedBudget>,
    pub sequence: String,
    pub session_id: String,
    part: u32,
}

impl SpooledSession {
    /// Starts a session in the spool and subscribes to what is in the graph.
    pub fn start(
        cfg: Arc<RecordConfig>,
        graph: RosGraph,
        uploader: Arc<Uploader>,
        host: &str,
        counter: u32,
    ) -> Result<Self> {
        let started_at = Utc::now();
        let sequence = recording_name(&cfg, host, started_at, counter)?;
        crate::names::sequence_name(&sequence)?;
        let root = cfg.spool.root();
        // A fixed name is one recording: if an earlier run of it left parts in the spool (a crash,
        // or a stop before they were uploaded), this run continues it in its next part.
        let earlier = if cfg.sequence.name.is_empty() {
            None
        } else {
            spool_dir::scan(&root)
                .map_err(Error::from)?
                .0
                .into_iter()
                .rfind(|s| {
                    s.facts.sequence == sequence && !uploader.is_following(&s.facts.session_id)
                })
        };
        let (dir, first_part) = match earlier {
            Some(dir) => {
                let last = dir
                    .segments()?
                    .iter()
                    .map(|(p, _)| *p)
                    .chain(dir.upload_state()?.parts.keys().copied())
                    .max()
                    .unwrap_or(0);
                info!(sequence = %sequence, session = %dir.facts.session_id, part = last + 1,
                    "an earlier run of this recording left parts in the spool: continuing it");
                (Some(dir), last + 1)
            }
            None => (None, 1),
        };
        let session_id = match &dir {
            Some(d) => d.facts.session_id.clone(),
            None => ulid::Ulid::new().to_string(),
        };
        // Registered before the directory (or the new part) exists: the uploader never mistakes
        // the part being written for one a crash cut.
        let progress = Arc::new(SpoolProgress::default());
        uploader.follow(&session_id, progress.clone());
        let dir = match dir {
            Some(d) => Ok(d),
            None => SessionDir::create(
                &root,
                SessionFacts {
                    session_id: session_id.clone(),
                    sequence: sequence.clone(),
                    started_at,
                    host: host.to_string(),
                    metadata: recording_metadata(&cfg, &session_id, host, started_at, 1),
                },
            ),
        };
        let started = dir.and_then(|dir| {
            SpoolWriter::start(dir, cfg.clone(), first_part, progress, graph.clock.clone())
        });
        let spool = match started {
            Ok(s) => s,
            Err(e) => {
                uploader.unfollow(&session_id);
                return Err(e.into());
            }
        };
        info!(sequence = %sequence, session = %session_id, spool = %spool.dir.path.display(), "recording started");
        let mut s = SpooledSession {
            budget: SharedBudget::new(cfg.queue.max_bytes_total),
            cfg,
            graph,
            uploader,
            spool: Some(spool),
            topics: BTreeMap::new(),
            sequence,
            session_id,
            part: first_part,
        };
        s.discover();
        Ok(s)
    }

    /// The part being written (the spool also splits by itself, by duration and size).
    pub fn part(&self) -> u32 {
        self.spool
            .as_ref()
            .and_then(|s| s.progress.current())
            .unwrap_or(self.part)
    }

    /// Subscribes to selected topics that appeared since the last call.
    pub fn discover(&mut self) {
        let Some(spool) = &self.spool else { return };
        let sender = spool.sender();
        for t in new_topics(&self.graph, |n| self.topics.contains_key(n)) {
            if let Err(e) = self.subscribe(&t, sender.clone()) {
                warn!(topic = %t.name, error = %e, "cannot record this topic");
            }
        }
    }

    fn subscribe(&mut self, t: &GraphTopic, sender: super::spool::SpoolSender) -> Result<()> {
        let over = self.cfg.override_for(&t.name);
        let qos = reader_qos(
            &t.ros_type,
            &t.publishers,
            self.graph.transport.backend(),
            over,
        );
        super::live::warn_if_unstampable(&self.cfg, t);
        let (queue, stats, sub) = subscribe_queued(&self.cfg, &self.graph, &self.budget, t, qos)?;
        let spool = Arc::new(SpoolTopic {
            name: t.name.clone(),
            ros_type: t.ros_type.clone(),
            definition: crate::ros::msgs::definition(&t.ros_type)
                .unwrap_or_default()
                .to_string(),
            offered: t.publishers.iter().map(|p| p.qos).collect(),
            timestamp: match super::live::adapter_options(&self.cfg, &t.name).timestamp {
                TimestampSource::ReceiveTime => None,
                other => Some(other.as_str()),
            },
            counts: Default::default(),
        });
        let forward = tokio::spawn({
            let queue = queue.clone();
            let topic = spool.clone();
            async move {
                while let Some(items) = queue.pop_batch(SPOOL_BATCH_BYTES).await {
                    if !sender.write(topic.clone(), items).await {
                        break;
                    }
                }
            }
        });
        info!(topic = %t.name, ros_type = %t.ros_type, ?qos, "recording topic");
        self.topics.insert(
            t.name.clone(),
            SpooledTopic {
                ros_type: t.ros_type.clone(),
                qos,
                stats,
                queue,
                sub: Some(sub),
                middleware_lost: 0,
                forward,
                spool,
            },
        );
        Ok(())
    }

    /// Cuts the session now: later messages go into the next part.
    pub async fn split(&mut self) -> Result<u32> {
        let spool = self
            .spool
            .as_ref()
            .ok_or_else(|| Error::Closed("the recording session".into()))?;
        let next = spool
            .split()
            .await
            .ok_or_else(|| Error::Closed("the spool writer".into()))?;
        self.part = next;
        self.uploader.wake();
        Ok(next)
    }

    fn report(
        &self,
        name: &str,
        t: &SpooledTopic,
        committed: Option<&crate::upload::uploader::TopicUpload>,
        aside: Option<&String>,
    ) -> TopicReport {
        let mut r = t.stats.report(name, &t.ros_type, false);
        let d = &t.queue.drops;
        let c = &t.spool.counts;
        let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        r.dropped = get(&d.oldest) + get(&d.newest);
        r.lost += get(&d.discarded) + get(&c.full) + get(&c.write_failed) + get(&c.deleted);
        r.middleware_lost = t.sub.as_ref().map_or(t.middleware_lost, |s| s.lost());
        r.spooled = get(&c.spooled);
        if let Some(u) = committed {
            r.committed = u.committed;
            r.malformed = u.malformed;
            r.last_malformed = u.last_malformed.clone();
            r.too_large = u.too_large;
            r.tag = u.tag.clone();
        }
        r.written = r.committed;
        if let Some(reason) = aside {
            r.error = Some(format!("set aside, its data kept in the spool: {reason}"));
        }
        r.pending = r
            .spooled
            .saturating_sub(r.committed + r.malformed + r.too_large + get(&c.deleted));
        r
    }

    /// Live counters of every topic.
    pub fn status(&self) -> Vec<TopicStatus> {
        let committed = self.uploader.committed(&self.session_id);
        let aside = self.uploader.set_aside(&self.session_id);
        self.topics
            .iter()
            .map(|(name, t)| TopicStatus {
                report: self.report(name, t, committed.get(name), aside.get(name)),
                qos: t.qos,
                queued_bytes: t.queue.bytes(),
            })
            .collect()
    }

    /// Ends the session: intake stops, every queued message goes to the spool, the last segment is
    /// sealed, and the uploader is given until `deadline` to commit this session's parts. What it
    /// cannot commit by then stays in the spool and is uploaded by the next run.
    pub async fn stop(mut self, deadline: tokio::time::Instant) -> SessionOutcome {
        for t in self.topics.values_mut() {
            if let Some(sub) = t.sub.take() {
                t.middleware_lost = sub.lost();
            }
            t.queue.close();
        }
        for t in self.topics.values_mut() {
            let _ = (&mut t.forward).await;
        }
        if let Some(spool) = self.spool.take() {
            spool.close().await;
        }
        self.uploader.unfollow(&self.session_id);
        let done = self.uploader.wait_session(&self.session_id, deadline).await;
        let committed = self.uploader.committed(&self.session_id);
        let aside = self.uploader.set_aside(&self.session_id);
        let mut topics: Vec<TopicReport> = self
            .topics
            .iter()
            .map(|(name, t)| self.report(name, t, committed.get(name), aside.get(name)))
            .collect();
        topics.sort_by(|a, b| a.topic.cmp(&b.topic));
        let latency = self.uploader.latency(&self.session_id);
        for t in topics.iter_mut() {
            t.latency = latency.get(&t.topic).copied();
        }
        let pending: u64 = topics.iter().map(|t| t.pending).sum();
        let stuck = self.uploader.stuck(&self.session_id);
        let (state, error) = if done && pending == 0 {
            ("finalized", None)
        } else if !stuck.is_empty() {
            (
                "spooled",
                Some(format!(
                    "{pending} messages are kept in the spool but cannot be uploaded as they are: {}",
                    stuck.join("; ")
                )),
            )
        } else {
            let up = self.uploader.status();
            (
                "spooled",
                Some(format!(
                    "{pending} messages wait in the spool for the server ({}); they are uploaded by the next run or `mosaico-bridge spool upload`",
                    up.reason.unwrap_or_else(|| up.state.clone())
                )),
            )
        };
        let out = SessionOutcome {
            sequence: self.sequence.clone(),
            session_id: self.session_id.clone(),
            parts: self.uploader.parts(&self.session_id),
            state: state.into(),
            error,
            topics,
            lost: 0,
            middleware_lost: 0,
            resume: None,
        }
        .counted();
        match &out.error {
            Some(e) => warn!(sequence = %self.sequence, "{e}"),
            None => {
                info!(sequence = %self.sequence, lost = out.lost, "recording committed on the server")
            }
        }
        out
    }
}

/// How long a stop may take, from the config.
pub fn stop_deadline(cfg: &RecordConfig) -> tokio::time::Instant {
    tokio::time::Instant::now() + Duration::from_secs_f64(cfg.stop_timeout_s)
}
