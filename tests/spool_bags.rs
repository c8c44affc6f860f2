//! The spool on disk: a session left in the spool is a rosbag2 bag that rosbags (an independent
//! reader) opens with the publisher's messages, types and QoS; and a segment cut anywhere (a crash,
//! a power cut) recovers to a prefix of what was written, never a panic.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use mosaico_bridge::bag::reader::Sealed;
use mosaico_bridge::bag::{SegmentReader, SegmentWriter};
use mosaico_bridge::config::RecordConfig;
use mosaico_bridge::demo;
use mosaico_bridge::record::node::shutdown_channel;
use mosaico_bridge::record::RecorderNode;
use mosaico_bridge::ros::msgs::sensor_msgs::Imu;
use mosaico_bridge::ros::{Endian, RosMessage};
use mosaico_bridge::transport::memory::MemoryBus;
use mosaico_bridge::transport::{Qos, Transport};
use mosaico_bridge::upload::spool_dir::{self, SessionDir, SessionFacts};
use mosaico_bridge::upload::uploader::repair;
use proptest::prelude::*;
use serde_json::{json, Value};

fn python() -> Option<String> {
    std::env::var("MOSAICO_TEST_PYTHON").ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the Python peers (MOSAICO_TEST_PYTHON): scripts/test.sh runs it"]
async fn a_session_left_in_the_spool_is_a_bag_rosbags_reads() {
    let Some(py) = python() else {
        return skip(
            "spool_bags::a_session_left_in_the_spool_is_a_bag_rosbags_reads",
            "MOSAICO_TEST_PYTHON is not set (rosbags)",
        );
    };
    // No server answers: the session stays in the spool.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = dead.local_addr().unwrap().to_string();
    drop(dead);
    let spool = tempfile::tempdir().unwrap();
    let mut cfg = RecordConfig {
        server,
        stop_timeout_s: 2.0,
        connect_timeout_s: 0.5,
        ..Default::default()
    };
    cfg.sequence.name = unique("bag");
    cfg.topics.all = true;
    cfg.topics.exclude = vec!["/diagnostics".into()];
    cfg.spool.dir = spool.path().display().to_string();
    cfg.spool.min_free_bytes = 0;
    cfg.split.max_duration_s = 1; // several segments in one bag
    let bus = MemoryBus::new();
    let node = RecorderNode::new(cfg, Arc::new(bus.node("", "rec"))).unwrap();
    let (stop, shutdown) = shutdown_channel();
    let task = tokio::spawn(node.run(shutdown));

    let robot = bus.node("", "robot");
    let imu = robot
        .publisher("/imu", Imu::TYPE_NAME, Qos::SENSOR_DATA)
        .unwrap();
    let latched = robot
        .publisher("/tf_static", "tf2_msgs/msg/TFMessage", Qos::LATCHED)
        .unwrap();
    latched.publish(&[0, 1, 0, 0, 0, 0, 0, 0]).unwrap(); // an empty TFMessage
    let t = Instant::now();
    while bus.subscriptions("/imu") == 0 || bus.subscriptions("/tf_static") == 0 {
        assert!(t.elapsed() < Duration::from_secs(10), "never subscribed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let n = 1500u64;
    for i in 0..n {
        imu.publish(&demo::imu(i, 0).to_cdr(Endian::Little))
            .unwrap();
        if i % 100 == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    stop.send(()).await.unwrap();
    let report = task.await.unwrap().unwrap();
    assert_eq!(report.sessions[0].state, "spooled");

    let (sessions, _) = spool_dir::scan(spool.path()).unwrap();
    assert_eq!(sessions.len(), 1, "the session waits in the spool");
    assert!(
        sessions[0].segments().unwrap().len() >= 2,
        "split into segments"
    );
    let out = std::process::Command::new(py)
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/python/read_bag.py"))
        .arg(&sessions[0].path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rosbags could not read the spool's bag: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bag: Value = serde_json::from_slice(&out.stdout).unwrap();
    let imu = &bag["topics"]["/imu"];
    assert_eq!(imu["type"], "sensor_msgs/msg/Imu");
    assert_eq!(imu["count"], n);
    let xs: Vec<f64> = imu["x"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let want: Vec<f64> = (0..n).map(|i| 0.5 * i as f64).collect();
    assert_eq!(xs, want, "every message once, in order, as published");
    // The publisher's QoS as rosbag2 numbers it: best effort = 2, volatile = 2, transient local = 1.
    assert_eq!(
        imu["qos"][0],
        json!({"reliability": 2, "durability": 2, "depth": 5})
    );
    let tf = &bag["topics"]["/tf_static"];
    assert_eq!(
        tf["count"], 1,
        "the latched message published before the recorder started"
    );
    assert_eq!(
        tf["qos"][0],
        json!({"reliability": 1, "durability": 1, "depth": 1})
    );
}

/// A segment of `sizes.len()` messages, a chunk closed every `per_chunk`; returns the messages and
/// the file length after each chunk with how many messages it completed.
fn write_segment(
    path: &Path,
    sizes: &[usize],
    per_chunk: usize,
) -> (Vec<Vec<u8>>, Vec<(u64, usize)>) {
    let mut w = SegmentWriter::create(path, &BTreeMap::new()).unwrap();
    let ch = w
        .channel("/imu", Imu::TYPE_NAME, "", &[Qos::DEFAULT], None)
        .unwrap();
    let mut msgs = Vec::new();
    let mut chunks = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        let data: Vec<u8> = (0..*size).map(|b| (b + i) as u8).collect();
        w.write(ch, i as u64, &data).unwrap();
        msgs.push(data);
        if (i + 1) % per_chunk == 0 {
            w.flush().map_err(|(e, _)| e).unwrap();
            chunks.push((std::fs::metadata(path).unwrap().len(), i + 1));
        }
    }
    let _ = w.finish().map_err(|(e, _)| e).unwrap();
    (msgs, chunks)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn a_cut_segment_recovers_a_prefix_of_what_was_written(
        sizes in prop::collection::vec(1usize..3000, 1..60),
        per_chunk in 1usize..8,
        cut_at in 0.0f64..1.0,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let session = SessionDir::create(dir.path(), SessionFacts {
            session_id: "S".into(),
            sequence: "cut".into(),
            started_at: chrono::Utc::now(),
            host: "h".into(),
            metadata: json!({}),
        }).unwrap();
        let full = dir.path().join("full.mcap");
        let (msgs, chunks) = write_segment(&full, &sizes, per_chunk);
        let bytes = std::fs::read(&full).unwrap();
        let cut = (bytes.len() as f64 * cut_at) as usize;
        let path = session.segment_path(1);
        std::fs::write(&path, &bytes[..cut]).unwrap();

        // Reading a cut file ends at its last complete record.
        let read: Vec<Vec<u8>> = SegmentReader::open(&path, Box::new(Sealed))
            .unwrap()
            .map(|m| m.unwrap().data.to_vec())
            .collect();
        prop_assert!(read.len() <= msgs.len());
        prop_assert_eq!(&read[..], &msgs[..read.len()], "a prefix, in order, byte for byte");
        let complete = chunks.iter().filter(|(end, _)| *end as usize <= cut).map(|c| c.1).max().unwrap_or(0);
        prop_assert!(read.len() >= complete, "every complete chunk before the cut is read: {} < {complete}", read.len());

        // Recovery rewrites it as a complete segment holding exactly that prefix.
        repair(&session, 1, &path).unwrap();
        let s = spool_dir::file_summary(&path).unwrap().expect("a complete segment after repair");
        prop_assert_eq!(s.messages, read.len() as u64);
        let again: Vec<Vec<u8>> = SegmentReader::open(&path, Box::new(Sealed))
            .unwrap()
            .map(|m| m.unwrap().data.to_vec())
            .collect();
        prop_assert_eq!(again, read);
    }
}
