//! The player: a sequence's messages published into ROS 2 on the recording's timing, controlled as
//! `ros2 bag play` is.
//!
//! One merged stream of the selected topics, in timestamp order, comes from the [`ReadAhead`]; a
//! scheduler thread of its own publishes each message when the [`Timeline`] says it is due — a
//! thread, not a task, because tokio's timer rounds sleeps up to the millisecond and the IMU of a
//! robot runs at 1 kHz. A message whose slot has passed is published at once, never slept for, and
//! counted late. Commands (the `rosbag2_interfaces` services or a [`PlayerControl`]) reach the
//! thread on a channel it waits on together with the stream.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{never, select, Receiver};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use super::options::{offer_qos, PlayOptions};
use super::readahead::{Ahead, Fed, ReadAhead};
use super::source::{resolve_topic, Messages, ReplayTopic};
use super::timeline::{Rate, Timeline};
use crate::config::{Durability, Reliability};
use crate::error::{Error, Result};
use crate::handlers::{SequenceHandler, TopicHandler};
use crate::protocol::TimeRange;
use crate::transport::{PlayerCall, PlayerReply, PlayerRequest, Qos, RawPublisher, Transport};

/// Later than this after its slot, a message counts as late.
pub const LATE_AFTER: Duration = Duration::from_millis(1);

/// rclcpp's `ClockQoS`: best effort, keep last 1.
const CLOCK_QOS: Qos = Qos {
    reliability: Reliability::BestEffort,
    durability: Durability::Volatile,
    depth: 1,
};

/// Sends commands to a running player (what the services do).
#[derive(Clone)]
pub struct PlayerControl(mpsc::Sender<PlayerCall>);

impl PlayerControl {
    /// Makes `request` and waits for the answer; `None` once the player has ended.
    pub async fn call(&self, request: PlayerRequest) -> Option<PlayerReply> {
        let (respond, answer) = oneshot::channel();
        self.0.send(PlayerCall { request, respond }).await.ok()?;
        answer.await.ok()
    }
}

/// Where the player is, for a progress line.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Status {
    pub published: u64,
    pub late: u64,
    /// The recording time being played (ns since the epoch).
    pub time_ns: i64,
    pub begin_ns: i64,
    /// The last time to play, when known.
    pub end_ns: Option<i64>,
    pub paused: bool,
    /// The rate factor (0 for `max`).
    pub rate: f64,
    pub loops: u64,
}

/// One played topic.
#[derive(Debug, Clone, Serialize)]
pub struct PlayedTopic {
    /// The topic it was published on (after `--remap`).
    pub published_on: String,
    pub ros_type: String,
    pub qos: Qos,
    pub published: u64,
    /// Messages the middleware refused, with the first reason.
    pub publish_errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_publish_error: Option<String>,
}

/// What was played, and what could not be.
#[derive(Debug, Clone, Serialize)]
pub struct PlayReport {
    pub sequence: String,
    pub topics: BTreeMap<String, PlayedTopic>,
    /// Topics left out, with why.
    pub skipped: BTreeMap<String, String>,
    /// Stored rows that could not be encoded, per topic: (count, first reason).
    pub unencodable: BTreeMap<String, (u64, String)>,
    pub messages: u64,
    /// Messages published more than [`LATE_AFTER`] after their slot (not counted under `max`,
    /// burst or play-next), and the latest of them.
    pub late: u64,
    pub max_late_us: u64,
    /// Times playback started again from the start (`--loop`).
    pub loops: u64,
    /// `end` (played to the end), `stop` (the stop service or control), `shutdown` (a signal).
    pub ended_by: &'static str,
    /// Reading from the server failed: the reason (playback ended there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_error: Option<String>,
}

struct Output {
    name: String,
    publisher: Box<dyn RawPublisher>,
    qos: Qos,
    published: u64,
    errors: u64,
    first_error: Option<String>,
}

/// A player, its publishers created, ready to [`run`](Player::run).
pub struct Player {
    sequence: String,
    topics: Arc<Vec<(ReplayTopic, TopicHandler)>>,
    outputs: Vec<Output>,
    clock: Option<Box<dyn RawPublisher>>,
    skipped: BTreeMap<String, String>,
    begin_ns: i64,
    /// Last recording time to play (inclusive).
    until_ns: Option<i64>,
    opts: PlayOptions,
    calls_tx: mpsc::Sender<PlayerCall>,
    calls: mpsc::Receiver<PlayerCall>,
}

impl SequenceHandler {
    /// A player of this sequence's topics chosen by `opts.select`, publishing through `transport`.
    pub async fn replay(&self, transport: Arc<dyn Transport>, opts: PlayOptions) -> Result<Player> {
        for t in &opts.select.topics {
            let t = crate::names::display_topic(t);
            if !self.topics().contains(&t) {
                return Err(Error::invalid(format!(
                    "sequence {} has no topic {t} (it has: {})",
                    self.name(),
                    self.topics().join(", ")
                )));
            }
        }
        let mut handlers = Vec::new();
        for t in self.topics() {
            if opts.select.wants(t) {
                handlers.push(self.topic(t).await?);
            }
        }
        Player::open(self.name(), handlers, transport, opts).await
    }
}

impl TopicHandler {
    /// A player of this one topic (`opts.select` is not consulted).
    pub async fn replay(&self, transport: Arc<dyn Transport>, opts: PlayOptions) -> Result<Player> {
        let sequence = self.info().sequence.clone();
        Player::open(&sequence, vec![self.clone()], transport, opts).await
    }
}

impl Player {
    /// Resolves each topic's type and encoder, finds where playback starts and creates the
    /// publishers (and the services, when `opts.services`).
    pub async fn open(
        sequence: &str,
        handlers: Vec<TopicHandler>,
        transport: Arc<dyn Transport>,
        opts: PlayOptions,
    ) -> Result<Player> {
        let mut topics = Vec::new();
        let mut skipped = BTreeMap::new();
        for h in handlers {
            match resolve_topic(h.info(), &opts.types) {
                Ok(r) => topics.push((r, h)),
                Err(why) => {
                    tracing::warn!("not played: {why}");
                    skipped.insert(h.info().topic.clone(), why);
                }
            }
        }
        if topics.is_empty() {
            return Err(Error::invalid(if skipped.is_empty() {
                format!("nothing to play: no topic of {sequence} is selected")
            } else {
                format!(
                    "nothing to play: no selected topic of {sequence} can be replayed ({})",
                    skipped.values().cloned().collect::<Vec<_>>().join("; ")
                )
            }));
        }
        let first = first_time(&topics).await?.ok_or_else(|| {
            Error::invalid(format!(
                "nothing to play: the selected topics of {sequence} hold no messages"
            ))
        })?;
        let begin_ns = first.saturating_add(opts.start_offset.as_nanos() as i64);
        let until_ns = [
            opts.playback_until_ns,
            opts.playback_duration
                .map(|d| begin_ns.saturating_add(d.as_nanos() as i64)),
        ]
        .into_iter()
        .flatten()
        .min();

        let mut outputs = Vec::with_capacity(topics.len());
        for (t, _) in &topics {
            let name = opts
                .remap
                .get(&t.topic)
                .cloned()
                .unwrap_or_else(|| t.topic.clone());
            let mut qos = offer_qos(&t.topic, &t.offered);
            if let Some(o) = opts
                .qos_overrides
                .get(&t.topic)
                .or(opts.qos_overrides.get(&name))
            {
                qos = o
                    .apply(qos)
                    .map_err(|e| Error::invalid(format!("QoS override of {}: {e}", t.topic)))?;
            }
            let publisher = transport.publisher(&name, &t.ros_type, qos)?;
            outputs.push(Output {
                name,
                publisher,
                qos,
                published: 0,
                errors: 0,
                first_error: None,
            });
        }
        let clock = match opts.clock_hz.map(clock_period).transpose()? {
            Some(_) => Some(transport.publisher("/clock", "rosgraph_msgs/msg/Clock", CLOCK_QOS)?),
            None => None,
        };
        let (calls_tx, calls) = mpsc::channel(16);
        if opts.services {
            if let Err(e) = transport.player_services(calls_tx.clone()) {
                tracing::warn!("playing without control services: {e}");
            }
        }
        Ok(Player {
            sequence: sequence.to_string(),
            topics: Arc::new(topics),
            outputs,
            clock,
            skipped,
            begin_ns,
            until_ns,
            opts,
            calls_tx,
            calls,
        })
    }

    /// A handle to drive the player while it runs.
    pub fn control(&self) -> PlayerControl {
        PlayerControl(self.calls_tx.clone())
    }

    /// The topics to play, in the order of the report.
    pub fn topics(&self) -> impl Iterator<Item = (&str, &str, &str, Qos)> {
        self.topics.iter().zip(&self.outputs).map(|((t, _), o)| {
            (
                t.topic.as_str(),
                o.name.as_str(),
                t.ros_type.as_str(),
                o.qos,
            )
        })
    }

    /// Plays until the end (the last pass with `--loop`: never), a stop, or `shutdown`; calls
    /// `status` about four times a second.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()>,
        mut status: impl FnMut(&Status),
    ) -> Result<PlayReport> {
        let Player {
            sequence,
            topics,
            outputs,
            clock,
            skipped,
            begin_ns,
            until_ns,
            opts,
            calls_tx,
            mut calls,
        } = self;
        drop(calls_tx);
        let (ahead, fed) = ReadAhead::new(
            topics.clone(),
            opts.read_ahead_bytes,
            tokio::runtime::Handle::current(),
        );
        let (cmd_tx, cmd_rx) = crossbeam_channel::unbounded::<Command>();
        let shared = Arc::new(Mutex::new(Status {
            begin_ns,
            end_ns: until_ns,
            time_ns: begin_ns,
            paused: opts.start_paused,
            rate: opts.rate.factor(),
            ..Default::default()
        }));
        let forward = {
            let cmd_tx = cmd_tx.clone();
            tokio::spawn(async move {
                while let Some(c) = calls.recv().await {
                    if cmd_tx.send(Command::Call(c)).is_err() {
                        break;
                    }
                }
            })
        };
        let range = TimeRange {
            start_ns: Some(begin_ns),
            end_ns: until_ns.map(|u| u.saturating_add(1)),
        };
        let now = Instant::now();
        let mut scheduler = Scheduler {
            timeline: Timeline::new(begin_ns, now + opts.delay, opts.rate, opts.start_paused),
            ahead,
            fed,
            commands: cmd_rx,
            head: None,
            ended: false,
            failed: None,
            range,
            begin_ns,
            until_ns,
            loop_playback: opts.loop_playback,
            outputs,
            clock: clock.map(|p| Clock {
                publisher: p,
                // Checked when the player was made.
                period: clock_period(opts.clock_hz.unwrap_or(1.0))
                    .unwrap_or(Duration::from_secs(1)),
                next: now,
            }),
            late: 0,
            max_late: Duration::ZERO,
            loops: 0,
            status: shared.clone(),
        };
        let (done_tx, mut done) = oneshot::channel();
        std::thread::Builder::new()
            .name("player".into())
            .spawn(move || {
                let ended_by = scheduler.run();
                let _ = done_tx.send((ended_by, scheduler));
            })
            .map_err(|e| Error::Ros(format!("cannot start the player's thread: {e}")))?;

        let mut shutdown = std::pin::pin!(shutdown);
        let mut shut = false;
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let (ended_by, scheduler) = loop {
            tokio::select! {
                r = &mut done => break r.map_err(|_| Error::Ros("the player's thread panicked".into()))?,
                _ = &mut shutdown, if !shut => {
                    shut = true;
                    let _ = cmd_tx.send(Command::Shutdown);
                }
                _ = tick.tick() => status(&shared.lock().expect("status lock")),
            }
        };
        forward.abort();
        status(&shared.lock().expect("status lock"));
        let unencodable = scheduler
            .ahead
            .unencodable
            .lock()
            .expect("unencodable lock")
            .iter()
            .map(|(i, v)| (topics[*i].0.topic.clone(), v.clone()))
            .collect();
        let report = PlayReport {
            sequence,
            messages: scheduler.outputs.iter().map(|o| o.published).sum(),
            topics: topics
                .iter()
                .zip(&scheduler.outputs)
                .map(|((t, _), o)| {
                    (
                        t.topic.clone(),
                        PlayedTopic {
                            published_on: o.name.clone(),
                            ros_type: t.ros_type.clone(),
                            qos: o.qos,
                            published: o.published,
                            publish_errors: o.errors,
                            first_publish_error: o.first_error.clone(),
                        },
                    )
                })
                .collect(),
            skipped,
            unencodable,
            late: scheduler.late,
            max_late_us: scheduler.max_late.as_micros() as u64,
            loops: scheduler.loops,
            ended_by,
            read_error: scheduler.failed.clone(),
        };
        Ok(report)
    }
}

/// The first message time of `topics`: from the server's topic intervals when every topic has
/// one, else by reading the first message.
/// The period of a `/clock` published at `hz`: refused unless it is a positive number of
/// nanoseconds and at most a year (a tiny rate would overflow `Duration`, a huge one spin).
pub fn clock_period(hz: f64) -> Result<Duration> {
    match Duration::try_from_secs_f64(1.0 / hz) {
        Ok(p) if hz > 0.0 && p >= Duration::from_nanos(1) && p.as_secs_f64() <= 3.2e7 => Ok(p),
        _ => Err(Error::invalid(format!(
            "--clock {hz}: give a /clock rate from 3.2e-8 Hz (once a year) to 1e9 Hz"
        ))),
    }
}

async fn first_time(topics: &[(ReplayTopic, TopicHandler)]) -> Result<Option<i64>> {
    let intervals: Option<Vec<i64>> = topics
        .iter()
        .map(|(_, h)| h.info().interval.map(|i| i.0))
        .collect();
    if let Some(starts) = intervals {
        return Ok(starts.into_iter().min());
    }
    let mut msgs = Messages::open(topics, TimeRange::default()).await?;
    Ok(msgs.next().await?.map(|m| m.timestamp_ns))
}

enum Command {
    Call(PlayerCall),
    Shutdown,
}

struct Clock {
    publisher: Box<dyn RawPublisher>,
    period: Duration,
    next: Instant,
}

impl Clock {
    /// `rosgraph_msgs/msg/Clock` CDR (little endian) of recording time `t_ns`.
    fn cdr(t_ns: i64) -> [u8; 12] {
        let sec = t_ns.div_euclid(1_000_000_000) as i32;
        let nanosec = t_ns.rem_euclid(1_000_000_000) as u32;
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&[0, 1, 0, 0]);
        b[4..8].copy_from_slice(&sec.to_le_bytes());
        b[8..].copy_from_slice(&nanosec.to_le_bytes());
        b
    }
}

struct Scheduler {
    timeline: Timeline,
    ahead: ReadAhead,
    fed: Receiver<Fed>,
    commands: Receiver<Command>,
    /// The next message of the current generation, read ahead.
    head: Option<Ahead>,
    /// The current generation has no more messages.
    ended: bool,
    failed: Option<String>,
    range: TimeRange,
    begin_ns: i64,
    until_ns: Option<i64>,
    loop_playback: bool,
    outputs: Vec<Output>,
    clock: Option<Clock>,
    late: u64,
    max_late: Duration,
    loops: u64,
    status: Arc<Mutex<Status>>,
}

impl Scheduler {
    /// Plays; returns how playback ended.
    fn run(&mut self) -> &'static str {
        self.ahead.start(self.range);
        loop {
            self.take_ready();
            if self.head.is_none() && self.ended {
                if self.failed.is_some() {
                    return "end";
                }
                if !self.loop_playback {
                    return "end";
                }
                self.loops += 1;
                self.status.lock().expect("status lock").loops = self.loops;
                self.restart(self.begin_ns, Instant::now());
                continue;
            }
            let now = Instant::now();
            let due = self
                .head
                .as_ref()
                .and_then(|h| self.timeline.deadline(h.message.timestamp_ns));
            if let Some(due) = due {
                if due <= now {
                    let late = now - due;
                    let ahead = self.head.take().expect("a head is due");
                    if self.timeline.rate() == Rate::Max {
                        self.timeline.jump(ahead.message.timestamp_ns, now);
                    } else if late > LATE_AFTER {
                        self.late += 1;
                        self.max_late = self.max_late.max(late);
                    }
                    self.publish(ahead);
                    continue;
                }
            }
            self.tick_clock(now);
            let wake = [due, self.clock.as_ref().map(|c| c.next)]
                .into_iter()
                .flatten()
                .min();
            let timeout = wake.map_or(Duration::from_millis(250), |w| {
                w.saturating_duration_since(now)
            });
            let none = never();
            let fed = if self.head.is_none() && !self.ended {
                &self.fed
            } else {
                &none
            };
            select! {
                recv(self.commands) -> c => match c {
                    Ok(Command::Call(call)) => {
                        if let Some(ended) = self.call(call) {
                            return ended;
                        }
                    }
                    Ok(Command::Shutdown) | Err(_) => return "shutdown",
                },
                recv(fed) -> f => if let Ok(f) = f { self.accept(f) },
                default(timeout) => {}
            }
        }
    }

    /// Takes what the read-ahead has ready, without waiting, until there is a head.
    fn take_ready(&mut self) {
        while self.head.is_none() && !self.ended {
            match self.fed.try_recv() {
                Ok(f) => self.accept(f),
                Err(_) => break,
            }
        }
    }

    /// Waits for the head (play-next and burst); `false` at the end of the current pass.
    fn wait_head(&mut self) -> bool {
        while self.head.is_none() && !self.ended {
            match self.fed.recv() {
                Ok(f) => self.accept(f),
                Err(_) => self.ended = true,
            }
        }
        self.head.is_some()
    }

    fn accept(&mut self, f: Fed) {
        let current = self.ahead.generation();
        match f {
            Fed::Message(g, a) if g == current => self.head = Some(a),
            Fed::End(g) if g == current => self.ended = true,
            Fed::Failed(g, e) if g == current => {
                tracing::error!("reading the sequence failed, playback ends: {e}");
                self.failed = Some(e);
                self.ended = true;
            }
            _ => {} // an earlier generation's, before a seek or loop
        }
    }

    fn restart(&mut self, from_ns: i64, now: Instant) {
        let range = TimeRange {
            start_ns: Some(from_ns),
            ..self.range
        };
        self.ahead.start(range);
        self.head = None;
        self.ended = false;
        self.timeline.jump(from_ns, now);
    }

    fn publish(&mut self, ahead: Ahead) {
        let m = &ahead.message;
        let o = &mut self.outputs[m.topic];
        match o.publisher.publish(&m.cdr) {
            Ok(()) => o.published += 1,
            Err(e) => {
                if o.first_error.is_none() {
                    tracing::warn!(topic = o.name, "publishing failed: {e}");
                    o.first_error = Some(e.to_string());
                }
                o.errors += 1;
            }
        }
        let mut s = self.status.lock().expect("status lock");
        s.published += 1;
        s.late = self.late;
        s.time_ns = m.timestamp_ns;
    }

    fn tick_clock(&mut self, now: Instant) {
        let Some(c) = &mut self.clock else { return };
        if c.next > now {
            return;
        }
        let t = self.timeline.now_ns(now);
        if let Err(e) = c.publisher.publish(&Clock::cdr(t)) {
            tracing::debug!("publishing /clock failed: {e}");
        }
        c.next += c.period;
        if c.next <= now {
            c.next = now + c.period; // fell behind: no burst of stale ticks
        }
    }

    /// Answers a call; `Some(how)` when it ends playback.
    fn call(&mut self, call: PlayerCall) -> Option<&'static str> {
        let now = Instant::now();
        let paused = self.timeline.paused();
        let reply = match call.request {
            PlayerRequest::Pause => {
                self.timeline.pause(now);
                PlayerReply::Done
            }
            PlayerRequest::Resume => {
                self.timeline.resume(now);
                PlayerReply::Done
            }
            PlayerRequest::TogglePaused => {
                if paused {
                    self.timeline.resume(now)
                } else {
                    self.timeline.pause(now)
                }
                PlayerReply::Done
            }
            PlayerRequest::IsPaused => PlayerReply::Flag(paused),
            PlayerRequest::GetRate => PlayerReply::Rate(self.timeline.rate().factor()),
            PlayerRequest::SetRate(r) => {
                let ok = Rate::valid(r);
                if ok {
                    self.timeline.set_rate(Rate::Factor(r), now);
                }
                PlayerReply::Flag(ok)
            }
            PlayerRequest::PlayNext => PlayerReply::Flag(paused && self.play_now(1) == 1),
            PlayerRequest::Burst(n) => {
                PlayerReply::Count(if paused { self.play_now(n) } else { 0 })
            }
            PlayerRequest::Seek(t) => {
                let t = t.max(self.begin_ns);
                let ok = self.until_ns.is_none_or(|u| t <= u);
                if ok {
                    self.restart(t, now);
                }
                PlayerReply::Flag(ok)
            }
            PlayerRequest::Stop => {
                let _ = call.respond.send(PlayerReply::Done);
                return Some("stop");
            }
        };
        let _ = call.respond.send(reply);
        let mut s = self.status.lock().expect("status lock");
        s.paused = self.timeline.paused();
        s.rate = self.timeline.rate().factor();
        None
    }

    /// Publishes the next `n` messages (0: to the end of this pass) at once, then holds the
    /// timeline at the last of them; returns how many.
    fn play_now(&mut self, n: u64) -> u64 {
        let mut k = 0;
        let mut last = None;
        while (n == 0 || k < n) && self.wait_head() {
            let ahead = self.head.take().expect("waited for");
            last = Some(ahead.message.timestamp_ns);
            self.publish(ahead);
            k += 1;
        }
        if let Some(t) = last {
            self.timeline.jump(t, Instant::now());
        }
        k
    }
}
