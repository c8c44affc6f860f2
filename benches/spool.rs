//! Spool write throughput against the disk itself: the live spool writer (MCAP chunks, a chunk
//! closed every `chunk_bytes`, `fdatasync` every `sync_interval_s` on its sync thread) against a
//! plain file written in the same chunk sizes with the same `fdatasync` pattern, in the same run and
//! on the same directory. Load: the live benchmark's mix (1080p rgb8 frames, 128×2048 point clouds,
//! IMU samples, in the ratio 30 : 10 : 1000 per second), as fast as the writer takes it.
//!
//! `cargo bench --bench spool`. `BENCH_SPOOL_DIR` (default: a temporary directory under
//! `target/`), `BENCH_SPOOL_BYTES` (default 4 GiB per run), `BENCH_REPEATS` (default 3; the median). Under
//! `cargo test` (no `--bench`) it is a 64 MiB smoke run.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mosaico_bridge::config::RecordConfig;
use mosaico_bridge::record::clock::RecordClock;
use mosaico_bridge::record::spool::{SpoolTopic, SpoolWriter};
use mosaico_bridge::transport::{Qos, RawMessage};
use mosaico_bridge::upload::follow::SpoolProgress;
use mosaico_bridge::upload::spool_dir::{SessionDir, SessionFacts};

fn env_u64(k: &str, d: u64) -> u64 {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn topic(name: &str, ros_type: &str) -> Arc<SpoolTopic> {
    Arc::new(SpoolTopic {
        name: name.into(),
        ros_type: ros_type.into(),
        definition: mosaico_bridge::ros::msgs::definition(ros_type)
            .unwrap_or_default()
            .into(),
        offered: vec![Qos::SENSOR_DATA],
        timestamp: None,
        counts: Default::default(),
    })
}

/// One second of the mix: 30 frames, 10 clouds, 1000 IMU samples, in arrival order.
fn second_of_load() -> Vec<(usize, Bytes)> {
    let noise = |n: usize, seed: u64| -> Bytes {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect::<Vec<u8>>()
            .into()
    };
    let frame = noise(1920 * 1080 * 3 + 64, 1);
    let cloud = noise(128 * 2048 * 16 + 128, 2);
    let imu = noise(324, 3);
    let mut v = Vec::new();
    for i in 0..1000 {
        v.push((2, imu.clone()));
        if i % 33 == 0 {
            v.push((0, frame.clone()));
        }
        if i % 100 == 0 {
            v.push((1, cloud.clone()));
        }
    }
    v
}

fn spool_run(dir: &std::path::Path, total: u64, rt: &tokio::runtime::Runtime) -> (f64, u64) {
    let mut cfg = RecordConfig::default();
    cfg.spool.dir = dir.display().to_string();
    cfg.spool.min_free_bytes = 0;
    cfg.split.max_bytes = 0;
    cfg.split.max_duration_s = 0;
    let cfg = Arc::new(cfg);
    let session = SessionDir::create(
        dir,
        SessionFacts {
            session_id: ulid::Ulid::new().to_string(),
            sequence: format!("bench_{}", ulid::Ulid::new()),
            started_at: chrono::Utc::now(),
            host: "bench".into(),
            metadata: serde_json::json!({}),
        },
    )
    .unwrap();
    let path = session.path.clone();
    let topics = [
        topic("/camera/image_raw", "sensor_msgs/msg/Image"),
        topic("/points", "sensor_msgs/msg/PointCloud2"),
        topic("/imu", "sensor_msgs/msg/Imu"),
    ];
    let load = second_of_load();
    let spool = SpoolWriter::start(
        session,
        cfg,
        1,
        Arc::new(SpoolProgress::default()),
        RecordClock::system(),
    )
    .unwrap();
    let tx = spool.sender();
    let t = Instant::now();
    let mut sent = 0u64;
    rt.block_on(async {
        'outer: loop {
            for (k, data) in &load {
                if sent >= total {
                    break 'outer;
                }
                sent += data.len() as u64;
                let m = RawMessage {
                    cdr: data.clone(),
                    received_ns: mosaico_bridge::transport::now_ns(),
                    publisher: None,
                };
                tx.write(topics[*k].clone(), vec![m]).await;
            }
        }
        spool.close().await;
    });
    // Durable, like the baseline's last fdatasync: the spool's own sync thread may still be at it.
    for f in std::fs::read_dir(&path).unwrap().flatten() {
        // Temporary files of the heartbeat may come and go meanwhile.
        if let Ok(file) = std::fs::File::open(f.path()) {
            file.sync_data().unwrap();
        }
    }
    let secs = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&path);
    (sent as f64 / secs / 1e6, sent)
}

/// The same bytes written in `chunk` pieces to one file, `fdatasync` every `sync_every`.
fn file_run(dir: &std::path::Path, total: u64, chunk: usize, sync_every: Duration) -> f64 {
    let path = dir.join("baseline.bin");
    let mut f = std::fs::File::create(&path).unwrap();
    let buf = vec![0x5au8; chunk];
    let t = Instant::now();
    let mut last_sync = Instant::now();
    let mut written = 0u64;
    while written < total {
        f.write_all(&buf).unwrap();
        written += chunk as u64;
        if last_sync.elapsed() >= sync_every {
            f.sync_data().unwrap();
            last_sync = Instant::now();
        }
    }
    f.sync_data().unwrap();
    let secs = t.elapsed().as_secs_f64();
    drop(f);
    let _ = std::fs::remove_file(&path);
    written as f64 / secs / 1e6
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --all-targets` passes nothing and wants a smoke run.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let dir = std::env::var("BENCH_SPOOL_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-spool")
        });
    std::fs::create_dir_all(&dir).unwrap();
    let (total, repeats) = if smoke {
        (64 << 20, 1)
    } else {
        (
            env_u64("BENCH_SPOOL_BYTES", 4 << 30),
            env_u64("BENCH_REPEATS", 3) as usize,
        )
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cfg = RecordConfig::default();
    let (mut spool, mut file) = (Vec::new(), Vec::new());
    for _ in 0..repeats {
        // Alternated, so drift in the disk's state hits both alike.
        let (mbps, _) = spool_run(&dir, total, &rt);
        spool.push(mbps);
        file.push(file_run(
            &dir,
            total,
            cfg.spool.chunk_bytes as usize,
            Duration::from_secs_f64(cfg.spool.sync_interval_s),
        ));
    }
    let (s, f) = (median(spool), median(file));
    println!(
        "spool write: {s:.0} MB/s; plain file, same chunks and fdatasync every {} s: {f:.0} MB/s; ratio {:.2} ({} MiB per run, median of {repeats}, {}){}",
        cfg.spool.sync_interval_s,
        s / f,
        total >> 20,
        dir.display(),
        if smoke { " [smoke run]" } else { "" }
    );
}
