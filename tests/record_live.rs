//! The live path end to end over real DDS, inside a loopback-only network namespace: an independent
//! ROS 2 peer (PyPI cyclonedds, python/ros_peer.py) publishes a robot's sensors, the
//! `mosaico-bridge record` process (DDS backend) records them into the test server, SIGTERM ends
//! it, and every stored row is compared with what the peer says it sent.

mod common;
#[path = "common/netns.rs"]
mod netns;
#[path = "common/trigger.rs"]
mod trigger;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use trigger::{Caller, TriggerClient};

fn peer(args: &[&str], manifest: &Path) -> Child {
    Command::new(python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/python/ros_peer.py"))
        .args(args)
        .arg("--manifest")
        .arg(manifest)
        .arg("--quiet")
        .spawn()
        .expect("the peer starts")
}

fn sigterm(child: &Child) {
    let st = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

/// Waits for `child` at most `limit`; returns its exit status and how long it took.
fn wait_for(child: &mut Child, limit: Duration) -> (std::process::ExitStatus, Duration) {
    let t = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return (st, t.elapsed());
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            panic!("process still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Once the peer has ended (successfully) and the recorder had 1.5 s for the last messages:
/// SIGTERM to the recorder; its exit status and how long it took to stop.
fn stop_after_the_peer(
    robot: &mut Child,
    recorder: &mut Child,
) -> (std::process::ExitStatus, Duration) {
    let (st, _) = wait_for(robot, Duration::from_secs(90));
    assert!(st.success(), "the peer failed: {st}");
    std::thread::sleep(Duration::from_millis(1500));
    sigterm(recorder);
    wait_for(recorder, Duration::from_secs(60))
}

/// `mosaico-bridge cat` of a topic: JSON rows (binaries as length and sha256).
fn cat(server: &str, seq: &str, topic: &str) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_mosaico-bridge"))
        .args(["--server", server, "cat", &format!("{seq}{topic}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

fn stamp_of(row: &Value) -> (i64, i64) {
    let h = if row["header"].is_object() {
        &row["header"]
    } else {
        &row["transforms"][0]["header"]
    };
    (
        h["timestamp"]["seconds"].as_i64().unwrap(),
        h["timestamp"]["nanoseconds"].as_i64().unwrap(),
    )
}

#[test]
#[ignore = "opens DDS participants: runs in a loopback-only network namespace (root); scripts/test.sh runs it"]
fn a_cyclone_peer_is_recorded_over_dds_and_sigterm_finalizes() {
    if !netns::isolated("a_cyclone_peer_is_recorded_over_dds_and_sigterm_finalizes") {
        return;
    }
    let Some((_rt, server)) = own_server("record_live") else {
        return;
    };
    let addr = server.address();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("peer.json");
    let name = unique("live");

    // /tf_static is published (latched) before the recorder exists; the periodic topics start
    // once the recorder has subscribed to them.
    let mut robot = peer(
        &[
            "--image-size",
            "640x480",
            "--rate",
            "camera=15",
            "--points-size",
            "16x512",
            "--rate",
            "points=10",
            "--rate",
            "imu=500",
            "--rate",
            "gps=10",
            "--rate",
            "tf=20",
            "--duration",
            "3",
            "--garbage",
            "imu:5",
            "--wait-subscribers",
            "1",
            "--wait-timeout",
            "60",
            "--linger",
            "2",
        ],
        &manifest,
    );
    std::thread::sleep(Duration::from_secs(2));
    let spool = tempfile::tempdir().unwrap();
    let mut recorder = Command::new(env!("CARGO_BIN_EXE_mosaico-bridge"))
        .args(["--server", &addr, "record", "--sequence", &name, "--json"])
        .arg("--spool")
        .arg(spool.path())
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (st, took) = stop_after_the_peer(&mut robot, &mut recorder);
    // The peer's 5 garbage IMU payloads were received and cannot be stored: exit status 4
    // (README, "Exit status"), not 0.
    assert_eq!(
        st.code(),
        Some(4),
        "SIGTERM ends a recording that received malformed messages with status 4, got {st}"
    );
    eprintln!("recorder stopped {took:?} after SIGTERM");
    let mut out = String::new();
    std::io::Read::read_to_string(recorder.stdout.as_mut().unwrap(), &mut out).unwrap();
    let report: Value = serde_json::from_str(&out).expect("the --json report");
    let manifest: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();

    let session = &report["sessions"][0];
    assert_eq!(session["state"], "finalized", "{session:#}");
    let topics: HashMap<String, &Value> = session["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["topic"].as_str().unwrap().to_string(), t))
        .collect();
    for topic in [
        "/camera/image_raw",
        "/imu",
        "/points",
        "/gps",
        "/tf",
        "/tf_static",
    ] {
        let t = topics
            .get(topic)
            .unwrap_or_else(|| panic!("{topic} was not recorded: {session:#}"));
        let m = &manifest["topics"][topic];
        let published = m["published"].as_u64().unwrap() + m["garbage"].as_u64().unwrap();
        let received = t["received"].as_u64().unwrap();
        eprintln!(
            "{topic}: published {published}, received {received} (DDS loss {})",
            published - received.min(published)
        );
        assert!(received > 0 && received <= published, "{t}");
        assert_eq!(
            t["written"].as_u64().unwrap() + t["malformed"].as_u64().unwrap(),
            received,
            "nothing lost inside the bridge: {t}"
        );
        assert_eq!(
            (t["dropped"].as_u64(), t["lost"].as_u64()),
            (Some(0), Some(0)),
            "{t}"
        );
        if m["qos"]["reliability"] == "reliable" {
            assert_eq!(received, published, "a reliable topic arrives whole: {t}");
        }
    }
    assert_eq!(
        topics["/imu"]["malformed"], 5,
        "the peer's garbage payloads are counted"
    );
    assert_eq!(
        topics["/tf_static"]["received"], 1,
        "latched before the recorder started"
    );

    // Every stored row is one the peer sent, field by field.
    for (topic, keys) in [
        ("/imu", &["linear_acceleration_x", "angular_velocity_x"][..]),
        ("/gps", &["latitude", "longitude", "altitude"][..]),
        ("/camera/image_raw", &["data_sha256", "width", "height"][..]),
        ("/points", &["data_sha256", "width", "point_step"][..]),
        ("/tf", &["transforms"][..]),
        ("/tf_static", &["transforms"][..]),
    ] {
        let sent: HashMap<(i64, i64), &Value> = manifest["topics"][topic]["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    (
                        m["stamp"][0].as_i64().unwrap(),
                        m["stamp"][1].as_i64().unwrap(),
                    ),
                    m,
                )
            })
            .collect();
        let rows = cat(&addr, &name, topic);
        assert_eq!(
            rows.len() as u64,
            topics[topic]["written"].as_u64().unwrap(),
            "{topic}"
        );
        for r in &rows {
            let m = sent
                .get(&stamp_of(r))
                .unwrap_or_else(|| panic!("{topic}: a row the peer never sent: {r}"));
            for k in keys {
                let got = match *k {
                    "linear_acceleration_x" => r["acceleration"]["x"].clone(),
                    "angular_velocity_x" => r["angular_velocity"]["x"].clone(),
                    "latitude" => r["position"]["x"].clone(),
                    "longitude" => r["position"]["y"].clone(),
                    "altitude" => r["position"]["z"].clone(),
                    "data_sha256" => r["data"]["sha256"].clone(),
                    "transforms" => Value::Array(
                        r["transforms"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|t| {
                                serde_json::json!({
                                    "child_frame_id": t["target_frame_id"],
                                    "frame_id": t["header"]["frame_id"],
                                    "translation": [t["translation"]["x"], t["translation"]["y"], t["translation"]["z"]],
                                    "rotation_w": t["rotation"]["w"],
                                })
                            })
                            .collect(),
                    ),
                    other => r[other].clone(),
                };
                assert_eq!(got, m[*k], "{topic} {k} at stamp {:?}", stamp_of(r));
            }
        }
    }
    drop(server);
}

#[test]
#[ignore = "opens DDS participants: runs in a loopback-only network namespace (root); scripts/test.sh runs it"]
fn services_and_diagnostics_drive_the_recorder_over_dds() {
    use mosaico_bridge::ros::cdr::{CdrCodec, CdrReader};
    use mosaico_bridge::ros::msgs::diagnostic_msgs::DiagnosticArray;
    use mosaico_bridge::ros::{Endian, RosMessage};
    use mosaico_bridge::transport::dds::DdsTransport;
    use mosaico_bridge::transport::{Qos, RawMessage, Transport};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    if !netns::isolated("services_and_diagnostics_drive_the_recorder_over_dds") {
        return;
    }
    let Some((rt, server)) = own_server("record_live") else {
        return;
    };
    let addr = server.address();
    let name = unique("svc");
    let dir = tempfile::tempdir().unwrap();
    let mut recorder = service_recorder(&addr, &format!("{{name: {name}}}"), dir.path());

    // A sensor node publishing /imu, and a watcher of /diagnostics.
    let sensor = DdsTransport::new("/", "imu_driver").unwrap();
    let imu = sensor
        .publisher(
            "/imu",
            mosaico_bridge::ros::msgs::sensor_msgs::Imu::TYPE_NAME,
            Qos::SENSOR_DATA,
        )
        .unwrap();
    let running = Arc::new(AtomicBool::new(true));
    let publisher = std::thread::spawn({
        let running = running.clone();
        move || {
            let mut i = 0u64;
            while running.load(Ordering::Relaxed) {
                imu.publish(&mosaico_bridge::demo::imu(i, 0).to_cdr(Endian::Little))
                    .unwrap();
                i += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });
    let status = Arc::new(Mutex::new(String::new()));
    let _diag = sensor
        .subscribe(
            "/diagnostics",
            "diagnostic_msgs/msg/DiagnosticArray",
            Qos::DEFAULT,
            Arc::new({
                let status = status.clone();
                move |m: RawMessage| {
                    let a =
                        DiagnosticArray::read(&mut CdrReader::from_bytes(&m.cdr).unwrap()).unwrap();
                    *status.lock().unwrap() = a.status[0].message.clone();
                }
            }),
        )
        .unwrap();
    let wait_status = |prefix: &str| {
        let t = Instant::now();
        while !status.lock().unwrap().starts_with(prefix) {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "diagnostics never said `{prefix}`: {:?}",
                status.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };

    // A ROS client calls the recorder's services.
    let mut caller = Caller::new("caller");
    let (start, split, stop) = (
        caller.client("/r1/rec/start"),
        caller.client("/r1/rec/split"),
        caller.client("/r1/rec/stop"),
    );
    let call = |c: &TriggerClient| rt.block_on(trigger::call(c));
    rt.block_on(async {
        for c in [&start, &split, &stop] {
            caller.wait_for(c).await;
        }
    });
    wait_status("idle");
    let r = call(&start);
    assert!(r.success, "{r:?}");
    wait_status("recording");
    std::thread::sleep(Duration::from_millis(1500));
    let r = call(&split);
    assert!(r.success, "{r:?}");
    std::thread::sleep(Duration::from_millis(1000));
    let r = call(&stop);
    assert!(r.success && r.message.starts_with("finalized"), "{r:?}");
    wait_status("idle");
    running.store(false, Ordering::Relaxed);
    publisher.join().unwrap();

    sigterm(&recorder);
    let (st, _) = wait_for(&mut recorder, Duration::from_secs(30));
    assert!(st.success(), "{st}");
    let mut out = String::new();
    std::io::Read::read_to_string(recorder.stdout.as_mut().unwrap(), &mut out).unwrap();
    let report: Value = serde_json::from_str(&out).unwrap();
    let session = &report["sessions"][0];
    assert_eq!(session["state"], "finalized");
    assert_eq!(session["parts"].as_array().unwrap().len(), 2, "{session:#}");
    let t = &session["topics"][0];
    assert_eq!(t["topic"], "/imu");
    assert!(t["received"].as_u64().unwrap() > 100, "{t}");
    assert_eq!(t["written"], t["received"], "{t}");
    let stored = rt.block_on(async {
        let c = server.client().await;
        read_topic(&c, &name, "/imu").await.num_rows()
            + read_topic(&c, &name, "/imu__part2").await.num_rows()
    });
    assert_eq!(stored as u64, t["written"].as_u64().unwrap());
    drop(server);
}

/// As a `Type=notify` systemd unit runs it: the service manager's socket (here one the test binds,
/// standing in for systemd's) hears `READY=1` once the node is up and `STOPPING=1` at SIGTERM;
/// the log on a non-terminal stderr (journald) has no colour codes.
#[test]
#[ignore = "opens DDS participants: runs in a loopback-only network namespace (root); scripts/test.sh runs it"]
fn record_tells_the_service_manager_it_is_ready_and_stopping() {
    if !netns::isolated("record_tells_the_service_manager_it_is_ready_and_stopping") {
        return;
    }
    let Some((_rt, server)) = own_server("record_live") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut recorder = Command::new(env!("CARGO_BIN_EXE_mosaico-bridge"))
        .args([
            "--server",
            &server.address(),
            "record",
            "--sequence",
            &unique("svc"),
        ])
        .arg("--spool")
        .arg(dir.path().join("spool"))
        .env("NOTIFY_SOCKET", &sock_path)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).expect("READY=1 within 60 s");
    let ready = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready:?}");
    assert!(ready.contains("STATUS=recording"), "{ready:?}");
    sigterm(&recorder);
    let n = sock.recv(&mut buf).expect("STOPPING=1 after SIGTERM");
    let stopping = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping:?}");
    let (st, _) = wait_for(&mut recorder, Duration::from_secs(30));
    assert!(st.success(), "exit {st}");
    let mut log = String::new();
    std::io::Read::read_to_string(&mut recorder.stderr.take().unwrap(), &mut log).unwrap();
    assert!(log.contains("recorder node up"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "no ANSI codes in a log that is not a terminal"
    );
}

#[test]
#[ignore = "opens DDS participants: runs in a loopback-only network namespace (root); scripts/test.sh runs it"]
fn record_exits_3_while_what_it_received_waits_in_the_spool() {
    if !netns::isolated("record_exits_3_while_what_it_received_waits_in_the_spool") {
        return;
    }
    // A server that never answers: a port nobody listens on (connections are refused).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("peer.json");
    let spool = dir.path().join("spool");
    let mut robot = peer(
        &[
            "--topics",
            "imu",
            "--count",
            "imu=300",
            "--rate",
            "imu=200",
            "--qos",
            "imu=reliable",
            "--wait-subscribers",
            "1",
            "--wait-timeout",
            "60",
            "--linger",
            "2",
        ],
        &manifest,
    );
    let mut recorder = Command::new(env!("CARGO_BIN_EXE_mosaico-bridge"))
        .args([
            "--server",
            &addr,
            "record",
            "--sequence",
            &unique("offline"),
        ])
        .arg("--spool")
        .arg(&spool)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (st, _) = stop_after_the_peer(&mut robot, &mut recorder);
    assert_eq!(
        st.code(),
        Some(3),
        "nothing lost, everything waits in the spool: status 3, got {st}"
    );

    // rosbags reads the spool: every message the peer published is there, once.
    let manifest: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    let published = manifest["topics"]["/imu"]["published"].as_u64().unwrap();
    assert_eq!(published, 300);
    let sessions: Vec<_> = std::fs::read_dir(&spool)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("metadata.yaml").exists())
        .collect();
    assert_eq!(sessions.len(), 1, "one session in the spool: {sessions:?}");
    let bag = rosbags_read(&sessions[0], false);
    assert_eq!(bag["topics"]["/imu"]["count"], published, "{bag}");
}

#[test]
#[ignore = "opens DDS participants: runs in a loopback-only network namespace (root); scripts/test.sh runs it"]
fn the_ros_discovery_range_is_honoured() {
    if !netns::isolated("the_ros_discovery_range_is_honoured") {
        return;
    }
    let Some((_rt, server)) = own_server("record_live") else {
        return;
    };
    let addr = server.address();
    let dir = tempfile::tempdir().unwrap();
    // One recording with ENV set, while the Cyclone peer publishes 50 reliable IMU messages once
    // it sees a subscriber (waiting at most 8 s: its exit status is 3 when none came).
    let run = |tag: &str, env: &[(&str, &str)]| {
        let manifest = dir.path().join(format!("{tag}.json"));
        let name = unique(tag);
        let mut recorder = Command::new(env!("CARGO_BIN_EXE_mosaico-bridge"));
        recorder
            .args(["--server", &addr, "record", "--sequence", &name])
            .args(["--topics", "/imu", "--spool"])
            .arg(dir.path().join(tag))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            recorder.env(k, v);
        }
        let mut recorder = recorder.spawn().unwrap();
        let mut robot = peer(
            &[
                "--topics",
                "imu",
                "--count",
                "imu=50",
                "--rate",
                "imu=100",
                "--qos",
                "imu=reliable",
                "--wait-subscribers",
                "1",
                "--wait-timeout",
                "8",
                "--linger",
                "1",
            ],
            &manifest,
        );
        let (peer_st, _) = wait_for(&mut robot, Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(1000));
        sigterm(&recorder);
        let (st, _) = wait_for(&mut recorder, Duration::from_secs(30));
        let mut log = String::new();
        std::io::Read::read_to_string(&mut recorder.stderr.take().unwrap(), &mut log).unwrap();
        (peer_st, st, name, log)
    };

    // OFF: the recorder discovers nobody, and nobody discovers it.
    let (peer_st, st, _, log) = run("off", &[("ROS_AUTOMATIC_DISCOVERY_RANGE", "OFF")]);
    assert_eq!(
        peer_st.code(),
        Some(3),
        "the peer never saw a subscriber: {log}"
    );
    assert_eq!(st.code(), Some(0), "nothing received, nothing lost: {log}");

    // ROS_LOCALHOST_ONLY=1 (deprecated, honoured as LOCALHOST): a peer on this machine is found,
    // and the server holds what it published.
    let (peer_st, st, name, log) = run("localhost", &[("ROS_LOCALHOST_ONLY", "1")]);
    assert!(
        peer_st.success(),
        "the peer saw the recorder: {peer_st}\n{log}"
    );
    assert_eq!(st.code(), Some(0), "{log}");
    assert!(log.contains("ROS_LOCALHOST_ONLY=1 is deprecated"), "{log}");
    assert_eq!(cat(&addr, &name, "/imu").len(), 50, "{log}");

    // A value ROS does not define is refused at start, naming the variable and the choices.
    let out = Command::new(env!("CARGO_BIN_EXE_mosaico-bridge"))
        .args(["--server", &addr, "record", "--no-spool"])
        .env("ROS_AUTOMATIC_DISCOVERY_RANGE", "LAN")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("ROS_AUTOMATIC_DISCOVERY_RANGE=\"LAN\"") && err.contains("LOCALHOST"),
        "{err}"
    );
}

#[test]
#[ignore = "opens DDS participants: runs in a loopback-only network namespace (root); scripts/test.sh runs it"]
fn sim_time_comes_from_clock_and_header_stamps_from_the_messages() {
    if !netns::isolated("sim_time_comes_from_clock_and_header_stamps_from_the_messages") {
        return;
    }
    let Some((_rt, server)) = own_server("record_live") else {
        return;
    };
    let addr = server.address();
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("peer.json");
    let config = dir.path().join("record.yaml");
    std::fs::write(
        &config,
        "mosaico_bridge:\n  ros__parameters:\n    overrides:\n      imu: {topic: /imu, timestamp: header}\n",
    )
    .unwrap();
    let name = unique("simtime");
    let mut recorder = Reaped(
        Command::new(env!("CARGO_BIN_EXE_mosaico-bridge"))
            .args(["--server", &addr, "record", "--sequence", &name])
            .args(["--topics", "/imu", "/gps", "--use-sim-time", "--config"])
            .arg(&config)
            .arg("--spool")
            .arg(dir.path().join("spool"))
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    // The peer's /clock runs from t0 = 2023-11-14 (its default) at 1x from its start, and starts
    // publishing /imu and /gps 0.5 s after the recorder matched them and /clock.
    let mut robot = Reaped(peer(
        &[
            "--topics",
            "imu,gps",
            "--clock",
            "50",
            "--rate",
            "imu=100",
            "--rate",
            "gps=10",
            "--qos",
            "imu=reliable",
            "--duration",
            "2",
            "--wait-subscribers",
            "1",
            "--wait-timeout",
            "60",
            "--start-delay",
            "0.5",
            "--linger",
            "1",
        ],
        &manifest,
    ));
    let (st, _) = stop_after_the_peer(&mut robot, &mut recorder);
    assert!(st.success(), "{st}");
    let manifest: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    let ns = |s: &Value| s[0].as_i64().unwrap() * 1_000_000_000 + s[1].as_i64().unwrap();

    // Oracle: the peer's manifest, its header stamps and every /clock value it published.
    let stamps: Vec<i64> = manifest["topics"]["/imu"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| ns(&m["stamp"]))
        .collect();
    let imu: Vec<i64> = cat(&addr, &name, "/imu")
        .iter()
        .map(|r| r["timestamp_ns"].as_i64().unwrap())
        .collect();
    assert_eq!(
        imu, stamps,
        "/imu (reliable) is stored at its header stamps"
    );

    let clock: std::collections::HashSet<i64> = manifest["clock"]["values_ns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    let gps = cat(&addr, &name, "/gps");
    assert_eq!(
        gps.len() as u64,
        manifest["topics"]["/gps"]["published"].as_u64().unwrap()
    );
    let mut last = 0;
    for r in &gps {
        let t = r["timestamp_ns"].as_i64().unwrap();
        assert!(
            clock.contains(&t),
            "/gps at {t}, which is no /clock value the peer published (header {:?})",
            stamp_of(r)
        );
        assert!(t >= last, "sim time does not go back");
        last = t;
    }
}
