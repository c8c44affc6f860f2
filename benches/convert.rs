//! Conversion throughput: raw CDR bytes in, Arrow batches (current ontology) out, no network.
//!
//!     cargo bench --bench convert -- --quick
//!
//! * 1080p rgb8 `sensor_msgs/Image` (6.2 MB), 8 per batch, raw (the default) and PNG;
//! * a 128 × 2048-point `sensor_msgs/PointCloud2` (32-byte points, 8.4 MB), 8 per batch;
//! * `sensor_msgs/Imu`, 10 000 per batch.
//!
//! Throughput is reported per input CDR byte (MB/s) and per message (msg/s).

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mosaico_bridge::protocol::Generation;
use mosaico_bridge::ros::msgs::builtin_interfaces::Time;
use mosaico_bridge::ros::msgs::geometry_msgs::{Quaternion, Vector3};
use mosaico_bridge::ros::msgs::sensor_msgs::{Image, Imu, PointCloud2, PointField};
use mosaico_bridge::ros::msgs::std_msgs::Header;
use mosaico_bridge::ros::{adapter_with, AdapterOptions, Endian, ImageCompression, RosMessage};

fn header(frame: &str) -> Header {
    Header {
        stamp: Time {
            sec: 1_700_000_000,
            nanosec: 5,
        },
        frame_id: frame.into(),
    }
}

fn image() -> Bytes {
    let (w, h) = (1920u32, 1080u32);
    // a gradient with sensor-like noise (a cheap LCG), so PNG has realistic work to do
    let mut seed = 0x2545_f491u32;
    let data: Vec<u8> = (0..w * h * 3)
        .map(|i| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let (x, y) = ((i / 3) % w, (i / 3) / w);
            let base = [x * 255 / w, y * 255 / h, (x + y) % 256][(i % 3) as usize];
            (base as i32 + (seed >> 29) as i32 - 4).clamp(0, 255) as u8
        })
        .collect();
    let m = Image {
        header: header("camera"),
        height: h,
        width: w,
        encoding: "rgb8".into(),
        is_bigendian: 0,
        step: w * 3,
        data: data.into(),
    };
    m.to_cdr(Endian::Little).into()
}

fn cloud() -> Bytes {
    let (rows, cols, step) = (128u32, 2048u32, 32u32);
    let names = [
        "x",
        "y",
        "z",
        "intensity",
        "t",
        "reflectivity",
        "ring",
        "range",
    ];
    let fields = names
        .iter()
        .enumerate()
        .map(|(i, n)| PointField {
            name: n.to_string(),
            offset: i as u32 * 4,
            datatype: 7,
            count: 1,
        })
        .collect();
    let data: Vec<u8> = (0..rows * cols * step).map(|i| (i % 253) as u8).collect();
    let m = PointCloud2 {
        header: header("lidar"),
        height: rows,
        width: cols,
        fields,
        is_bigendian: false,
        point_step: step,
        row_step: cols * step,
        data: data.into(),
        is_dense: true,
    };
    m.to_cdr(Endian::Little).into()
}

fn imu(i: u32) -> Bytes {
    let m = Imu {
        header: Header {
            stamp: Time {
                sec: 1_700_000_000,
                nanosec: i,
            },
            frame_id: "imu_link".into(),
        },
        orientation: Quaternion {
            x: 0.0,
            y: 0.0,
            z: 0.38,
            w: 0.92,
        },
        orientation_covariance: [0.01, 0.0, 0.0, 0.0, 0.01, 0.0, 0.0, 0.0, 0.01].into(),
        angular_velocity: Vector3 {
            x: 0.01,
            y: -0.02,
            z: i as f64 * 1e-6,
        },
        angular_velocity_covariance: [0.001, 0.0, 0.0, 0.0, 0.001, 0.0, 0.0, 0.0, 0.001].into(),
        linear_acceleration: Vector3 {
            x: 0.1,
            y: 0.2,
            z: 9.81,
        },
        linear_acceleration_covariance: [0.0; 9].into(),
    };
    m.to_cdr(Endian::Little).into()
}

fn bench_batch(
    c: &mut Criterion,
    name: &str,
    ros_type: &str,
    msgs: &[Bytes],
    opts: AdapterOptions,
) {
    let bytes: usize = msgs.iter().map(|m| m.len()).sum();
    let mut adapter = adapter_with(ros_type, Generation::Current, &opts).unwrap();
    let mut g = c.benchmark_group(name);
    for (unit, t) in [
        ("bytes", Throughput::Bytes(bytes as u64)),
        ("msgs", Throughput::Elements(msgs.len() as u64)),
    ] {
        g.throughput(t);
        g.bench_function(BenchmarkId::new(unit, msgs.len()), |b| {
            b.iter(|| {
                for (i, m) in msgs.iter().enumerate() {
                    adapter.push_bytes(i as i64, m).unwrap();
                }
                let batch = adapter.finish().unwrap();
                assert_eq!(batch.num_rows(), msgs.len());
                batch
            })
        });
    }
    g.finish();
}

fn convert(c: &mut Criterion) {
    let img = image();
    let images = vec![img; 8];
    bench_batch(
        c,
        "image_1080p_rgb8_raw",
        "sensor_msgs/msg/Image",
        &images,
        AdapterOptions::default(),
    );
    let png = AdapterOptions {
        image: ImageCompression::Png,
        ..Default::default()
    };
    bench_batch(
        c,
        "image_1080p_rgb8_png",
        "sensor_msgs/msg/Image",
        &images[..1],
        png,
    );
    let clouds = vec![cloud(); 8];
    bench_batch(
        c,
        "pointcloud2_128x2048",
        "sensor_msgs/msg/PointCloud2",
        &clouds,
        AdapterOptions::default(),
    );
    let imus: Vec<Bytes> = (0..10_000).map(imu).collect();
    bench_batch(
        c,
        "imu",
        "sensor_msgs/msg/Imu",
        &imus,
        AdapterOptions::default(),
    );
}

criterion_group!(benches, convert);
criterion_main!(benches);
