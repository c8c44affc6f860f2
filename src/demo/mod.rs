//! A synthetic robot for the embedded demo and the recorder's tests: a camera, a spinning LIDAR, an
//! IMU, a GPS and TF, published as raw CDR on any [`Transport`] from its own thread (so a blocking
//! recorder applies backpressure to it, as a real publisher would feel). Content is deterministic:
//! message `i` of a topic is a function of `i`, so what was recorded can be checked.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;

use crate::ros::cdr::Array;
use crate::ros::msgs::builtin_interfaces::Time;
use crate::ros::msgs::geometry_msgs::{Quaternion, Transform, TransformStamped, Vector3};
use crate::ros::msgs::sensor_msgs::{Image, Imu, NavSatFix, NavSatStatus, PointCloud2, PointField};
use crate::ros::msgs::std_msgs::Header;
use crate::ros::msgs::tf2_msgs::TFMessage;
use crate::ros::{Endian, RosMessage};
use crate::transport::{now_ns, Qos, RawPublisher, Transport, TransportError};

/// Rates and sizes of the synthetic sensors.
#[derive(Debug, Clone, Serialize)]
pub struct RobotConfig {
    pub camera_hz: f64,
    pub width: u32,
    pub height: u32,
    pub lidar_hz: f64,
    pub lidar_rings: u32,
    pub lidar_columns: u32,
    pub imu_hz: f64,
    pub gps_hz: f64,
    pub tf_hz: f64,
}

impl Default for RobotConfig {
    fn default() -> Self {
        RobotConfig {
            camera_hz: 10.0,
            width: 640,
            height: 480,
            lidar_hz: 10.0,
            lidar_rings: 16,
            lidar_columns: 1024,
            imu_hz: 200.0,
            gps_hz: 5.0,
            tf_hz: 30.0,
        }
    }
}

fn stamp(ns: i64) -> Time {
    Time {
        sec: ns.div_euclid(1_000_000_000) as i32,
        nanosec: ns.rem_euclid(1_000_000_000) as u32,
    }
}

fn header(ns: i64, frame: &str) -> Header {
    Header {
        stamp: stamp(ns),
        frame_id: frame.into(),
    }
}

/// Message `i` of `/imu`.
pub fn imu(i: u64, ns: i64) -> Imu {
    let t = i as f64 * 0.01;
    Imu {
        header: header(ns, "imu_link"),
        orientation: Quaternion {
            x: 0.0,
            y: 0.0,
            z: (t / 2.0).sin(),
            w: (t / 2.0).cos(),
        },
        orientation_covariance: Array([0.01, 0.0, 0.0, 0.0, 0.01, 0.0, 0.0, 0.0, 0.01]),
        angular_velocity: Vector3 {
            x: 0.0,
            y: 0.0,
            z: 1.0,
        },
        angular_velocity_covariance: Array::default(),
        linear_acceleration: Vector3 {
            x: 0.5 * i as f64,
            y: t.sin(),
            z: 9.81,
        },
        linear_acceleration_covariance: Array::default(),
    }
}

/// Message `i` of `/gps`: a slow walk north-east from a fixed point.
pub fn gps(i: u64, ns: i64) -> NavSatFix {
    NavSatFix {
        header: header(ns, "gps"),
        status: NavSatStatus {
            status: 0,
            service: 1,
        },
        latitude: 45.0 + i as f64 * 1e-6,
        longitude: 7.6 + i as f64 * 1e-6,
        altitude: 250.0,
        position_covariance: Array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 4.0]),
        position_covariance_type: 2,
    }
}

/// Message `i` of `/camera/image_raw`: a gradient that scrolls one column per frame.
pub fn image(i: u64, ns: i64, width: u32, height: u32) -> Image {
    let mut data = vec![0u8; (width * height * 3) as usize];
    for (y, row) in data.chunks_exact_mut((width * 3) as usize).enumerate() {
        for (x, px) in row.chunks_exact_mut(3).enumerate() {
            px[0] = (x as u64 + i) as u8;
            px[1] = y as u8;
            px[2] = (i * 8) as u8;
        }
    }
    Image {
        header: header(ns, "camera"),
        height,
        width,
        encoding: "rgb8".into(),
        is_bigendian: 0,
        step: width * 3,
        data: Bytes::from(data),
    }
}

/// Message `i` of `/points`: a ring scan of a 10 m cylinder, x y z intensity as f32.
pub fn lidar(i: u64, ns: i64, rings: u32, columns: u32) -> PointCloud2 {
    let mut data = Vec::with_capacity((rings * columns * 16) as usize);
    for r in 0..rings {
        let elev = (r as f32 - rings as f32 / 2.0) * 0.03;
        for c in 0..columns {
            let az = c as f32 / columns as f32 * std::f32::consts::TAU + i as f32 * 0.01;
            for v in [
                10.0 * az.cos(),
                10.0 * az.sin(),
                10.0 * elev,
                (r * 16 + c % 16) as f32,
            ] {
                data.extend_from_slice(&v.to_le_bytes());
            }
        }
    }
    let field = |name: &str, offset| PointField {
        name: name.into(),
        offset,
        datatype: 7, // FLOAT32
        count: 1,
    };
    PointCloud2 {
        header: header(ns, "lidar"),
        height: rings,
        width: columns,
        fields: vec![
            field("x", 0),
            field("y", 4),
            field("z", 8),
            field("intensity", 12),
        ],
        is_bigendian: false,
        point_step: 16,
        row_step: columns * 16,
        data: Bytes::from(data),
        is_dense: true,
    }
}

fn transform(ns: i64, parent: &str, child: &str, x: f64, yaw: f64) -> TransformStamped {
    TransformStamped {
        header: header(ns, parent),
        child_frame_id: child.into(),
        transform: Transform {
            translation: Vector3 { x, y: 0.0, z: 0.0 },
            rotation: Quaternion {
                x: 0.0,
                y: 0.0,
                z: (yaw / 2.0).sin(),
                w: (yaw / 2.0).cos(),
            },
        },
    }
}

/// Message `i` of `/tf`: odom → base_link moving forward 0.1 m per message.
pub fn tf(i: u64, ns: i64) -> TFMessage {
    TFMessage {
        transforms: vec![transform(ns, "odom", "base_link", 0.1 * i as f64, 0.0)],
    }
}

/// The one `/tf_static` message: the sensors' mounts.
pub fn tf_static(ns: i64) -> TFMessage {
    TFMessage {
        transforms: vec![
            transform(ns, "base_link", "camera", 0.3, 0.0),
            transform(ns, "base_link", "lidar", 0.1, std::f64::consts::FRAC_PI_2),
            transform(ns, "base_link", "imu_link", 0.0, 0.0),
        ],
    }
}

struct Stream {
    publisher: Box<dyn RawPublisher>,
    period: Duration,
    next: Instant,
    count: u64,
    make: Box<dyn Fn(u64, i64) -> Vec<u8> + Send>,
}

/// Messages each topic published, by the robot's count.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Published {
    pub topics: Vec<(String, u64)>,
}

/// A running synthetic robot; [`SyntheticRobot::stop`] ends it and says what it published.
pub struct SyntheticRobot {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Published>>,
}

fn cdr<M: RosMessage>(m: M) -> Vec<u8> {
    m.to_cdr(Endian::Little)
}

impl SyntheticRobot {
    /// Publishes `/tf_static` once (latched), then every sensor at its rate, from its own thread.
    pub fn start(transport: Arc<dyn Transport>, cfg: RobotConfig) -> Result<Self, TransportError> {
        let t = &transport;
        let static_pub = t.publisher("/tf_static", TFMessage::TYPE_NAME, Qos::LATCHED)?;
        static_pub.publish(&cdr(tf_static(now_ns())))?;
        let now = Instant::now();
        let mut streams = Vec::new();
        let mut add = |topic: &str,
                       ty: &str,
                       qos: Qos,
                       hz: f64,
                       make: Box<dyn Fn(u64, i64) -> Vec<u8> + Send>|
         -> Result<(), TransportError> {
            if hz > 0.0 {
                streams.push((
                    topic.to_string(),
                    Stream {
                        publisher: t.publisher(topic, ty, qos)?,
                        period: Duration::from_secs_f64(1.0 / hz),
                        next: now,
                        count: 0,
                        make,
                    },
                ));
            }
            Ok(())
        };
        let (w, h) = (cfg.width, cfg.height);
        let (rings, cols) = (cfg.lidar_rings, cfg.lidar_columns);
        add(
            "/camera/image_raw",
            Image::TYPE_NAME,
            Qos::SENSOR_DATA,
            cfg.camera_hz,
            Box::new(move |i, ns| cdr(image(i, ns, w, h))),
        )?;
        add(
            "/points",
            PointCloud2::TYPE_NAME,
            Qos::SENSOR_DATA,
            cfg.lidar_hz,
            Box::new(move |i, ns| cdr(lidar(i, ns, rings, cols))),
        )?;
        add(
            "/imu",
            Imu::TYPE_NAME,
            Qos::SENSOR_DATA,
            cfg.imu_hz,
            Box::new(|i, ns| cdr(imu(i, ns))),
        )?;
        add(
            "/gps",
            NavSatFix::TYPE_NAME,
            Qos::DEFAULT,
            cfg.gps_hz,
            Box::new(|i, ns| cdr(gps(i, ns))),
        )?;
        add(
            "/tf",
            TFMessage::TYPE_NAME,
            Qos::DEFAULT,
            cfg.tf_hz,
            Box::new(|i, ns| cdr(tf(i, ns))),
        )?;

        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("synthetic-robot".into())
            .spawn({
                let stop = stop.clone();
                move || {
                    let _static = static_pub; // latched for late joiners while the robot runs
                    while !stop.load(Ordering::Relaxed) {
                        let now = Instant::now();
                        let mut soonest = now + Duration::from_millis(50);
                        for (topic, s) in streams.iter_mut() {
                            if s.next <= now {
                                let msg = (s.make)(s.count, now_ns());
                                if let Err(e) = s.publisher.publish(&msg) {
                                    tracing::warn!(%topic, error = %e, "synthetic robot: publish failed");
                                }
                                s.count += 1;
                                s.next += s.period;
                                if s.next < now {
                                    s.next = now + s.period; // late: skip rather than burst
                                }
                            }
                            soonest = soonest.min(s.next);
                        }
                        std::thread::sleep(soonest.saturating_duration_since(Instant::now()));
                    }
                    Published {
                        topics: streams.iter().map(|(t, s)| (t.clone(), s.count)).chain([("/tf_static".to_string(), 1)]).collect(),
                    }
                }
            })
            .map_err(|e| TransportError::Start {
                backend: "synthetic robot",
                reason: e.to_string(),
            })?;
        Ok(SyntheticRobot {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops publishing; returns the counts.
    pub fn stop(mut self) -> Published {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for SyntheticRobot {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
