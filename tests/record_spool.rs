//! Durable recording over the in-process graph: the uplink cut mid-recording, ten splits at 1 kHz,
//! and a spool on a filesystem that fills up. The oracle is the publisher's own sequence numbers
//! (message `i` of `/imu` carries `linear_acceleration.x = 0.5 i`), read back from every part on the
//! server: each one exactly once.

mod common;
#[path = "common/uplink.rs"]
mod uplink;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use mosaico_bridge::config::{RecordConfig, WhenFull};
use mosaico_bridge::demo;
use mosaico_bridge::record::node::shutdown_channel;
use mosaico_bridge::record::{NodeReport, RecorderNode};
use mosaico_bridge::ros::cdr::{CdrCodec, CdrReader};
use mosaico_bridge::ros::msgs::diagnostic_msgs::DiagnosticArray;
use mosaico_bridge::ros::msgs::sensor_msgs::Imu;
use mosaico_bridge::ros::{Endian, RosMessage};
use mosaico_bridge::transport::memory::MemoryBus;
use mosaico_bridge::transport::{Qos, RawMessage, Transport};
use mosaico_bridge::{Generation, MosaicoClient};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

struct Rig {
    stop: mpsc::Sender<()>,
    task: JoinHandle<mosaico_bridge::Result<NodeReport>>,
}

impl Rig {
    fn start(bus: &Arc<MemoryBus>, cfg: RecordConfig) -> Rig {
        let node = RecorderNode::new(cfg, Arc::new(bus.node("", "rec"))).unwrap();
        let (stop, shutdown) = shutdown_channel();
        Rig {
            stop,
            task: tokio::spawn(node.run(shutdown)),
        }
    }

    async fn shutdown(self) -> NodeReport {
        self.stop.send(()).await.unwrap();
        self.task.await.unwrap().unwrap()
    }
}

fn config(server: &str, name: &str) -> RecordConfig {
    let mut cfg = RecordConfig {
        server: server.into(),
        stop_timeout_s: 60.0,
        connect_timeout_s: 2.0,
        diagnostics_period_s: 0.2,
        ..Default::default()
    };
    cfg.sequence.name = name.into();
    cfg.topics.all = true;
    cfg.topics.exclude = vec!["/diagnostics".into()];
    cfg.spool.dir = tempfile::tempdir().unwrap().keep().display().to_string();
    cfg.spool.min_free_bytes = 0;
    cfg
}

/// Publishes `/imu` message `i` (reliable) at `hz` from a thread; returns how many it published.
fn publish_imu(
    bus: &Arc<MemoryBus>,
    hz: f64,
    run: Duration,
    during: impl Fn(Duration) + Send + 'static,
) -> std::thread::JoinHandle<u64> {
    let node = bus.node("", "robot");
    let imu = node
        .publisher("/imu", Imu::TYPE_NAME, Qos::DEFAULT)
        .unwrap();
    let bus = bus.clone();
    std::thread::spawn(move || {
        let _node = node;
        // Like a publisher waiting for its subscriber: the count starts when the recorder listens.
        let wait = Instant::now();
        while bus.subscriptions("/imu") == 0 {
            assert!(
                wait.elapsed() < Duration::from_secs(10),
                "the recorder never subscribed"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let period = Duration::from_secs_f64(1.0 / hz);
        let start = Instant::now();
        let mut i = 0u64;
        while start.elapsed() < run {
            let due = start + period.mul_f64(i as f64);
            if let Some(d) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(d);
            }
            imu.publish(&demo::imu(i, 0).to_cdr(Endian::Little))
                .unwrap();
            i += 1;
            during(start.elapsed());
        }
        i
    })
}

/// The sequence numbers in every part of the recording, in part order, with each row's
/// `timestamp_ns`; parts are read until one is missing.
async fn parts_on_server(
    c: &MosaicoClient,
    name: &str,
    generation: Generation,
) -> Vec<Vec<(u64, i64)>> {
    let mut parts = Vec::new();
    for part in 1.. {
        let (seq, topic) = match (generation, part) {
            (_, 1) => (name.to_string(), "/imu".to_string()),
            (Generation::Legacy, n) => (format!("{name}_part{n}"), "/imu".into()),
            (Generation::Current, n) => (name.to_string(), format!("/imu__part{n}")),
        };
        let Ok(h) = c.topic_handler(&seq, &topic).await else {
            break;
        };
        let b = collect(h.stream(Default::default()).await.unwrap()).await;
        let rows = b.map(|b| json_rows(&b)).unwrap_or_default();
        parts.push(
            rows.iter()
                .map(|r| {
                    let x = r["acceleration"]["x"].as_f64().unwrap();
                    (
                        (x / 0.5).round() as u64,
                        r["timestamp_ns"].as_i64().unwrap(),
                    )
                })
                .collect(),
        );
    }
    parts
}

/// Asserts the parts hold message 0..n each exactly once.
fn exactly_once(parts: &[Vec<(u64, i64)>], n: u64) {
    let mut seen = BTreeMap::new();
    for (p, rows) in parts.iter().enumerate() {
        for (i, _) in rows {
            *seen.entry(*i).or_insert(0) += 1;
            assert!(*i < n, "part {} holds message {i}, never published", p + 1);
        }
    }
    let missing: Vec<u64> = (0..n).filter(|i| !seen.contains_key(i)).collect();
    let twice: Vec<u64> = seen
        .iter()
        .filter(|(_, c)| **c > 1)
        .map(|(i, _)| *i)
        .collect();
    assert!(
        missing.is_empty() && twice.is_empty(),
        "{} of {n} published messages missing (first: {:?}), {} stored more than once (first: {:?})",
        missing.len(),
        missing.first(),
        twice.len(),
        twice.first()
    );
}

/// `(uplink state, backlog segments)` of every `/diagnostics` message seen.
type UplinkSeen = Arc<Mutex<Vec<(String, u64)>>>;

/// The recorder's uplink states as `/diagnostics` showed them; keep the second value alive.
fn watch_uplink(bus: &Arc<MemoryBus>) -> (UplinkSeen, Box<dyn std::any::Any>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let listener = bus.node("", "listener");
    let sub = listener
        .subscribe(
            "/diagnostics",
            "diagnostic_msgs/msg/DiagnosticArray",
            Qos::DEFAULT,
            Arc::new({
                let seen = seen.clone();
                move |m: RawMessage| {
                    let a = DiagnosticArray::read(&mut CdrReader::new(&m.cdr).unwrap()).unwrap();
                    let get = |k: &str| {
                        a.status[0]
                            .values
                            .iter()
                            .find(|v| v.key == k)
                            .map(|v| v.value.clone())
                    };
                    if let Some(state) = get("uplink") {
                        let backlog = get("backlog_segments")
                            .and_then(|b| b.parse().ok())
                            .unwrap_or(0);
                        seen.lock().unwrap().push((state, backlog));
                    }
                }
            }),
        )
        .unwrap();
    (seen, Box::new((listener, sub)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cut_uplink_loses_nothing_and_duplicates_nothing() {
    each_generation(|h| async move {
        let name = unique("outage");
        let up = Arc::new(uplink::Uplink::start(h.address()).await);
        let bus = MemoryBus::new();
        let (diag, _keep) = watch_uplink(&bus);
        let mut cfg = config(&up.address(), &name);
        cfg.split.max_duration_s = 3;
        let rig = Rig::start(&bus, cfg);
        tokio::time::sleep(Duration::from_millis(800)).await; // the recorder subscribes
                                                              // 500 Hz for 16 s; the uplink is down from 4 s to 14 s.
        let cutter = up.clone();
        let (cut, back) = (std::sync::Once::new(), std::sync::Once::new());
        let publisher = publish_imu(&bus, 500.0, Duration::from_secs(16), move |t| {
            if t >= Duration::from_secs(4) {
                cut.call_once(|| cutter.cut());
            }
            if t >= Duration::from_secs(14) {
                back.call_once(|| cutter.restore());
            }
        });
        let n = tokio::task::spawn_blocking(move || publisher.join().unwrap())
            .await
            .unwrap();
        let report = rig.shutdown().await;
        let s = &report.sessions[0];
        assert_eq!(s.state, "finalized", "{:?}", s.error);
        let imu = s.topics.iter().find(|t| t.topic == "/imu").unwrap();
        assert_eq!(imu.received, n, "the recorder received what was published");
        let c = h.client().await;
        let parts = parts_on_server(&c, &name, h.generation).await;
        assert!(parts.len() >= 4, "parts of 3 s over 16 s: {}", parts.len());
        exactly_once(&parts, n);
        let states = diag.lock().unwrap().clone();
        assert!(
            states.iter().any(|(s, b)| s == "waiting" && *b > 0),
            "/diagnostics showed the uplink down with a backlog: {states:?}"
        );
        println!(
            "{}: {n} published at 500 Hz, uplink cut for 10 s: {} parts, every message once",
            h.generation,
            parts.len()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_splits_at_1khz_lose_nothing_and_cut_on_a_time_boundary() {
    each_generation(|h| async move {
        let name = unique("splits");
        let bus = MemoryBus::new();
        let mut cfg = config(&h.address(), &name);
        cfg.api_key = h.api_key.clone().unwrap_or_default();
        let rig = Rig::start(&bus, cfg);
        tokio::time::sleep(Duration::from_millis(800)).await;
        let publisher = publish_imu(&bus, 1000.0, Duration::from_secs(20), |_| {});
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(1800)).await;
            let (ok, msg) = bus.call_trigger("/rec/split").await.unwrap();
            assert!(ok, "{msg}");
        }
        let n = tokio::task::spawn_blocking(move || publisher.join().unwrap())
            .await
            .unwrap();
        let report = rig.shutdown().await;
        assert_eq!(report.sessions[0].state, "finalized");
        let c = h.client().await;
        let parts = parts_on_server(&c, &name, h.generation).await;
        assert_eq!(parts.len(), 11, "ten splits make eleven parts");
        exactly_once(&parts, n);
        // A clean cut: every message of part k was received before every message of part k+1.
        for (k, w) in parts.windows(2).enumerate() {
            let last = w[0].iter().map(|r| r.1).max().unwrap();
            let first = w[1].iter().map(|r| r.1).min().unwrap();
            assert!(
                last < first,
                "parts {} and {} overlap in time",
                k + 1,
                k + 2
            );
        }
        println!(
            "{}: {n} messages at 1 kHz over 11 parts, each once, cut on time boundaries",
            h.generation
        );
    })
    .await;
}

/// A tmpfs of `mb` MiB mounted on a new directory; `None` when this process may not mount.
fn small_filesystem(mb: u32) -> Option<std::path::PathBuf> {
    let dir = tempfile::tempdir().unwrap().keep();
    let st = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"])
        .arg(&dir)
        .status()
        .ok()?;
    st.success().then_some(dir)
}

/// Messages in every segment file under `root`, read back from the files.
fn messages_on_disk(root: &std::path::Path) -> u64 {
    use mosaico_bridge::bag::reader::Sealed;
    use mosaico_bridge::bag::SegmentReader;
    let mut n = 0;
    for dir in std::fs::read_dir(root).unwrap().flatten() {
        if !dir.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
            if f.path().extension().is_some_and(|e| e == "mcap") {
                n += SegmentReader::open(&f.path(), Box::new(Sealed))
                    .unwrap()
                    .filter(|m| m.as_ref().is_ok_and(|m| m.channel.topic == "/blob"))
                    .count() as u64;
            }
        }
    }
    n
}

fn unmount(dir: &std::path::Path) {
    let _ = std::process::Command::new("umount").arg(dir).status();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_spool_refuses_counts_and_keeps_recording() {
    let Some(fs) = small_filesystem(8) else {
        return skip(
            "record_spool::a_full_spool_refuses_counts_and_keeps_recording",
            "cannot mount a tmpfs of a few MB (needs root)",
        );
    };
    // No server answers: nothing leaves the spool, so it fills up.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_addr = dead.local_addr().unwrap().to_string();
    drop(dead);
    let bus = MemoryBus::new();
    let mut cfg = config(&dead_addr, &unique("full"));
    cfg.spool.dir = fs.join("spool").display().to_string();
    cfg.spool.min_free_bytes = 512 << 10;
    cfg.spool.chunk_bytes = 64 << 10;
    cfg.spool.when_full = WhenFull::Stop;
    cfg.stop_timeout_s = 3.0;
    let rig = Rig::start(&bus, cfg);
    tokio::time::sleep(Duration::from_millis(800)).await;
    // 32 KiB messages at 200 Hz for 3 s: ~19 MiB into an 8 MiB filesystem.
    let node = bus.node("", "camera");
    let p = node
        .publisher("/blob", "std_msgs/msg/UInt8MultiArray", Qos::DEFAULT)
        .unwrap();
    while bus.subscriptions("/blob") == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut published = 0u64;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        let mut cdr = vec![0u8, 1, 0, 0];
        cdr.extend_from_slice(&[0u8; 8]); // layout: no dimensions, data_offset 0
        cdr.extend_from_slice(&(32u32 << 10).to_le_bytes());
        cdr.extend(std::iter::repeat_n(published as u8, 32 << 10));
        p.publish(&cdr).unwrap();
        published += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    // The node is still up and answers.
    let (ok, msg) = bus.call_trigger("/rec/split").await.unwrap();
    assert!(ok, "the node still answers while the spool is full: {msg}");
    let report = rig.shutdown().await;
    let t = report.sessions[0]
        .topics
        .iter()
        .find(|t| t.topic == "/blob")
        .unwrap()
        .clone();
    let on_disk = messages_on_disk(&fs.join("spool"));
    unmount(&fs);
    assert_eq!(
        on_disk, t.spooled,
        "what the report calls spooled is on disk"
    );
    assert_eq!(
        t.received, published,
        "every published message was received"
    );
    assert!(
        t.lost > 0,
        "the spool filled up: some messages were refused"
    );
    assert_eq!(
        t.spooled + t.lost,
        t.received,
        "every message is spooled or counted as refused: {t:?}"
    );
    assert!(t.spooled > 100, "what fit was kept: {} spooled", t.spooled);
    assert_eq!(report.sessions[0].state, "spooled");
    println!(
        "full spool: {published} published, {} spooled, {} refused and counted",
        t.spooled, t.lost
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_topic_the_server_refuses_is_set_aside_and_the_others_go_on() {
    each_generation(|h| async move {
        let name = unique("aside");
        let bus = MemoryBus::new();
        let mut cfg = config(&h.address(), &name);
        cfg.api_key = h.api_key.clone().unwrap_or_default();
        cfg.stop_timeout_s = 10.0;
        let spool = std::path::PathBuf::from(&cfg.spool.dir);
        let rig = Rig::start(&bus, cfg);
        // A ROS "hidden" topic: valid in ROS, refused by Mosaico's topic names.
        let node = bus.node("", "camera");
        let hidden = node
            .publisher("/camera/_raw", Imu::TYPE_NAME, Qos::DEFAULT)
            .unwrap();
        while bus.subscriptions("/camera/_raw") == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let publisher = publish_imu(&bus, 500.0, Duration::from_secs(3), move |_| {});
        for i in 0..200u64 {
            hidden
                .publish(&demo::imu(i, 0).to_cdr(Endian::Little))
                .unwrap();
        }
        let n = tokio::task::spawn_blocking(move || publisher.join().unwrap())
            .await
            .unwrap();
        let report = rig.shutdown().await;
        let s = &report.sessions[0];
        let imu = s.topics.iter().find(|t| t.topic == "/imu").unwrap();
        let bad = s.topics.iter().find(|t| t.topic == "/camera/_raw").unwrap();
        assert_eq!(
            (imu.committed, imu.pending),
            (n, 0),
            "the other topic went on"
        );
        assert_eq!((bad.received, bad.committed, bad.pending), (200, 0, 200));
        assert!(
            bad.error
                .as_deref()
                .is_some_and(|e| e.contains("set aside")),
            "{:?}",
            bad.error
        );
        assert_eq!(s.state, "spooled", "the refused topic waits in the spool");
        let c = h.client().await;
        let parts = parts_on_server(&c, &name, h.generation).await;
        assert_eq!(parts.len(), 1, "one part, no part-per-retry loop");
        exactly_once(&parts, n);
        // The refused topic's messages are still on disk, every one.
        let mut kept = 0;
        for dir in std::fs::read_dir(&spool).unwrap().flatten() {
            if dir.path().is_dir() {
                for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
                    if f.path().extension().is_some_and(|e| e == "mcap") {
                        kept += mosaico_bridge::bag::SegmentReader::open(
                            &f.path(),
                            Box::new(mosaico_bridge::bag::reader::Sealed),
                        )
                        .unwrap()
                        .filter(|m| m.as_ref().is_ok_and(|m| m.channel.topic == "/camera/_raw"))
                        .count();
                    }
                }
            }
        }
        assert_eq!(kept, 200, "the set-aside topic is kept in the spool");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_name_another_recording_holds_is_refused_at_start() {
    each_generation(|h| async move {
        let name = unique("taken");
        let c = h.client().await;
        let w = c
            .sequence_create(
                &name,
                serde_json::json!({"owner": "someone else"}),
                mosaico_bridge::OnError::Delete,
            )
            .await
            .unwrap();
        let imu = w
            .topic_create("/imu", mosaico_bridge::TopicOptions::new(tag(&c, "IMU")))
            .await
            .unwrap();
        let s = schema(&c, "IMU");
        imu.push_batch(batch(&s, &imu_rows(3, 1_000_000)))
            .await
            .unwrap();
        w.finalize().await.unwrap();

        let bus = MemoryBus::new();
        let mut cfg = config(&h.address(), &name);
        cfg.api_key = h.api_key.clone().unwrap_or_default();
        let rig = Rig::start(&bus, cfg);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (ok, msg) = loop {
            match bus.call_trigger("/rec/start").await {
                Ok(r) => break r,
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        };
        assert!(
            !ok,
            "a second recording under a taken name is refused: {msg}"
        );
        let report = rig.shutdown().await;
        assert!(report.sessions.is_empty(), "nothing was recorded into it");
        let rows = read_topic(&c, &name, "/imu").await;
        assert_eq!(rows.num_rows(), 3, "the other recording is untouched");
    })
    .await;
}
