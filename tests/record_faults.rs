//! The server dies mid-recording: the error policy applies, the loss is reported (also on
//! /diagnostics), and the same recording continues in a new part once the server is back.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use mosaico_bridge::config::RecordConfig;
use mosaico_bridge::demo::SyntheticRobot;
use mosaico_bridge::handlers::OnError;
use mosaico_bridge::record::node::shutdown_channel;
use mosaico_bridge::record::RecorderNode;
use mosaico_bridge::ros::cdr::{CdrCodec, CdrReader};
use mosaico_bridge::ros::msgs::diagnostic_msgs::DiagnosticArray;
use mosaico_bridge::ros::msgs::sensor_msgs::Imu;
use mosaico_bridge::ros::RosMessage;
use mosaico_bridge::server::{serve, ServerConfig};
use mosaico_bridge::transport::memory::{MemoryBus, MemoryTransport};
use mosaico_bridge::transport::{
    GraphTopic, OnMessage, Qos, RawMessage, RawPublisher, Subscription, Transport, TransportError,
    TriggerCall,
};
use mosaico_bridge::Generation;

/// A server that can be killed like a crashed process: its runtime, and every connection, goes.
struct Killable {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Killable {
    fn start(port: u16, generation: Generation) -> Killable {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("port is free");
        listener.set_nonblocking(true).unwrap();
        let (stop, wait) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.spawn(async move {
                let l = tokio::net::TcpListener::from_std(listener).unwrap();
                let cfg = ServerConfig {
                    generation,
                    ..Default::default()
                };
                let _ = serve(l, cfg, std::future::pending()).await;
            });
            let _ = wait.recv();
            rt.shutdown_background();
        });
        Killable {
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn kill(mut self) {
        drop(self.stop.take());
        self.thread.take().unwrap().join().unwrap();
    }
}

impl Drop for Killable {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// What the middleware handed to one of the recorder's subscriptions: its topic and every message.
type Delivered = (String, Arc<Mutex<Vec<Bytes>>>);

/// The recorder's transport with a tap between the bus and each of its subscriptions: the test's
/// own count of what the recorder was given (one list per subscription, in subscription order), to
/// hold its report and the server against.
struct Tap {
    inner: MemoryTransport,
    delivered: Arc<Mutex<Vec<Delivered>>>,
}

impl Tap {
    /// The messages of `topic` delivered to its `n`-th subscription (0: the first session's).
    fn got(&self, topic: &str, n: usize) -> Vec<Bytes> {
        let subs = self.delivered.lock().unwrap();
        let mut of_topic = subs.iter().filter(|(t, _)| t == topic);
        match of_topic.nth(n) {
            Some((_, log)) => log.lock().unwrap().clone(),
            None => panic!("{topic} has no subscription {n}"),
        }
    }

    fn subscriptions(&self, topic: &str) -> usize {
        let subs = self.delivered.lock().unwrap();
        subs.iter().filter(|(t, _)| t == topic).count()
    }
}

impl Transport for Tap {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn node_name(&self) -> String {
        self.inner.node_name()
    }

    fn graph(&self) -> Vec<GraphTopic> {
        self.inner.graph()
    }

    fn subscribe(
        &self,
        topic: &str,
        ros_type: &str,
        qos: Qos,
        on_message: OnMessage,
    ) -> Result<Box<dyn Subscription>, TransportError> {
        let log = Arc::new(Mutex::new(Vec::new()));
        self.delivered
            .lock()
            .unwrap()
            .push((topic.to_string(), log.clone()));
        let tapped: OnMessage = Arc::new(move |m: RawMessage| {
            log.lock().unwrap().push(m.cdr.clone());
            on_message(m)
        });
        self.inner.subscribe(topic, ros_type, qos, tapped)
    }

    fn publisher(
        &self,
        topic: &str,
        ros_type: &str,
        qos: Qos,
    ) -> Result<Box<dyn RawPublisher>, TransportError> {
        self.inner.publisher(topic, ros_type, qos)
    }

    fn trigger_service(
        &self,
        name: &str,
    ) -> Result<tokio::sync::mpsc::Receiver<TriggerCall>, TransportError> {
        self.inner.trigger_service(name)
    }
}

/// The robot's number of an `/imu` message (`demo::imu`: acceleration x is 0.5 i).
fn imu_index(cdr: &[u8]) -> u64 {
    (Imu::from_cdr(cdr).unwrap().linear_acceleration.x / 0.5).round() as u64
}

/// The recorder's own status line, as the last /diagnostics message says.
fn recorder_status(seen: &Mutex<Option<DiagnosticArray>>) -> String {
    seen.lock()
        .unwrap()
        .as_ref()
        .map(|a| a.status[0].message.clone())
        .unwrap_or_default()
}

async fn wait_status(seen: &Mutex<Option<DiagnosticArray>>, prefix: &str) {
    for _ in 0..300 {
        if recorder_status(seen).starts_with(prefix) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "diagnostics never said `{prefix}...`; last: {}",
        recorder_status(seen)
    );
}

async fn server_dies_and_comes_back(generation: Generation, policy: OnError) {
    if let Some(addr) = external() {
        not_on_external(
            "record_faults::server_dies_and_comes_back",
            &format!("this test kills its server; {addr} is external"),
        );
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let first = Killable::start(port, generation);
    let name = unique("fault");
    let bus = MemoryBus::new();
    let seen = Arc::new(Mutex::new(None));
    let watcher = bus.node("", "watcher");
    let _diag = watcher
        .subscribe(
            "/diagnostics",
            "diagnostic_msgs/msg/DiagnosticArray",
            Qos::DEFAULT,
            Arc::new({
                let seen = seen.clone();
                move |m: RawMessage| {
                    let a = DiagnosticArray::read(
                        &mut CdrReader::from_bytes(&Bytes::clone(&m.cdr)).unwrap(),
                    )
                    .unwrap();
                    *seen.lock().unwrap() = Some(a);
                }
            }),
        )
        .unwrap();
    let robot = SyntheticRobot::start(Arc::new(bus.node("", "robot")), record_robot()).unwrap();
    let mut cfg = RecordConfig {
        server: format!("127.0.0.1:{port}"),
        on_error: policy,
        diagnostics_period_s: 0.1,
        connect_timeout_s: 2.0,
        stop_timeout_s: 60.0,
        ..Default::default()
    };
    // Diskless mode: these tests pin what happens to a part held by the server alone.
    cfg.spool.enabled = false;
    cfg.sequence.name = name.clone();
    cfg.topics.all = true;
    cfg.topics.exclude = vec!["/diagnostics".into()];
    let tap = Arc::new(Tap {
        inner: bus.node("", "rec"),
        delivered: Arc::default(),
    });
    let node = RecorderNode::new(cfg, tap.clone()).unwrap();
    let (stop, shutdown) = shutdown_channel();
    let task = tokio::spawn(node.run(shutdown));

    wait_status(&seen, "recording").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    first.kill();
    wait_status(&seen, "not recording").await;
    let second = Killable::start(port, generation);
    wait_status(&seen, "recording").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let published = tokio::task::spawn_blocking(move || robot.stop())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.send(()).await.unwrap();
    let report = task.await.unwrap().unwrap();

    assert!(report.clean_shutdown);
    assert_eq!(report.sessions.len(), 2, "{:#?}", report.sessions);
    let (broken, resumed) = (&report.sessions[0], &report.sessions[1]);
    let want = match policy {
        OnError::Delete => "discarded",
        OnError::Report => "reported",
    };
    assert_eq!(broken.state, want);
    assert!(broken.error.is_some());
    assert!(
        broken.lost > 0,
        "what the dead server held is reported lost"
    );
    // Oracle: the tap's count of what the middleware gave the recorder in each session, and the
    // robot's own numbering of the /imu messages. Each session subscribed anew.
    for t in &broken.topics {
        assert_eq!(
            tap.subscriptions(&t.topic),
            2,
            "{}: one subscription per session",
            t.topic
        );
        let given = tap.got(&t.topic, 0).len() as u64;
        assert_eq!(
            t.received, given,
            "{}: received is what the middleware delivered",
            t.topic
        );
        assert_eq!(t.written, 0, "nothing of part 1 survived the crash: {t:?}");
        assert_eq!(t.malformed, 0, "{t:?}");
        assert_eq!(
            t.lost + t.dropped,
            given,
            "each of the {given} messages given to part 1 is reported lost or dropped: {t:?}"
        );
    }
    assert_eq!(resumed.state, "finalized", "{resumed:#?}");
    assert_eq!(
        resumed.session_id, broken.session_id,
        "the same recording continues"
    );
    assert_eq!(resumed.parts[0].part, 2);
    for t in &resumed.topics {
        let given = tap.got(&t.topic, 1).len() as u64;
        assert_eq!(
            (t.received, t.written, t.not_written()),
            (given, given, 0),
            "{t:?}"
        );
    }
    let imu_published = published
        .topics
        .iter()
        .find(|(t, _)| t == "/imu")
        .unwrap()
        .1;
    let before: Vec<u64> = tap.got("/imu", 0).iter().map(|m| imu_index(m)).collect();
    let after: Vec<u64> = tap.got("/imu", 1).iter().map(|m| imu_index(m)).collect();
    assert!(
        !before.is_empty() && !after.is_empty(),
        "{before:?} {after:?}"
    );
    let mut all = before.clone();
    all.extend(&after);
    assert!(
        all.windows(2).all(|w| w[0] < w[1]) && *all.last().unwrap() < imu_published,
        "the sessions got distinct robot messages, in order, of the {imu_published} published"
    );

    // The new server holds part 2, named as the protocol requires.
    let h = Harness {
        server: None,
        addr: mosaico_bridge::control::channel::ServerAddr::parse(&format!("127.0.0.1:{port}"))
            .unwrap(),
        generation,
        api_key: None,
    };
    let c = h.client().await;
    let (seq, topic) = match generation {
        Generation::Legacy => (format!("{name}_part2"), "/imu".to_string()),
        Generation::Current => (name.clone(), "/imu__part2".to_string()),
    };
    let imu = c.topic_handler(&seq, &topic).await.unwrap();
    let rows = json_rows(
        &collect(imu.stream(Default::default()).await.unwrap())
            .await
            .unwrap(),
    );
    let stored: Vec<u64> = rows
        .iter()
        .map(|r| (r["acceleration"]["x"].as_f64().unwrap() / 0.5).round() as u64)
        .collect();
    assert_eq!(
        stored, after,
        "the server holds exactly the /imu messages part 2 was given, by the robot's numbers"
    );
    drop(second);
}

fn record_robot() -> mosaico_bridge::demo::RobotConfig {
    mosaico_bridge::demo::RobotConfig {
        camera_hz: 10.0,
        width: 32,
        height: 24,
        lidar_hz: 5.0,
        lidar_rings: 2,
        lidar_columns: 32,
        imu_hz: 100.0,
        gps_hz: 5.0,
        tf_hz: 10.0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_policy_report_then_resume_legacy() {
    server_dies_and_comes_back(Generation::Legacy, OnError::Report).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_killed_policy_delete_then_resume_current() {
    server_dies_and_comes_back(Generation::Current, OnError::Delete).await;
}
