//! `play --rate max` against a raw read of the same sequence, in one run: how much of the server's
//! read rate the player keeps while it merges topics by time, encodes rows back to CDR and
//! publishes every message (into the in-process memory graph, to one subscriber per topic, so the
//! middleware's own cost is left out; the DDS figures are scripts/bench_play.sh's).
//!
//!     cargo bench --bench play
//!
//! The sequence: a bag written here of `BENCH_SECONDS` (default 10) of 1080p rgb8 Image @ 30 Hz,
//! PointCloud2 128×2048 @ 10 Hz and Imu @ 1 kHz, imported into the in-process test server. "Raw
//! read": every topic's DoGet stream read concurrently to the last batch (Arrow IPC decoded, nothing
//! else). Both are reported per CDR byte of the bag; `BENCH_REPEATS` (default 3) runs, the median.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use mosaico_bridge::bag::SegmentWriter;
use mosaico_bridge::import::{import, ImportOptions};
use mosaico_bridge::play::{PlayOptions, Rate};
use mosaico_bridge::ros::msgs::builtin_interfaces::Time;
use mosaico_bridge::ros::msgs::sensor_msgs::{Image, PointCloud2, PointField};
use mosaico_bridge::ros::msgs::std_msgs::Header;
use mosaico_bridge::ros::{Endian, RosMessage};
use mosaico_bridge::server::{ServerConfig, TestServer};
use mosaico_bridge::transport::memory::MemoryBus;
use mosaico_bridge::transport::{Qos, RawMessage, Transport};
use mosaico_bridge::{MosaicoClient, OnError};

const T0: i64 = 1_700_000_000_000_000_000;

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn header(t: i64, frame: &str) -> Header {
    Header {
        stamp: Time {
            sec: (t / 1_000_000_000) as i32,
            nanosec: (t % 1_000_000_000) as u32,
        },
        frame_id: frame.into(),
    }
}

/// Writes the bag; returns its CDR bytes and message count.
fn write_bag(path: &std::path::Path, seconds: usize) -> (u64, u64) {
    let mut w = SegmentWriter::create(path, &BTreeMap::new()).unwrap();
    let def = |t: &str| {
        mosaico_bridge::ros::msgs::definition(t)
            .unwrap_or("")
            .to_string()
    };
    let cam = w
        .channel(
            "/camera/image_raw",
            "sensor_msgs/msg/Image",
            &def("sensor_msgs/msg/Image"),
            &[Qos::SENSOR_DATA],
            None,
        )
        .unwrap();
    let pts = w
        .channel(
            "/points",
            "sensor_msgs/msg/PointCloud2",
            &def("sensor_msgs/msg/PointCloud2"),
            &[Qos::SENSOR_DATA],
            None,
        )
        .unwrap();
    let imu = w
        .channel(
            "/imu",
            "sensor_msgs/msg/Imu",
            &def("sensor_msgs/msg/Imu"),
            &[Qos::SENSOR_DATA],
            None,
        )
        .unwrap();
    let pixels: Vec<u8> = (0..1920 * 1080 * 3).map(|i| (i * 7 % 251) as u8).collect();
    let cloud: Vec<u8> = (0..128 * 2048 * 16).map(|i| (i * 13 % 253) as u8).collect();
    let fields = ["x", "y", "z", "intensity"]
        .iter()
        .enumerate()
        .map(|(k, n)| PointField {
            name: (*n).into(),
            offset: 4 * k as u32,
            datatype: 7,
            count: 1,
        })
        .collect::<Vec<_>>();
    let (mut bytes, mut count) = (0u64, 0u64);
    // In time order, as a recording is: IMU every 1 ms, a point cloud every 100, an image every 33.
    for ms in 0..(seconds * 1000) as i64 {
        let t = T0 + ms * 1_000_000;
        let mut out: Vec<(u16, Vec<u8>)> = vec![];
        if ms % 33 == 0 {
            let m = Image {
                header: header(t, "cam"),
                height: 1080,
                width: 1920,
                encoding: "rgb8".into(),
                is_bigendian: 0,
                step: 5760,
                data: pixels.clone().into(),
            };
            out.push((cam, m.to_cdr(Endian::Little)));
        }
        if ms % 100 == 0 {
            let m = PointCloud2 {
                header: header(t, "lidar"),
                height: 128,
                width: 2048,
                fields: fields.clone(),
                is_bigendian: false,
                point_step: 16,
                row_step: 16 * 2048,
                data: cloud.clone().into(),
                is_dense: true,
            };
            out.push((pts, m.to_cdr(Endian::Little)));
        }
        let m = mosaico_bridge::demo::imu(ms as u64, t);
        out.push((imu, m.to_cdr(Endian::Little)));
        for (ch, cdr) in out {
            w.write(ch, t as u64, &cdr).unwrap();
            bytes += cdr.len() as u64;
            count += 1;
        }
    }
    w.finish().map_err(|(e, _)| e).unwrap();
    (bytes, count)
}

/// Every topic's DoGet stream, read concurrently to the end.
async fn raw_read(client: &MosaicoClient, seq: &str) -> Duration {
    let handler = client.sequence_handler(seq).await.unwrap();
    let t = Instant::now();
    let mut reads = Vec::new();
    for topic in handler.topics() {
        let h = handler.topic(topic).await.unwrap();
        reads.push(tokio::spawn(async move {
            let mut s = h.stream(Default::default()).await.unwrap();
            let mut rows = 0;
            while let Some(b) = s.next().await {
                rows += b.unwrap().num_rows();
            }
            rows
        }));
    }
    for r in reads {
        r.await.unwrap();
    }
    t.elapsed()
}

/// `play --rate max` into the memory graph, one subscriber per topic counting what it gets.
async fn play_max(client: &MosaicoClient, seq: &str, want: u64) -> Duration {
    let bus = MemoryBus::new();
    let node: Arc<dyn Transport> = Arc::new(bus.node("", "rosbag2_player"));
    let listener = bus.node("", "listener");
    let got = Arc::new(AtomicU64::new(0));
    let mut subs = Vec::new();
    for (topic, ty) in [
        ("/camera/image_raw", "sensor_msgs/msg/Image"),
        ("/points", "sensor_msgs/msg/PointCloud2"),
        ("/imu", "sensor_msgs/msg/Imu"),
    ] {
        let g = got.clone();
        let on = Arc::new(move |_: RawMessage| {
            g.fetch_add(1, Ordering::Relaxed);
        });
        subs.push(
            listener
                .subscribe(
                    topic,
                    ty,
                    Qos {
                        depth: 100_000,
                        ..Qos::SENSOR_DATA
                    },
                    on,
                )
                .unwrap(),
        );
    }
    let handler = client.sequence_handler(seq).await.unwrap();
    let opts = PlayOptions {
        rate: Rate::Max,
        services: false,
        ..Default::default()
    };
    let player = handler.replay(node, opts).await.unwrap();
    let t = Instant::now();
    let report = player.run(std::future::pending(), |_| {}).await.unwrap();
    let took = t.elapsed();
    assert_eq!(report.messages, want, "every message played");
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.load(Ordering::Relaxed) < want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(got.load(Ordering::Relaxed), want, "every message delivered");
    took
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let seconds = env_usize("BENCH_SECONDS", 10);
    let repeats = env_usize("BENCH_REPEATS", 3).max(1);
    let dir = tempfile::tempdir().unwrap();
    let bag = dir.path().join("bench.mcap");
    let (bytes, count) = write_bag(&bag, seconds);
    let server = TestServer::start(ServerConfig::default()).await.unwrap();
    let addr = mosaico_bridge::control::channel::ServerAddr::parse(&server.address()).unwrap();
    let client = MosaicoClient::connect_with(&addr, Default::default())
        .await
        .unwrap();
    import(
        &client,
        ImportOptions {
            bag: bag.clone(),
            sequence: "bench_play".into(),
            topics: vec![],
            exclude: vec![],
            metadata: serde_json::json!({}),
            on_error: OnError::Delete,
            adapters: Default::default(),
        },
        |_| {},
    )
    .await
    .unwrap();
    let mut raw = Vec::new();
    let mut play = Vec::new();
    for _ in 0..repeats {
        raw.push(raw_read(&client, "bench_play").await);
        play.push(play_max(&client, "bench_play", count).await);
    }
    let (r, p) = (median(raw), median(play));
    let rate = |d: Duration| bytes as f64 / d.as_secs_f64() / 1e6;
    println!(
        "play: {seconds} s of 1080p@30 + PointCloud2@10 + Imu@1kHz, {count} messages, {:.0} MB of CDR; median of {repeats}",
        bytes as f64 / 1e6
    );
    println!(
        "  raw DoGet read      {:>8.0} MB/s  ({:.3} s)",
        rate(r),
        r.as_secs_f64()
    );
    println!(
        "  play --rate max     {:>8.0} MB/s  ({:.3} s, {:.0} msg/s) = {:.2}x the raw read",
        rate(p),
        p.as_secs_f64(),
        count as f64 / p.as_secs_f64(),
        r.as_secs_f64() / p.as_secs_f64()
    );
}
