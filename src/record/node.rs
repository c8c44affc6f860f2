//! The recorder node: sessions on demand (`~/start`, `~/stop`, `~/split`, autostart), periodic
//! discovery and splits, status on `/diagnostics`, recovery after faults, and a bounded shutdown.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::time::{interval, Instant, MissedTickBehavior};
use tracing::{error, info, warn};

use super::clock::RecordClock;
use super::diagnostics::{self, NodeState, RateMeter};
use super::live::{adapter_options, LiveSession, RosGraph, SessionOutcome, TopicStatus};
use super::session::Resume;
use super::spooled::SpooledSession;
use crate::config::RecordConfig;
use crate::control::channel::{ConnectOptions, ServerAddr, Tls};
use crate::error::{Error, Result};
use crate::handlers::MosaicoClient;
use crate::transport::{now_ns, Qos, RawPublisher, Transport, TriggerCall};
use crate::upload::spool_dir::SpoolLock;
use crate::upload::{UploadConfig, Uploader};

/// How often the graph is searched for new topics.
pub const DISCOVERY_PERIOD: Duration = Duration::from_millis(500);
/// Retry delays while the server is unreachable: doubling up to the maximum.
pub const RETRY_MIN: Duration = Duration::from_millis(500);
pub const RETRY_MAX: Duration = Duration::from_secs(10);

/// A recording in progress: into the spool, or straight to the server (diskless).
enum Active {
    Spooled(Box<SpooledSession>),
    Direct(Box<LiveSession>),
}

impl Active {
    fn sequence(&self) -> &str {
        match self {
            Active::Spooled(s) => &s.sequence,
            Active::Direct(s) => &s.sequence,
        }
    }
    /// Where the current part is written (the sequence name of the part).
    fn part_sequence(&self) -> String {
        match self {
            Active::Spooled(s) => s.sequence.clone(),
            Active::Direct(s) => s.part_sequence(),
        }
    }
    fn part(&self) -> u32 {
        match self {
            Active::Spooled(s) => s.part(),
            Active::Direct(s) => s.part(),
        }
    }
    fn status(&self) -> Vec<TopicStatus> {
        match self {
            Active::Spooled(s) => s.status(),
            Active::Direct(s) => s.status(),
        }
    }
}

/// Where the node is.
enum State {
    Idle,
    Recording(Active),
    /// Waiting for the server; `resume` continues a session broken by a fault.
    Waiting {
        reason: String,
        retry_at: Instant,
        delay: Duration,
        resume: Option<Resume>,
    },
}

/// What the node did, returned when it shuts down.
#[derive(Debug, Default, Serialize)]
pub struct NodeReport {
    pub sessions: Vec<SessionOutcome>,
    /// Whether the last session ended within the stop timeout.
    pub clean_shutdown: bool,
    /// Segments of earlier runs still in the spool at exit (uploaded by the next run).
    pub spool_backlog_segments: u64,
}

/// How a run of the recorder ended, for a supervisor: `record`'s exit status (README, "Exit
/// status"). Ordered from worst to best; a run gets the worst that applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// A session did not end within `stop_timeout_s`.
    Unclean,
    /// Messages the recorder received will never be stored: dropped by the queue policy,
    /// malformed, over the server's limit, refused by a full spool, or in a failed diskless part.
    Lost,
    /// Nothing received is lost, but some of it waits in the spool for the server.
    Pending,
    /// Everything received is on the server, but the middleware lost messages before delivering
    /// them (DDS sequence gaps, r2r inbox overflow): typical of best-effort sensor streams.
    MiddlewareLost,
    /// Everything received is committed on the server, and the middleware reported no loss.
    Clean,
}

impl NodeReport {
    pub fn ending(&self) -> Ending {
        let topics = || self.sessions.iter().flat_map(|s| s.topics.iter());
        if !self.clean_shutdown {
            Ending::Unclean
        } else if topics().any(|t| t.not_stored() > 0) {
            Ending::Lost
        } else if self.spool_backlog_segments > 0
            || self.sessions.iter().any(|s| s.state == "spooled")
            || topics().any(|t| t.pending > 0)
        {
            Ending::Pending
        } else if topics().any(|t| t.middleware_lost > 0) {
            Ending::MiddlewareLost
        } else {
            Ending::Clean
        }
    }
}

/// The recorder, ready to run.
pub struct RecorderNode {
    cfg: Arc<RecordConfig>,
    transport: Arc<dyn Transport>,
    graph: RosGraph,
    host: String,
    counter: u32,
    client: Option<MosaicoClient>,
    diagnostics: Option<Box<dyn RawPublisher>>,
    loss_events: Option<Box<dyn RawPublisher>>,
    losses: diagnostics::LossTracker,
    rates: RateMeter,
    /// The one-line status, for a terminal (`status_lines`).
    line: Option<tokio::sync::watch::Sender<String>>,
    /// Name remappings (`--ros-args -r from:=to`) for the node's own services and publications.
    remaps: Vec<(String, String)>,
    /// With the spool: the uploader of the spool, and the hold on it.
    uploader: Option<Arc<Uploader>>,
    _spool_lock: Option<SpoolLock>,
}

impl RecorderNode {
    pub fn new(cfg: RecordConfig, transport: Arc<dyn Transport>) -> Result<Self> {
        let matcher = cfg
            .topics
            .compile()
            .map_err(|(key, msg)| Error::Config(format!("topics.{key}: {msg}")))?;
        let diagnostics =
            match transport.publisher(diagnostics::TOPIC, diagnostics::ROS_TYPE, Qos::DEFAULT) {
                Ok(p) => Some(p),
                Err(e) => {
                    warn!(error = %e, "no /diagnostics publisher; status goes to the log only");
                    None
                }
            };
        let loss_events = transport
            .publisher(
                diagnostics::LOSS_EVENTS,
                diagnostics::ROS_TYPE,
                Qos::DEFAULT,
            )
            .map_err(|e| warn!(error = %e, "no loss-event publisher; losses go to the log only"))
            .ok();
        let clock = if cfg.use_sim_time {
            RecordClock::sim(&*transport)?
        } else {
            RecordClock::system()
        };
        Ok(RecorderNode {
            cfg: Arc::new(cfg),
            graph: RosGraph {
                transport: transport.clone(),
                matcher: Arc::new(matcher),
                clock,
            },
            transport,
            host: diagnostics::hostname(),
            counter: 0,
            client: None,
            diagnostics,
            loss_events,
            losses: diagnostics::LossTracker::default(),
            rates: RateMeter::default(),
            line: None,
            remaps: Vec::new(),
            uploader: None,
            _spool_lock: None,
        })
    }

    /// The node's one-line status, renewed every `diagnostics_period_s` (a terminal shows it).
    pub fn status_lines(&mut self) -> tokio::sync::watch::Receiver<String> {
        let (tx, rx) = tokio::sync::watch::channel(String::new());
        self.line = Some(tx);
        rx
    }

    /// Applies `from:=to` remappings to the node's services (e.g. `~/start:=/recorder/start`).
    pub fn with_remaps(mut self, remaps: Vec<(String, String)>) -> Self {
        self.remaps = remaps;
        self
    }

    fn service(&self, name: &str) -> Result<mpsc::Receiver<TriggerCall>> {
        let target = self
            .remaps
            .iter()
            .find(|(from, _)| from == name)
            .map(|(_, to)| to.as_str())
            .unwrap_or(name);
        Ok(self.transport.trigger_service(target)?)
    }

    fn connect_options(&self) -> ConnectOptions {
        let c = &self.cfg;
        ConnectOptions {
            timeout: Duration::from_secs_f64(c.connect_timeout_s),
            call_timeout: Duration::from_secs_f64(c.call_timeout_s),
            api_key: c.api_key().map(str::to_string),
            tls: match c.tls_ca() {
                Some(p) => Tls::CustomCa(p),
                None => Tls::Auto,
            },
            gzip: c.gzip,
            generation: c.generation.fixed(),
            data_channels: c.pool.data_channels as usize,
            workers: c.pool.workers as usize,
        }
    }

    async fn client(&mut self) -> Result<MosaicoClient> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        let addr = ServerAddr::parse(&self.cfg.server)?;
        let c = MosaicoClient::connect_with(&addr, self.connect_options()).await?;
        info!(server = %addr, generation = ?c.generation(), "connected");
        self.client = Some(c.clone());
        Ok(c)
    }

    /// Takes the spool and starts its uploader (which first uploads what earlier runs left).
    fn open_spool(&mut self) -> Result<()> {
        let root = self.cfg.spool.root();
        self._spool_lock = Some(SpoolLock::acquire(&root)?);
        let cfg = self.cfg.clone();
        let d = crate::handlers::WriterOptions::default();
        let up = Uploader::start(UploadConfig {
            root: root.clone(),
            server: ServerAddr::parse(&self.cfg.server)?,
            connect: self.connect_options(),
            keep: self.cfg.spool.keep,
            adapters: Arc::new(move |topic: &str| adapter_options(&cfg, topic)),
            writer: crate::handlers::WriterOptions {
                max_batch_bytes: (self.cfg.batch.max_bytes > 0)
                    .then_some(self.cfg.batch.max_bytes as usize),
                max_in_flight: match self.cfg.batch.max_in_flight {
                    0 => d.max_in_flight,
                    n => n as usize,
                },
            },
        });
        info!(spool = %root.display(), "spool open; uploading to {}", self.cfg.server);
        self.uploader = Some(Arc::new(up));
        Ok(())
    }

    /// A fixed `sequence.name` is one recording: refused when the server already holds a
    /// sequence of that name from another recording, unless the spool holds that recording
    /// (a restart after a crash continues it). An unreachable server is no reason not to record:
    /// the clash is then reported when the part is uploaded.
    async fn fixed_name_is_free(&mut self) -> Result<()> {
        let name = self.cfg.sequence.name.clone();
        if name.is_empty() {
            return Ok(());
        }
        let (spooled, _) = crate::upload::spool_dir::scan(&self.cfg.spool.root())?;
        if spooled.iter().any(|s| s.facts.sequence == name) {
            return Ok(());
        }
        let limit = Duration::from_secs_f64(self.cfg.connect_timeout_s.min(5.0));
        let probe = async {
            let c = self.client().await?;
            c.sequence_handler(&name).await
        };
        match tokio::time::timeout(limit, probe).await {
            Ok(Ok(_)) => Err(Error::AlreadyExists {
                what: format!("sequence `{name}`"),
                message: "a fixed sequence.name is one recording: choose another name, or use the template".into(),
            }),
            _ => Ok(()),
        }
    }

    /// Starts (or resumes) a session; on failure the node waits for the server.
    async fn begin(&mut self, resume: Option<Resume>, delay: Duration) -> State {
        if resume.is_none() {
            self.counter += 1;
        }
        if let Some(up) = self.uploader.clone() {
            if let Err(e) = self.fixed_name_is_free().await {
                error!(error = %e, "cannot start recording");
                return State::Idle;
            }
            return match SpooledSession::start(
                self.cfg.clone(),
                self.graph.clone(),
                up,
                &self.host,
                self.counter,
            ) {
                Ok(s) => State::Recording(Active::Spooled(Box::new(s))),
                Err(e) => {
                    error!(error = %e, "cannot start recording into the spool");
                    State::Idle
                }
            };
        }
        let client = match self.client().await {
            Ok(c) => c,
            Err(e) => return self.wait(format!("server unreachable: {e}"), resume, delay),
        };
        match LiveSession::start(
            client,
            self.cfg.clone(),
            self.graph.clone(),
            &self.host,
            self.counter,
            resume.as_ref(),
        )
        .await
        {
            Ok(s) => State::Recording(Active::Direct(Box::new(s))),
            Err(e) => {
                // A fixed name already used is a configuration problem, not an outage.
                if matches!(e, Error::AlreadyExists { .. }) && resume.is_none() {
                    error!(error = %e, "cannot start recording: the sequence exists (choose another sequence.name or use the template)");
                    return State::Idle;
                }
                if matches!(
                    e,
                    Error::Connect { .. } | Error::Transport { .. } | Error::Timeout { .. }
                ) {
                    self.client = None;
                }
                self.wait(format!("cannot start recording: {e}"), resume, delay)
            }
        }
    }

    fn wait(&self, reason: String, resume: Option<Resume>, delay: Duration) -> State {
        warn!(%reason, retry_in_s = delay.as_secs_f64(), "waiting for the server");
        State::Waiting {
            reason,
            retry_at: Instant::now() + delay,
            delay,
            resume,
        }
    }

    fn publish_status(&mut self, state: &State) {
        let (node_state, topics) = match state {
            State::Idle => (NodeState::Idle, vec![]),
            State::Recording(s) => (
                NodeState::Recording {
                    sequence: s.part_sequence(),
                    part: s.part(),
                },
                s.status(),
            ),
            State::Waiting { reason, .. } => (
                NodeState::Waiting {
                    reason: reason.clone(),
                },
                vec![],
            ),
        };
        let uplink = self.uploader.as_ref().map(|u| u.status());
        let rates = self.rates.rates(&topics);
        let cdr = diagnostics::diagnostics(
            &self.transport.node_name(),
            self.graph.clock.now_ns(),
            &node_state,
            uplink.as_ref(),
            &topics,
            &rates,
        );
        if let Some(tx) = &self.line {
            let _ = tx.send(diagnostics::status_line(
                &node_state,
                uplink.as_ref(),
                &topics,
                &rates,
            ));
        }
        if let Some(p) = &self.diagnostics {
            if let Err(e) = p.publish(&cdr) {
                warn!(error = %e, "publishing diagnostics failed");
            }
        }
        let node = self.transport.node_name();
        if let Some(event) = self.losses.event(now_ns(), &node, &topics) {
            warn!("messages lost: see {}", diagnostics::LOSS_EVENTS);
            if let Some(p) = &self.loss_events {
                if let Err(e) = p.publish(&event) {
                    warn!(error = %e, "publishing a loss event failed");
                }
            }
        }
    }

    /// Runs until `shutdown` resolves, then stops the session within `stop_timeout_s`.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<NodeReport> {
        let mut start = self.service("~/start")?;
        let mut stop = self.service("~/stop")?;
        let mut split = self.service("~/split")?;
        let mut report = NodeReport::default();
        if self.cfg.spool.enabled {
            self.open_spool()?;
        }
        let mut state = if self.cfg.autostart {
            self.begin(None, RETRY_MIN).await
        } else {
            State::Idle
        };
        let mut tick = interval(DISCOVERY_PERIOD);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut diag = interval(Duration::from_secs_f64(
            self.cfg.diagnostics_period_s.max(0.05),
        ));
        diag.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        info!(node = %self.transport.node_name(), backend = self.transport.backend(), "recorder node up");
        super::notify::notify(&format!(
            "READY=1\nSTATUS={}",
            match &state {
                State::Recording(s) => format!("recording {}", s.sequence()),
                State::Waiting { reason, .. } => format!("waiting for the server: {reason}"),
                State::Idle => "idle (call ~/start)".into(),
            }
        ));

        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                Some(call) = start.recv() => {
                    state = self.on_start(state, call).await;
                }
                Some(call) = stop.recv() => {
                    let (s, answer, _) = self.stop_session(state, &mut report).await;
                    state = s;
                    let _ = call.respond.send(answer);
                }
                Some(call) = split.recv() => {
                    let answer = match &mut state {
                        State::Recording(Active::Direct(s)) => match s.split().await {
                            Ok(done) => (true, format!("finalized {} (part {}); recording part {}", done.sequence, done.part, s.part())),
                            Err(e) => (false, format!("split failed: {e}")),
                        },
                        State::Recording(Active::Spooled(s)) => match s.split().await {
                            Ok(part) => (true, format!("part {} sealed in the spool (uploading); recording part {part}", part - 1)),
                            Err(e) => (false, format!("split failed: {e}")),
                        },
                        _ => (false, "not recording".to_string()),
                    };
                    let _ = call.respond.send(answer);
                }
                _ = tick.tick() => {
                    state = self.poll(state, &mut report).await;
                }
                _ = diag.tick() => self.publish_status(&state),
            }
        }

        info!("shutting down: stop accepting, flush, finalize");
        super::notify::notify(
            "STOPPING=1\nSTATUS=stopping: sealing the spool, uploading what it can",
        );
        let started = Instant::now();
        let (_, _, in_time) = self.stop_session(state, &mut report).await;
        report.clean_shutdown = in_time;
        if let Some(up) = self.uploader.take() {
            // Earlier runs' backlog gets whatever is left of the stop timeout.
            let limit = Duration::from_secs_f64(self.cfg.stop_timeout_s);
            let deadline = started + limit.mul_f64(0.9);
            if let Ok(up) = Arc::try_unwrap(up) {
                let st = up.finish(deadline).await;
                report.spool_backlog_segments = st.backlog_segments;
                if st.backlog_segments > 0 {
                    warn!(
                        segments = st.backlog_segments,
                        bytes = st.backlog_bytes,
                        "left in the spool for the next run"
                    );
                }
            }
        }
        if let Some(c) = &self.client {
            c.close();
        }
        Ok(report)
    }

    async fn on_start(&mut self, state: State, call: TriggerCall) -> State {
        let (state, answer) = match state {
            State::Recording(s) => {
                let msg = format!("already recording {}", s.part_sequence());
                (State::Recording(s), (false, msg))
            }
            State::Idle | State::Waiting { .. } => {
                let begun = self.begin(None, RETRY_MIN).await;
                let answer = match &begun {
                    State::Recording(s) => (true, format!("recording {}", s.sequence())),
                    State::Waiting { reason, .. } => (false, reason.clone()),
                    State::Idle => (false, "cannot start recording (see the log)".into()),
                };
                (begun, answer)
            }
        };
        let _ = call.respond.send(answer);
        state
    }

    /// Stops the session within `stop_timeout_s`; the last value says whether it finished in time.
    async fn stop_session(
        &mut self,
        state: State,
        report: &mut NodeReport,
    ) -> (State, (bool, String), bool) {
        let limit = Duration::from_secs_f64(self.cfg.stop_timeout_s);
        match tokio::time::timeout(limit, self.stop_now(state, report)).await {
            Ok((state, answer)) => (state, answer, true),
            Err(_) => {
                error!(
                    timeout_s = self.cfg.stop_timeout_s,
                    "the session did not finish in time; its last part stays unfinalized on the server"
                );
                self.client = None;
                let msg = format!(
                    "the session did not finish within {} s",
                    self.cfg.stop_timeout_s
                );
                (State::Idle, (false, msg), false)
            }
        }
    }

    async fn stop_now(&mut self, state: State, report: &mut NodeReport) -> (State, (bool, String)) {
        match state {
            State::Recording(s) => {
                let out = match s {
                    Active::Direct(s) => s.stop().await,
                    Active::Spooled(s) => {
                        // A margin inside stop_timeout_s, so the report is made in time.
                        let limit = Duration::from_secs_f64(self.cfg.stop_timeout_s);
                        s.stop(Instant::now() + limit.mul_f64(0.8)).await
                    }
                };
                let ok = out.state == "finalized";
                let msg = stop_reply(&out);
                report.sessions.push(out);
                (State::Idle, (ok, msg))
            }
            State::Waiting { .. } => (State::Idle, (true, "stopped waiting for the server".into())),
            State::Idle => (State::Idle, (false, "not recording".into())),
        }
    }

    async fn poll(&mut self, state: State, report: &mut NodeReport) -> State {
        match state {
            State::Recording(Active::Spooled(mut s)) => {
                s.discover();
                State::Recording(Active::Spooled(s))
            }
            State::Recording(Active::Direct(mut s)) => {
                s.check_server().await;
                if let Some(reason) = s.fault() {
                    let out = s.fail(&reason).await;
                    let resume = out.resume.clone();
                    report.sessions.push(out);
                    self.client = None;
                    return self.wait(reason, resume, RETRY_MIN);
                }
                s.discover();
                if s.split_due() {
                    if let Err(e) = s.split().await {
                        warn!(error = %e, "split failed");
                    }
                }
                State::Recording(Active::Direct(s))
            }
            waiting @ State::Waiting { retry_at, .. } if Instant::now() < retry_at => waiting,
            State::Waiting { delay, resume, .. } => {
                self.begin(resume, (delay * 2).min(RETRY_MAX)).await
            }
            State::Idle => State::Idle,
        }
    }
}

/// A shutdown future resolving on SIGINT or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled: a supervisor may signal as soon as the node says
/// it is ready, and the default action (terminate) must never apply. Call it inside the runtime.
#[cfg(unix)]
pub fn signals() -> impl Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    async move {
        tokio::select! {
            _ = int.recv() => info!("SIGINT"),
            _ = term.recv() => info!("SIGTERM"),
        }
    }
}

#[cfg(not(unix))]
pub fn signals() -> impl Future<Output = ()> {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A channel-driven shutdown for embedding (tests, the demo).
pub fn shutdown_channel() -> (mpsc::Sender<()>, impl Future<Output = ()>) {
    let (tx, mut rx) = mpsc::channel::<()>(1);
    (tx, async move {
        let _ = rx.recv().await;
    })
}

/// The `~/stop` reply: what was committed, what waits in the spool, what was received and not
/// stored, and apart from those what the middleware lost before delivering it.
fn stop_reply(out: &SessionOutcome) -> String {
    let sum =
        |f: fn(&crate::upload::pipe::TopicReport) -> u64| out.topics.iter().map(f).sum::<u64>();
    let mut msg = format!(
        "{} {}: {} topic{}, {} messages committed",
        out.state,
        out.sequence,
        out.topics.len(),
        if out.topics.len() == 1 { "" } else { "s" },
        sum(|t| t.written)
    );
    let pending = sum(|t| t.pending);
    if pending > 0 {
        msg += &format!(", {pending} kept in the spool");
    }
    msg += &format!(", {} received and not stored", out.lost);
    if out.middleware_lost > 0 {
        msg += &format!(
            ", {} lost in the middleware before delivery",
            out.middleware_lost
        );
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upload::pipe::TopicReport;

    fn report(state: &str, topic: TopicReport) -> NodeReport {
        NodeReport {
            sessions: vec![SessionOutcome {
                sequence: "s".into(),
                session_id: "id".into(),
                parts: vec![],
                state: state.into(),
                error: None,
                topics: vec![topic],
                lost: 0,
                middleware_lost: 0,
                resume: None,
            }
            .counted()],
            clean_shutdown: true,
            spool_backlog_segments: 0,
        }
    }

    /// The README's exit-status table: the worst that applies wins.
    #[test]
    fn a_run_ends_with_the_worst_that_applies() {
        let t = |f: fn(&mut TopicReport)| {
            let mut t = TopicReport {
                received: 10,
                written: 10,
                committed: 10,
                ..Default::default()
            };
            f(&mut t);
            t
        };
        assert_eq!(report("finalized", t(|_| {})).ending(), Ending::Clean);
        let mw = t(|t| t.middleware_lost = 2);
        assert_eq!(report("finalized", mw).ending(), Ending::MiddlewareLost);
        let pending = t(|t| {
            t.pending = 3;
            t.middleware_lost = 2;
        });
        assert_eq!(report("spooled", pending).ending(), Ending::Pending);
        let mut backlog = report("finalized", t(|_| {}));
        backlog.spool_backlog_segments = 1;
        assert_eq!(backlog.ending(), Ending::Pending);
        let lost = t(|t| {
            t.malformed = 1;
            t.pending = 3;
        });
        assert_eq!(report("spooled", lost).ending(), Ending::Lost);
        let mut unclean = report("finalized", t(|t| t.dropped = 1));
        unclean.clean_shutdown = false;
        assert_eq!(unclean.ending(), Ending::Unclean);
        assert_eq!(
            stop_reply(&report("finalized", t(|t| t.middleware_lost = 2)).sessions[0]),
            "finalized s: 1 topic, 10 messages committed, 0 received and not stored, \
             2 lost in the middleware before delivery"
        );
    }
}
