//! The `dds` backend on a real (loopback-only) DDS domain: raw CDR round trips, large messages,
//! transient-local history, the graph, Trigger services called by a ros2-client client, and
//! interop with Cyclone DDS (as rmw_cyclonedds) through the PyPI `cyclonedds` package.
//!
//! Every test opens DDS participants, so each runs in its own loopback-only network namespace
//! (see `common/netns.rs`): as root, a plain `cargo test -- --include-ignored` does that itself.

#[path = "common/netns.rs"]
mod netns;
#[path = "common/trigger.rs"]
mod trigger;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use mosaico_bridge::transport::dds::DdsTransport;
use mosaico_bridge::transport::{
    Durability, GraphTopic, OnMessage, Qos, RawMessage, Reliability, Transport,
};
use trigger::{call, Caller, TriggerResponse};

/// Discovery plus delivery on a loaded 2-core machine: generous.
const PATIENCE: Duration = Duration::from_secs(30);

fn node(ns: &str, name: &str) -> DdsTransport {
    DdsTransport::new(ns, name).expect("a DDS node")
}

fn collector() -> (OnMessage, Receiver<RawMessage>) {
    let (tx, rx) = crossbeam_channel::unbounded();
    (
        Arc::new(move |m: RawMessage| {
            let _ = tx.send(m);
        }),
        rx,
    )
}

/// Polls `probe` until it gives a value.
fn eventually<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = probe() {
            return v;
        }
        assert!(start.elapsed() < PATIENCE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Publishes `cdr` every 100 ms until the subscriber gets something (best effort loses what is sent
/// before the reader is matched), and returns the first message received.
fn publish_until_received(publish: impl Fn(), rx: &Receiver<RawMessage>) -> (RawMessage, Duration) {
    let start = Instant::now();
    loop {
        let sent = Instant::now();
        publish();
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(m) => return (m, sent.elapsed()),
            Err(RecvTimeoutError::Timeout) => {
                assert!(start.elapsed() < PATIENCE, "nothing received")
            }
            Err(e) => panic!("{e}"),
        }
    }
}

/// `std_msgs/msg/String` as CDR, header included.
fn string_cdr(s: &str) -> Vec<u8> {
    let mut v = vec![0, 1, 0, 0];
    v.extend_from_slice(&(s.len() as u32 + 1).to_le_bytes());
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    v
}

/// Image-sized CDR (1080p rgb8 is 6.2 MB) with non-repeating content.
fn big_cdr(len: usize, seed: u8) -> Vec<u8> {
    let mut v = vec![0, 1, 0, 0];
    let mut x = seed as u32 | 1;
    v.extend((4..len).map(|_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as u8
    }));
    v
}

/// The received message is the sent one: byte for byte, except that RTPS carries an unfragmented
/// payload in whole 4-byte words, so one whose length is not a multiple of 4 may arrive with the
/// zero bytes of alignment padding up to the next multiple (the header field that counts them
/// does not reach us; CDR decoders ignore trailing bytes).
#[track_caller]
fn assert_same_cdr(got: &[u8], sent: &[u8], what: &str) {
    let padded = sent.len().div_ceil(4) * 4;
    assert!(
        (got.len() == sent.len() || got.len() == padded)
            && got[..sent.len()] == sent[..]
            && got[sent.len()..].iter().all(|b| *b == 0),
        "{what}: sent {} bytes {:02x?}…, received {} bytes {:02x?}…",
        sent.len(),
        &sent[..sent.len().min(24)],
        got.len(),
        &got[..got.len().min(24)],
    );
}

fn find<'a>(graph: &'a [GraphTopic], name: &str) -> Option<&'a GraphTopic> {
    graph.iter().find(|t| t.name == name)
}

fn round_trip(qos: Qos) {
    let talker = node("/robot", "talker");
    let listener = node("/", "listener");
    assert_eq!(talker.backend(), "dds");
    assert_eq!(talker.node_name(), "/robot/talker");
    assert_eq!(listener.node_name(), "/listener");

    // Small messages; a relative name resolves under the namespace.
    // Histories deep enough for the burst below: keep-last drops the oldest even when reliable.
    let deep = Qos { depth: 256, ..qos };
    let chatter = talker
        .publisher("chatter", "std_msgs/msg/String", deep)
        .unwrap();
    let (f, rx) = collector();
    let sub = listener
        .subscribe("/robot/chatter", "std_msgs/msg/String", deep, f)
        .unwrap();
    let first = string_cdr("hello world"); // 20 bytes: no padding
    let (got, _) = publish_until_received(|| chatter.publish(&first).unwrap(), &rx);
    assert_eq!(got.cdr[..], first[..], "bytes identical, header included");
    let gid = got.publisher.clone().expect("the writer's gid");
    assert_eq!(gid.len(), 32, "a 16-byte GUID in hex: {gid}");
    assert!(got.received_ns > 1_600_000_000_000_000_000);
    let listed = eventually("the publisher in the graph", || {
        find(&listener.graph(), "/robot/chatter").cloned()
    });
    assert_eq!(listed.ros_type, "std_msgs/msg/String");
    assert_eq!(listed.publishers.len(), 1);
    assert_eq!(listed.publishers[0].gid, gid, "graph and messages agree");

    // Once matched, a reliable reader gets every message, in order.
    while rx.recv_timeout(Duration::from_millis(300)).is_ok() {}
    if qos.reliability == Reliability::Reliable {
        // Lengths 14 to 16: padded and unpadded.
        let sent: Vec<Vec<u8>> = (0..200).map(|i| string_cdr(&format!("m{i}"))).collect();
        for m in &sent {
            chatter.publish(m).unwrap();
        }
        for (i, m) in sent.iter().enumerate() {
            let got = rx
                .recv_timeout(PATIENCE)
                .unwrap_or_else(|_| panic!("message {i} of 200 lost"));
            assert_same_cdr(&got.cdr, m, &format!("message {i}"));
        }
    }

    // Image-sized messages (fragmented by DDS).
    let camera = talker
        .publisher("/camera/image_raw", "sensor_msgs/msg/Image", qos)
        .unwrap();
    let (f, rx) = collector();
    let _image_sub = listener
        .subscribe("/camera/image_raw", "sensor_msgs/msg/Image", qos, f)
        .unwrap();
    // 1080p rgb8: a 6_220_800-byte data field and the Image fields before it.
    let image = big_cdr(6_220_856, 7);
    let (got, latency) = publish_until_received(|| camera.publish(&image).unwrap(), &rx);
    assert!(got.cdr[..] == image[..], "6 MB message identical");
    eprintln!(
        "{:?}: first 6.2 MB image received {latency:?} after its publish",
        qos.reliability
    );
    while rx.recv_timeout(Duration::from_millis(500)).is_ok() {}
    if qos.reliability == Reliability::Reliable {
        // At a camera's pace (15 Hz): a burst of several 6 MB samples overflows the kernel's
        // receive buffer and RustDDS's fragment repair takes seconds.
        let images: Vec<Vec<u8>> = (0..10).map(|i| big_cdr(6_220_853, 11 + i)).collect();
        let start = Instant::now();
        for (i, img) in images.iter().enumerate() {
            let sent = Instant::now();
            camera.publish(img).unwrap();
            let got = rx.recv_timeout(PATIENCE).expect("reliable image");
            assert_same_cdr(&got.cdr, img, &format!("image {i}"));
            eprintln!("reliable image {i}: {:?}", sent.elapsed());
            std::thread::sleep(Duration::from_millis(66).saturating_sub(sent.elapsed()));
        }
        eprintln!(
            "reliable: 10 × 6.2 MB at 15 Hz delivered in {:?}",
            start.elapsed()
        );
    }

    // Dropping the subscription stops delivery and ends its thread (which held `on_message`).
    let marker = Arc::new(());
    let held = marker.clone();
    let delivered = Arc::new(AtomicUsize::new(0));
    let count = delivered.clone();
    let (f2, rx2) = collector();
    let counted: OnMessage = Arc::new(move |m| {
        let _ = &held;
        count.fetch_add(1, Ordering::SeqCst);
        f2(m)
    });
    let sub2 = listener
        .subscribe("/robot/chatter", "std_msgs/msg/String", qos, counted)
        .unwrap();
    publish_until_received(|| chatter.publish(&first).unwrap(), &rx2);
    drop(sub2);
    drop(sub);
    assert_eq!(
        Arc::strong_count(&marker),
        1,
        "the delivery thread is gone with its callback"
    );
    let before = delivered.load(Ordering::SeqCst);
    // A new subscription on the same topic gets the messages published after the drop, so they
    // did reach the listener; the dropped one's count stays where it was.
    let (f3, rx3) = collector();
    let _witness = listener
        .subscribe("/robot/chatter", "std_msgs/msg/String", qos, f3)
        .unwrap();
    publish_until_received(|| chatter.publish(&first).unwrap(), &rx3);
    assert_eq!(
        delivered.load(Ordering::SeqCst),
        before,
        "nothing delivered to the dropped subscription"
    );
}

#[test]
#[ignore = "opens DDS participants: runs in a loopback-only network namespace (root); scripts/test.sh runs it"]
fn raw_round_trip_best_effort() {
    if netns::isolated("raw_round_trip_best_effort") {
        round_trip(Qos::SENSOR_DATA);
    }
}

#[test]
#[ignore = "opens DDS participants: runs in a loopback-only network namespace (root); scripts/test.sh runs it"]
fn raw_round_trip_reliable() {
    if netns::isolated("raw_round_trip_reliable") {
        round_trip(Qos::DEFAULT);
    }
}

#[test]
#[ignore = "opens DDS participants: runs in a loopback-only network namespace (root); scripts/test.sh runs it"]
fn a_blocked_consumer_does_not_stall_other_subscriptions() {
    if !netns::isolated("a_blocked_consumer_does_not_stall_other_subscriptions") {
        return;
    }
    let talker = node("/", "talker");
    let listener = node("/", "listener");
    let slow_pub = talker
        .publisher("/slow", "std_msgs/msg/String", Qos::DEFAULT)
        .unwrap();
    let fast_pub = talker
        .publisher("/fast", "std_msgs/msg/String", Qos::DEFAULT)
        .unwrap();

    let (release_tx, release_rx) = crossbeam_channel::bounded::<()>(0);
    let blocked = Arc::new(AtomicBool::new(false));
    let (f, slow_rx) = collector();
    let flag = blocked.clone();
    let blocking: OnMessage = Arc::new(move |m| {
        flag.store(true, Ordering::SeqCst);
        let _ = release_rx.recv_timeout(PATIENCE);
        f(m);
    });
    let _slow = listener
        .subscribe("/slow", "std_msgs/msg/String", Qos::DEFAULT, blocking)
        .unwrap();
    let (f, fast_rx) = collector();
    let _fast = listener
        .subscribe("/fast", "std_msgs/msg/String", Qos::DEFAULT, f)
        .unwrap();

    eventually("the slow consumer to block", || {
        slow_pub.publish(&string_cdr("slow")).unwrap();
        blocked.load(Ordering::SeqCst).then_some(())
    });
    let (got, _) =
        publish_until_received(|| fast_pub.publish(&string_cdr("fast")).unwrap(), &fast_rx);
    assert_same_cdr(&got.cdr, &string_cdr("fast"), "fast");
    let _ = release_tx.send(());
    let got = slow_rx.recv_timeout(PATIENCE).unwrap();
    assert_same_cdr(&got.cdr, &string_cdr("slow"), "slow");
}

#[test]
#[ignore = "opens DDS participants: runs in a loopback-only network namespace (root); scripts/test.sh runs it"]
fn transient_local_reaches_a_late_subscriber() {
    if !netns::isolated("transient_local_reaches_a_late_subscriber") {
        return;
    }
    let robot = node("/", "robot");
    let tf = robot
        .publisher("/tf_static", "tf2_msgs/msg/TFMessage", Qos::LATCHED)
        .unwrap();
    let latched = big_cdr(1000, 3);
    tf.publish(&latched).unwrap();

    // The recorder joins later: the message was published before its reader existed.
    std::thread::sleep(Duration::from_millis(500));
    let recorder = node("/", "recorder");
    // Twice, as two recording sessions of one node subscribe: each gets the latched message once.
    for session in 1..=2 {
        let (f, rx) = collector();
        let sub = recorder
            .subscribe("/tf_static", "tf2_msgs/msg/TFMessage", Qos::LATCHED, f)
            .unwrap();
        let got = rx
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("session {session}: the latched message"));
        assert_eq!(got.cdr[..], latched[..]);
        assert!(
            rx.recv_timeout(Duration::from_millis(500)).is_err(),
            "session {session}: delivered once"
        );
        drop(sub);
    }
}

#[test]
#[ignore = "opens DDS participants: runs in a loopback-only network namespace (root); scripts/test.sh runs it"]
fn graph_follows_publishers_as_they_come_and_go() {
    use ros2_client::{Context, MessageTypeName, Name, NodeName, NodeOptions};

    if !netns::isolated("graph_follows_publishers_as_they_come_and_go") {
        return;
    }
    let recorder = node("/", "recorder");
    let robot = node("/r1", "robot");
    let no_robot_topics = |g: &[GraphTopic]| {
        !g.iter()
            .any(|t| t.name.starts_with("/r1/") || t.name == "/tf_static")
    };
    assert!(no_robot_topics(&recorder.graph()));

    let tf = robot
        .publisher("/tf_static", "tf2_msgs/msg/TFMessage", Qos::LATCHED)
        .unwrap();
    let imu = robot
        .publisher("imu", "sensor_msgs/msg/Imu", Qos::SENSOR_DATA)
        .unwrap();
    // A service and parameter services: DDS topics (rq/, rr/) that are not ROS topics.
    let _calls = robot.trigger_service("~/start").unwrap();

    let graph = eventually("both publishers", || {
        let g = recorder.graph();
        (find(&g, "/tf_static").is_some() && find(&g, "/r1/imu").is_some()).then_some(g)
    });
    let t = find(&graph, "/tf_static").unwrap();
    assert_eq!(t.ros_type, "tf2_msgs/msg/TFMessage");
    assert_eq!(t.publishers.len(), 1);
    let p = &t.publishers[0];
    assert_eq!(p.qos.reliability, Reliability::Reliable);
    assert_eq!(p.qos.durability, Durability::TransientLocal);
    assert_eq!(
        p.qos.depth, 10,
        "DDS does not announce history: ROS default"
    );
    let t = find(&graph, "/r1/imu").unwrap();
    assert_eq!(t.ros_type, "sensor_msgs/msg/Imu");
    assert_eq!(t.publishers[0].qos.reliability, Reliability::BestEffort);
    assert_eq!(t.publishers[0].qos.durability, Durability::Volatile);
    for t in &graph {
        assert!(t.name.starts_with('/'), "ROS names only: {}", t.name);
        assert!(!t.name.contains("start"), "no service topics: {}", t.name);
        assert!(t.ros_type.contains("/msg/"), "ROS types: {}", t.ros_type);
    }
    assert!(
        graph.iter().any(|t| t.name == "/rosout"),
        "nodes log to /rosout"
    );

    // The node's own writers are listed too, with their full QoS and its name.
    let own = robot.graph();
    let t = find(&own, "/tf_static").expect("own publisher listed");
    assert_eq!(t.publishers[0].qos, Qos::LATCHED);
    assert_eq!(t.publishers[0].node.as_deref(), Some("/r1/robot"));

    // A publisher registered with its node in ros_discovery_info (any ROS 2 node's publishers)
    // is listed with that node's name.
    let context = Context::new().unwrap();
    let mut ros_node = context
        .new_node(
            NodeName::new("/r2", "camera_driver").unwrap(),
            NodeOptions::new(),
        )
        .unwrap();
    let topic = ros_node
        .create_topic(
            &Name::new("/r2", "status").unwrap(),
            MessageTypeName::new("std_msgs", "String"),
            &ros2_client::DEFAULT_PUBLISHER_QOS,
        )
        .unwrap();
    let status = ros_node.create_publisher::<String>(&topic, None).unwrap();
    let p = eventually("the ROS node's publisher with its node name", || {
        find(&recorder.graph(), "/r2/status")
            .and_then(|t| t.publishers.first().cloned())
            .filter(|p| p.node.is_some())
    });
    assert_eq!(p.node.as_deref(), Some("/r2/camera_driver"));

    // Gone publishers leave the graph: a dropped writer, then a whole node.
    drop(tf);
    eventually("/tf_static to leave the graph", || {
        find(&recorder.graph(), "/tf_static")
            .is_none()
            .then_some(())
    });
    assert!(find(&recorder.graph(), "/r1/imu").is_some());
    drop(imu);
    drop(status);
    drop(ros_node);
    drop(context);
    drop(robot);
    eventually("the robot's topics to leave the graph", || {
        let g = recorder.graph();
        (no_robot_topics(&g) && find(&g, "/r2/status").is_none()).then_some(())
    });
}

#[test]
#[ignore = "opens DDS participants: runs in a loopback-only network namespace (root); scripts/test.sh runs it"]
fn lives_in_a_tokio_runtime_and_leaves_the_graph_when_dropped() {
    use mosaico_bridge::config::Backend;

    if !netns::isolated("lives_in_a_tokio_runtime_and_leaves_the_graph_when_dropped") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let observer = node("/", "observer");
    let rosout_of = |g: &[GraphTopic], who: &str| {
        find(g, "/rosout")
            .is_some_and(|t| t.publishers.iter().any(|p| p.node.as_deref() == Some(who)))
    };
    rt.block_on(async {
        // Opened, used and dropped on the runtime's worker threads.
        let transient = tokio::spawn(async {
            let t = mosaico_bridge::transport::open(Backend::Dds, "/", "transient").unwrap();
            let p = t
                .publisher("/x", "std_msgs/msg/String", Qos::DEFAULT)
                .unwrap();
            p.publish(&string_cdr("x")).unwrap();
            (t, p)
        })
        .await
        .unwrap();
        tokio::time::timeout(PATIENCE, async {
            while !(find(&observer.graph(), "/x").is_some()
                && rosout_of(&observer.graph(), "/transient"))
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("the new node in the graph");
        tokio::spawn(async move { drop(transient) }).await.unwrap();
    });
    eventually("the dropped node to leave the graph", || {
        let g = observer.graph();
        (find(&g, "/x").is_none() && !rosout_of(&g, "/transient")).then_some(())
    });
}

#[test]
#[ignore = "opens DDS participants: runs in a loopback-only network namespace (root); scripts/test.sh runs it"]
fn trigger_service_answers_a_ros2_client() {
    if !netns::isolated("trigger_service_answers_a_ros2_client") {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let recorder = node("/", "rec");
    let mut calls = recorder.trigger_service("~/start").unwrap();
    assert!(
        recorder.trigger_service("/rec/start").is_err(),
        "one server per name"
    );
    // Answers: true, then false, then the third call is dropped unanswered.
    rt.spawn(async move {
        let mut n = 0;
        while let Some(call) = calls.recv().await {
            n += 1;
            match n {
                1 => call.respond.send((true, "recording".into())).unwrap(),
                2 => call
                    .respond
                    .send((false, "already recording".into()))
                    .unwrap(),
                _ => drop(call),
            }
        }
    });

    let mut caller = Caller::new("caller");
    let client = caller.client("/rec/start");
    rt.block_on(async {
        caller.wait_for(&client).await;
        let start = Instant::now();
        assert_eq!(
            call(&client).await,
            TriggerResponse {
                success: true,
                message: "recording".into()
            }
        );
        eprintln!("Trigger call answered in {:?}", start.elapsed());
        assert_eq!(
            call(&client).await,
            TriggerResponse {
                success: false,
                message: "already recording".into()
            }
        );
        let r = call(&client).await;
        assert!(!r.success, "an unanswered call fails: {r:?}");
    });

    // Another node refuses to serve the same name once it has discovered this one (its /rosout
    // writer, listed under /rec, shows that it has).
    let other = node("/", "rec2");
    eventually("the other node to discover /rec", || {
        find(&other.graph(), "/rosout")
            .filter(|t| {
                t.publishers
                    .iter()
                    .any(|p| p.node.as_deref() == Some("/rec"))
            })
            .map(|_| ())
    });
    let err = other.trigger_service("/rec/start").unwrap_err();
    assert!(err.to_string().contains("another node"), "{err}");
}

/// The Python with `cyclonedds` (scripts/test.sh sets it up).
fn python() -> String {
    std::env::var("MOSAICO_TEST_PYTHON").expect(
        "MOSAICO_TEST_PYTHON must name a Python with python/requirements-test.txt installed \
         (scripts/test.sh sets it)",
    )
}

#[test]
#[ignore = "opens DDS participants: runs in a loopback-only network namespace (root); scripts/test.sh runs it"]
fn interop_with_cyclone_dds() {
    let python = python();
    if !netns::isolated("interop_with_cyclone_dds") {
        return;
    }
    let bridge = node("/", "bridge");
    let qos = Qos {
        reliability: Reliability::Reliable,
        durability: Durability::TransientLocal,
        depth: 16,
    };
    let (f, rx) = collector();
    let _sub = bridge
        .subscribe("/interop/from_py", "std_msgs/msg/String", qos, f)
        .unwrap();
    let to_py = bridge
        .publisher("/interop/to_py", "std_msgs/msg/String", qos)
        .unwrap();
    let big: String = (0..300_000u32)
        .map(|i| char::from(b'A' + (i % 26) as u8))
        .collect();
    let ours: Vec<Vec<u8>> = ["from rust", "four", "", big.as_str()]
        .iter()
        .map(|s| string_cdr(s))
        .collect();
    // Transient local: Cyclone's reader gets these whenever it matches.
    for m in &ours {
        to_py.publish(m).unwrap();
    }

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/dds_echo.py");
    let mut child = Command::new(&python)
        .args([script, "--publish", "rt/interop/from_py"])
        .args(["--subscribe", "rt/interop/to_py"])
        .args([
            "--message",
            "hello",
            "--message",
            "abc",
            "--message",
            "hello12",
        ])
        .args(["--big", "250001", "--expect", &ours.len().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let (lines_tx, lines) = crossbeam_channel::unbounded();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });

    let mut sent_by_py = Vec::new();
    let mut got_by_py = Vec::new();
    let mut got_all = false;
    let start = Instant::now();
    let mut from_py = Vec::new();
    while !(got_all && from_py.len() == 4) {
        assert!(
            start.elapsed() < PATIENCE,
            "interop timed out: Python got {} of {}, we got {} of 4 (lengths {:?})",
            got_by_py.len(),
            ours.len(),
            from_py.len(),
            from_py.iter().map(Vec::len).collect::<Vec<_>>()
        );
        while let Ok(m) = rx.try_recv() {
            from_py.push(m.cdr.to_vec());
        }
        match lines.recv_timeout(Duration::from_millis(50)) {
            Ok(line) => {
                if let Some(h) = line.strip_prefix("SENT ") {
                    sent_by_py.push(hex::decode(h).unwrap());
                } else if let Some(h) = line.strip_prefix("GOT ") {
                    got_by_py.push(hex::decode(h).unwrap());
                } else if line == "GOT_ALL" {
                    got_all = true;
                } else {
                    assert_eq!(line, "READY", "unexpected output from {script}");
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                panic!("{script} exited early: {:?}", child.wait())
            }
        }
    }
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());

    // Cyclone → us: exactly the bytes the Python peer serialized.
    assert_eq!(sent_by_py.len(), 4);
    for (i, (sent, got)) in sent_by_py.iter().zip(&from_py).enumerate() {
        assert_same_cdr(got, sent, &format!("message {i} from Cyclone"));
        eprintln!(
            "from Cyclone: {} bytes serialized, {} received",
            sent.len(),
            got.len()
        );
    }
    // Us → Cyclone: it decoded our CDR to values that serialize back to our exact bytes.
    assert_eq!(got_by_py.len(), ours.len());
    for (i, (ours, theirs)) in ours.iter().zip(&got_by_py).enumerate() {
        assert!(ours == theirs, "message {i} to Cyclone differs");
    }
    let _ = std::io::stdout().flush();
}

/// RustDDS keeps a topic's samples in a cache its readers share, and a new best-effort reader
/// reads it from the start: a recorder that subscribes again (a new session) must not get the
/// previous subscription's samples twice, nor count the time between as lost.
#[test]
#[ignore = "opens DDS participants: runs in a loopback-only network namespace (root); scripts/test.sh runs it"]
fn a_new_subscription_gets_nothing_an_earlier_one_delivered() {
    if !netns::isolated("a_new_subscription_gets_nothing_an_earlier_one_delivered") {
        return;
    }
    let talker = node("/", "talker");
    let listener = node("/", "listener");
    let publisher = talker
        .publisher("/again", "std_msgs/msg/String", Qos::SENSOR_DATA)
        .unwrap();
    let n = AtomicUsize::new(0);
    let next = || string_cdr(&format!("m{}", n.fetch_add(1, Ordering::SeqCst) + 1));
    // The first subscription gets samples until it has some, then ends.
    let (f, rx) = collector();
    let first = listener
        .subscribe("/again", "std_msgs/msg/String", Qos::SENSOR_DATA, f)
        .unwrap();
    let (got, _) = publish_until_received(|| publisher.publish(&next()).unwrap(), &rx);
    // The text of a received std_msgs/String (padding after it ignored).
    let text = |cdr: &[u8]| {
        let len = u32::from_le_bytes(cdr[4..8].try_into().unwrap()) as usize;
        String::from_utf8(cdr[8..8 + len - 1].to_vec()).unwrap()
    };
    let mut seen_first = vec![text(&got.cdr)];
    for _ in 0..20 {
        publisher.publish(&next()).unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    seen_first.extend(rx.try_iter().map(|m| text(&m.cdr)));
    drop(first);
    // Published while nobody subscribes: the participant may still cache these.
    for _ in 0..20 {
        publisher.publish(&next()).unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    // The second subscription, on the same node: only what is published from now on.
    let (f, rx) = collector();
    let second = listener
        .subscribe("/again", "std_msgs/msg/String", Qos::SENSOR_DATA, f)
        .unwrap();
    let first_new = n.load(Ordering::SeqCst) + 1;
    let (got, _) = publish_until_received(|| publisher.publish(&next()).unwrap(), &rx);
    let mut seen_second = vec![text(&got.cdr)];
    for _ in 0..20 {
        publisher.publish(&next()).unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    seen_second.extend(rx.try_iter().map(|m| text(&m.cdr)));
    let again: Vec<_> = seen_second
        .iter()
        .filter(|c| seen_first.contains(c))
        .collect();
    assert!(again.is_empty(), "{} samples delivered twice", again.len());
    let old = (1..first_new)
        .filter(|i| seen_second.contains(&format!("m{i}")))
        .count();
    assert_eq!(
        old, 0,
        "the second subscription got samples published before it"
    );
    assert_eq!(
        second.lost(),
        0,
        "nothing lost between the subscriptions' samples"
    );
}
