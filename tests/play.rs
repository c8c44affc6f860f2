//! `mosaico-bridge play` over real DDS, inside a loopback-only network namespace: a bag written by
//! PyPI `rosbags` (python/make_bag.py) is imported into an in-process test server (both protocol
//! generations), played, and received by an independent Cyclone DDS subscriber
//! (python/play_listen.py) that compares every message with the bag as rosbags reads it: every
//! message of every topic, in order, byte-identical (value-equal for the types whose replay is not
//! byte-exact), in one merged time order, on the recording's timing. The player's services are
//! driven by a ROS client node (ros2-client, Enhanced mapping, message types declared here) and
//! their effect is observed in what the subscriber receives.
//!
//! The real mosaicod cannot be reached from inside the namespace; the reader that play shares with
//! `export` runs against it in tests/export.rs.

mod common;
#[path = "common/netns.rs"]
mod netns;
#[path = "common/trigger.rs"]
mod trigger;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use mosaico_bridge::Generation;
use ros2_client::qos::{History, QosProfile};
use ros2_client::{Client, Name, ServiceMapping, ServiceTypeName};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use trigger::{discovered, Caller, PATIENCE};

/// make_bag.py's first record time.
const T0: i64 = 1_700_000_000_000_000_000;

/// The subscriber, started and ready (its readers exist) when this returns.
fn listener(bag: &Path, dir: &Path, args: &[&str]) -> Child {
    let ready = dir.join(format!("ready_{}", ulid::Ulid::new()));
    let child = Command::new(python())
        .arg(script("play_listen.py"))
        .arg("--bag")
        .arg(bag)
        .arg("--ready")
        .arg(&ready)
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !ready.exists() {
        assert!(t.elapsed() < PATIENCE, "the subscriber did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn summary(child: Child) -> Value {
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the subscriber failed");
    serde_json::from_slice(&out.stdout).expect("the subscriber's JSON summary")
}

/// Topics whose replay is value-equal, not byte-exact (the README's table says when): none of the
/// bag's, /mag included (its tesla values all have a microtesla double that divides back exactly).
const NOT_BYTE_EXACT: [&str; 0] = [];

#[test]
#[ignore = "opens DDS participants: runs in a loopback-only network namespace (root); scripts/test.sh runs it"]
fn an_imported_bag_plays_back_whole_in_order_and_on_time() {
    if !netns::isolated("an_imported_bag_plays_back_whole_in_order_and_on_time") {
        return;
    }
    if let Some(addr) = external() {
        not_on_external(
            "play",
            &format!("plays from its own server in the namespace; {addr} is not reachable from it"),
        );
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for generation in [Generation::Legacy, Generation::Current] {
        let h = rt.block_on(harness(generation)).unwrap();
        let (bag, name) = imported_bag(dir.path(), &h.address());
        let sub = listener(&bag, dir.path(), &["--duration", "60", "--idle-exit", "3"]);
        let out = bridge(&h.address(), &["play", &name, "--delay", "2", "--json"]);
        assert!(
            out.status.success(),
            "play: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let got = summary(sub);
        eprintln!("{generation}: timing {}", got["timing"]);

        let topics = got["topics"].as_object().unwrap();
        assert_eq!(topics.len(), 10, "{got:#}");
        let mut expected_total = 0;
        for (topic, t) in topics {
            let expected = t["expected"].as_u64().unwrap();
            expected_total += expected;
            assert!(expected > 0, "{topic}: {t}");
            assert_eq!(
                t["received"], expected,
                "{generation} {topic}: every message arrives: {t}"
            );
            assert_eq!(t["in_order"], true, "{generation} {topic}: {t}");
            let exact = if NOT_BYTE_EXACT.contains(&topic.as_str()) {
                "value_equal"
            } else {
                "byte_equal"
            };
            assert_eq!(t[exact], expected, "{generation} {topic}: {t}");
            assert_eq!(
                report["topics"][topic]["published"], expected,
                "the player's count agrees with the subscriber's: {report:#}"
            );
        }
        assert_eq!(report["messages"], expected_total);
        assert_eq!(
            got["order_ok"], true,
            "one merged stream in time order: {}",
            got["arrivals"]
        );
        // The recording spans 1 s; the subscriber measures each arrival against its slot. The
        // tolerance is for a loaded CI machine; precision is the benchmark's.
        let timing = &got["timing"];
        assert_eq!(timing["messages"], expected_total);
        assert!(timing["p99_ms"].as_f64().unwrap() < 50.0, "{timing}");
        assert_eq!(report["ended_by"], "end");
    }
}

// rosbag2_interfaces/srv/* as the wire carries them, declared independently of the backend.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Empty {
    structure_needs_at_least_one_member: u8,
}
impl ros2_client::Message for Empty {}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Flag {
    value: bool,
}
impl ros2_client::Message for Flag {}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct F64 {
    value: f64,
}
impl ros2_client::Message for F64 {}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct U64 {
    value: u64,
}
impl ros2_client::Message for U64 {}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Time {
    sec: i32,
    nanosec: u32,
}
impl ros2_client::Message for Time {}

fn client<Q: ros2_client::Message + Clone + 'static, P: ros2_client::Message + 'static>(
    caller: &mut Caller,
    name: &str,
    srv: &str,
) -> Client<Q, P> {
    let qos = QosProfile::publisher_default().history(History::KeepLast { depth: 10 });
    caller
        .node
        .create_client::<Q, P>(
            ServiceMapping::Enhanced,
            &Name::parse(&format!("/rosbag2_player/{name}")).unwrap(),
            &ServiceTypeName::new("rosbag2_interfaces", srv),
            qos.clone(),
            qos,
        )
        .unwrap()
}

async fn call<Q: ros2_client::Message + 'static, P: ros2_client::Message + 'static>(
    caller: &Caller,
    c: &Client<Q, P>,
    q: Q,
) -> P {
    discovered(&caller.node, c).await;
    tokio::time::timeout(PATIENCE, c.async_call_service(q))
        .await
        .expect("a reply in time")
        .expect("a reply")
}

#[test]
#[ignore = "opens DDS participants: runs in a loopback-only network namespace (root); scripts/test.sh runs it"]
fn the_player_services_pause_step_burst_seek_rate_and_stop() {
    if !netns::isolated("the_player_services_pause_step_burst_seek_rate_and_stop") {
        return;
    }
    let Some((rt, h)) = own_server("play services") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (bag, name) = imported_bag(dir.path(), &h.address());
    let sub = listener(
        &bag,
        dir.path(),
        &["--topics", "/imu", "--duration", "90", "--idle-exit", "4"],
    );
    let mut player = Command::new(env!("CARGO_BIN_EXE_mosaico-bridge"))
        .args([
            "--server",
            &h.address(),
            "play",
            &name,
            "--topics",
            "/imu",
            "--start-paused",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    let mut caller = Caller::new("player_driver");
    let is_paused = client::<Empty, Flag>(&mut caller, "is_paused", "IsPaused");
    let get_rate = client::<Empty, F64>(&mut caller, "get_rate", "GetRate");
    let set_rate = client::<F64, Flag>(&mut caller, "set_rate", "SetRate");
    let play_next = client::<Empty, Flag>(&mut caller, "play_next", "PlayNext");
    let burst = client::<U64, U64>(&mut caller, "burst", "Burst");
    let seek = client::<Time, Flag>(&mut caller, "seek", "Seek");
    let resume = client::<Empty, Empty>(&mut caller, "resume", "Resume");
    let pause = client::<Empty, Empty>(&mut caller, "pause", "Pause");
    let toggle = client::<Empty, Empty>(&mut caller, "toggle_paused", "TogglePaused");
    let stop = client::<Empty, Empty>(&mut caller, "stop", "Stop");
    let e = Empty::default;

    rt.block_on(async {
        // A client sees the player's service before the player's reply writer has matched the
        // client's reply reader, and a reply written before that match is lost (ros2-client's
        // server cannot wait for it as rmw_fastrtps's does). Every service discovered, then a
        // second to settle: a reply lost after that is the player's fault.
        let n = &caller.node;
        let discovered: Vec<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>>> = vec![
            Box::pin(discovered(n, &is_paused)),
            Box::pin(discovered(n, &get_rate)),
            Box::pin(discovered(n, &set_rate)),
            Box::pin(discovered(n, &play_next)),
            Box::pin(discovered(n, &burst)),
            Box::pin(discovered(n, &seek)),
            Box::pin(discovered(n, &resume)),
            Box::pin(discovered(n, &pause)),
            Box::pin(discovered(n, &toggle)),
            Box::pin(discovered(n, &stop)),
        ];
        tokio::time::timeout(PATIENCE, futures::future::join_all(discovered))
            .await
            .expect("the player's services to be discovered");
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(call(&caller, &is_paused, e()).await.value, "--start-paused");
        assert_eq!(call(&caller, &get_rate, e()).await.value, 1.0);
        // Nothing is published while paused; play_next publishes one, burst four more.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(call(&caller, &play_next, e()).await.value);
        assert_eq!(call(&caller, &burst, U64 { value: 4 }).await.value, 4);
        assert!(
            !call(&caller, &set_rate, F64 { value: 0.0 }).await.value,
            "a rate of 0 is refused"
        );
        assert!(call(&caller, &set_rate, F64 { value: 0.5 }).await.value);
        assert_eq!(call(&caller, &get_rate, e()).await.value, 0.5);
        // Message 50 of /imu is at T0 + 500 ms.
        let at = T0 + 500_000_000;
        let t = Time {
            sec: (at / 1_000_000_000) as i32,
            nanosec: (at % 1_000_000_000) as u32,
        };
        assert!(call(&caller, &seek, t).await.value);
        call(&caller, &resume, e()).await;
        assert!(!call(&caller, &is_paused, e()).await.value);
        assert!(
            !call(&caller, &play_next, e()).await.value,
            "play_next only while paused"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        call(&caller, &pause, e()).await;
        assert!(call(&caller, &is_paused, e()).await.value);
        tokio::time::sleep(Duration::from_millis(500)).await;
        call(&caller, &toggle, e()).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        call(&caller, &stop, e()).await;
    });
    let t = Instant::now();
    let status = loop {
        if let Some(st) = player.try_wait().unwrap() {
            break st;
        }
        assert!(t.elapsed() < PATIENCE, "stop ends the player");
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = player.wait_with_output().unwrap();
    assert!(status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ended_by"], "stop");
    let got = summary(sub);

    let arrivals: Vec<(i64, f64)> = got["arrivals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a[1].as_i64().unwrap(), a[2].as_f64().unwrap()))
        .collect();
    let idx: Vec<i64> = arrivals.iter().map(|a| a.0).collect();
    assert_eq!(
        &idx[..5],
        &[0, 1, 2, 3, 4],
        "play_next, then a burst of 4: {idx:?}"
    );
    let after: Vec<i64> = idx[5..].to_vec();
    assert_eq!(
        after.first(),
        Some(&50),
        "the seek went to message 50: {idx:?}"
    );
    assert!(
        after.windows(2).all(|w| w[1] == w[0] + 1),
        "contiguous after the seek: {idx:?}"
    );
    assert!(
        *after.last().unwrap() < 99,
        "stopped before the end: {idx:?}"
    );
    assert_eq!(
        report["messages"].as_u64().unwrap(),
        idx.len() as u64,
        "what the player says it published arrived, no more: {report:#}"
    );
    // At rate 0.5 the 10 ms IMU period plays as 20 ms, except across the pause.
    let mut gaps: Vec<f64> = arrivals[5..]
        .windows(2)
        .map(|w| (w[1].1 - w[0].1) * 1e3)
        .collect();
    assert!(
        gaps.iter().any(|g| *g > 400.0),
        "the pause shows as a gap: {gaps:?}"
    );
    gaps.retain(|g| *g < 100.0);
    gaps.sort_by(f64::total_cmp);
    let median = gaps[gaps.len() / 2];
    assert!(
        (15.0..25.0).contains(&median),
        "median inter-arrival {median} ms at rate 0.5: {gaps:?}"
    );
}

#[test]
#[ignore = "opens DDS participants: runs in a loopback-only network namespace (root); scripts/test.sh runs it"]
fn a_sequence_the_official_sdk_wrote_plays_as_typed_ros_messages() {
    if !netns::isolated("a_sequence_the_official_sdk_wrote_plays_as_typed_ros_messages") {
        return;
    }
    let Some((_rt, h)) = own_server("play of an SDK sequence") else {
        return;
    };
    let name = unique("play_sdk");
    let st = Command::new(python())
        .arg(script("sdk_interop.py"))
        .args(["write", "127.0.0.1", &h.addr.port.to_string(), &name])
        .status()
        .unwrap();
    assert!(st.success(), "the SDK writes its sequence");
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("received");
    let ready = dir.path().join("ready");
    // The SDK records no ROS type: it comes from the ontology tag (IMU → Imu, Image → Image).
    let sub = Command::new(python())
        .arg(script("play_listen.py"))
        .args([
            "--topic",
            "/imu=sensor_msgs/msg/Imu",
            "--topic",
            "/camera/image_raw=sensor_msgs/msg/Image",
        ])
        .args(["--duration", "60", "--idle-exit", "3", "--ready"])
        .arg(&ready)
        .arg("--save")
        .arg(&saved)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !ready.exists() {
        assert!(t.elapsed() < PATIENCE, "the subscriber did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = bridge(
        &h.address(),
        &["play", &name, "--delay", "2", "--rate", "4", "--json"],
    );
    assert!(
        out.status.success(),
        "play: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["topics"]["/imu"]["ros_type"], "sensor_msgs/msg/Imu");
    summary(sub);

    // rosbags reads what the Cyclone subscriber received.
    let read = rosbags_read(&saved, false);
    let want: Vec<f64> = (0..200).map(|i| i as f64 * 0.5).collect();
    assert_eq!(
        read["topics"]["/imu"]["x"],
        serde_json::json!(want),
        "the SDK's acceleration.x, in order: {read}"
    );
    assert_eq!(read["topics"]["/camera/image_raw"]["count"], 5, "{read}");
}
