//! The recorder node on an in-process ROS graph (no DDS) against the test server: sessions read
//! back field by field, services, splits into parts, malformed payloads, stop reports.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use mosaico_bridge::config::RecordConfig;
use mosaico_bridge::demo::{self, RobotConfig, SyntheticRobot};
use mosaico_bridge::record::node::shutdown_channel;
use mosaico_bridge::record::{NodeReport, RecorderNode};
use mosaico_bridge::ros::msgs::sensor_msgs::Imu;
use mosaico_bridge::ros::RosMessage;
use mosaico_bridge::transport::memory::MemoryBus;
use mosaico_bridge::transport::{Qos, Transport};
use mosaico_bridge::Generation;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub struct Rig {
    pub bus: Arc<MemoryBus>,
    stop: mpsc::Sender<()>,
    task: JoinHandle<mosaico_bridge::Result<NodeReport>>,
}

impl Rig {
    pub fn start(bus: Arc<MemoryBus>, cfg: RecordConfig) -> Rig {
        let node = RecorderNode::new(cfg, Arc::new(bus.node("", "rec"))).unwrap();
        let (stop, shutdown) = shutdown_channel();
        Rig {
            bus,
            stop,
            task: tokio::spawn(node.run(shutdown)),
        }
    }

    /// Stops the node as SIGTERM would, and returns its report.
    pub async fn shutdown(self) -> NodeReport {
        self.stop.send(()).await.unwrap();
        self.task.await.unwrap().unwrap()
    }
}

pub fn config(h: &Harness, name: &str) -> RecordConfig {
    let mut cfg = RecordConfig {
        server: h.address(),
        api_key: h.api_key.clone().unwrap_or_default(),
        stop_timeout_s: 60.0,
        ..Default::default()
    };
    cfg.sequence.name = name.into();
    cfg.topics.all = true;
    cfg.topics.exclude = vec!["/diagnostics".into()];
    cfg.spool.dir = tempfile::tempdir().unwrap().keep().display().to_string();
    cfg
}

pub fn small_robot() -> RobotConfig {
    RobotConfig {
        camera_hz: 20.0,
        width: 64,
        height: 48,
        lidar_hz: 10.0,
        lidar_rings: 4,
        lidar_columns: 64,
        imu_hz: 200.0,
        gps_hz: 10.0,
        tf_hz: 20.0,
    }
}

async fn rows(c: &mosaico_bridge::MosaicoClient, seq: &str, topic: &str) -> Vec<Value> {
    json_rows(&read_topic(c, seq, topic).await)
}

#[tokio::test]
async fn a_session_is_recorded_and_reads_back_field_by_field() {
    each_generation(|h| async move {
        let name = unique("rec");
        let bus = MemoryBus::new();
        let robot = SyntheticRobot::start(Arc::new(bus.node("", "robot")), small_robot()).unwrap();
        let rig = Rig::start(bus.clone(), config(&h, &name));
        tokio::time::sleep(Duration::from_millis(1500)).await;
        robot.stop();
        let report = rig.shutdown().await;
        assert!(report.clean_shutdown);
        let s = &report.sessions[0];
        assert_eq!(s.state, "finalized", "{s:?}");
        assert_eq!(s.lost, 0);
        let topics: Vec<&str> = s.topics.iter().map(|t| t.topic.as_str()).collect();
        assert_eq!(
            topics,
            [
                "/camera/image_raw",
                "/gps",
                "/imu",
                "/points",
                "/tf",
                "/tf_static"
            ]
        );
        for t in &s.topics {
            assert!(t.received > 0, "{t:?}");
            assert_eq!((t.written, t.not_written()), (t.received, 0), "{t:?}");
        }

        let c = h.client().await;
        let seq = c.sequence_handler(&name).await.unwrap();
        assert_eq!(seq.info().user_metadata["recording_part"], 1);
        assert_eq!(seq.info().user_metadata["robot"], "robot");
        for t in &s.topics {
            assert_eq!(
                rows(&c, &name, &t.topic).await.len() as u64,
                t.written,
                "{}",
                t.topic
            );
        }
        let imu_meta = c
            .topic_handler(&name, "/imu")
            .await
            .unwrap()
            .info()
            .user_metadata
            .clone();
        let msgtype = match h.generation {
            Generation::Current => imu_meta["_ros_"]["msgtype"].clone(),
            Generation::Legacy => imu_meta["ros:msgtype"].clone(),
        };
        assert_eq!(msgtype, Imu::TYPE_NAME);

        // Each IMU row is message i of the robot (i from its acceleration), timestamps increasing.
        let imu = rows(&c, &name, "/imu").await;
        let mut last = 0;
        for r in &imu {
            let ts = r["timestamp_ns"].as_i64().unwrap();
            assert!(ts >= last, "receive times are monotonic");
            last = ts;
            let i = (r["acceleration"]["x"].as_f64().unwrap() / 0.5).round() as u64;
            let want = demo::imu(i, 0);
            assert_eq!(r["acceleration"]["z"], 9.81);
            assert_eq!(r["orientation"]["z"].as_f64().unwrap(), want.orientation.z);
            assert_eq!(r["orientation"]["w"].as_f64().unwrap(), want.orientation.w);
            assert_eq!(r["angular_velocity"]["z"], 1.0);
        }
        // Image rows carry the robot's exact pixels.
        for r in rows(&c, &name, "/camera/image_raw").await {
            let data = hex::decode(r["data"].as_str().expect("binary as hex")).unwrap();
            let want = demo::image(data[0] as u64, 0, 64, 48); // red of pixel 0 is the frame index
            assert_eq!(data, want.data.to_vec());
            assert_eq!(
                (r["width"].as_i64(), r["encoding"].as_str()),
                (Some(64), Some("rgb8"))
            );
        }
        assert_eq!(
            rows(&c, &name, "/tf_static").await.len(),
            1,
            "latched before the recorder started, still captured"
        );
    })
    .await;
}

#[tokio::test]
async fn services_start_split_and_stop_a_session_in_parts() {
    each_generation(|h| async move {
        let name = unique("svc");
        let bus = MemoryBus::new();
        let robot = bus.node("", "robot");
        let imu = robot
            .publisher("/imu", Imu::TYPE_NAME, Qos::SENSOR_DATA)
            .unwrap();
        let mut cfg = config(&h, &name);
        cfg.autostart = false;
        let rig = Rig::start(bus.clone(), cfg);
        let publish = |from: u64, n: u64| {
            for i in from..from + n {
                imu.publish(&demo::imu(i, 0).to_cdr(mosaico_bridge::ros::Endian::Little))
                    .unwrap();
            }
        };
        // Wait for the services to exist.
        let mut tries = 0;
        while bus.call_trigger("/rec/stop").await.is_err() {
            tries += 1;
            assert!(tries < 100, "services never came up");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let (ok, msg) = bus.call_trigger("/rec/split").await.unwrap();
        assert!(!ok, "split while idle is refused: {msg}");
        let (ok, msg) = bus.call_trigger("/rec/start").await.unwrap();
        assert!(ok, "{msg}");
        let (ok, _) = bus.call_trigger("/rec/start").await.unwrap();
        assert!(!ok, "already recording");
        tokio::time::sleep(Duration::from_millis(700)).await; // discovery
        publish(0, 50);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (ok, msg) = bus.call_trigger("/rec/split").await.unwrap();
        assert!(ok, "{msg}");
        publish(50, 30);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (ok, msg) = bus.call_trigger("/rec/stop").await.unwrap();
        assert!(ok && msg.starts_with("finalized"), "{msg}");
        let (ok, _) = bus.call_trigger("/rec/stop").await.unwrap();
        assert!(!ok, "not recording any more");
        let report = rig.shutdown().await;
        let s = &report.sessions[0];
        assert_eq!(s.parts.len(), 2);
        let imu_report = &s.topics[0];
        assert_eq!((imu_report.received, imu_report.written), (80, 80));

        let c = h.client().await;
        let (part1, part2) = match h.generation {
            Generation::Legacy => (
                rows(&c, &name, "/imu").await,
                rows(&c, &format!("{name}_part2"), "/imu").await,
            ),
            Generation::Current => (
                rows(&c, &name, "/imu").await,
                rows(&c, &name, "/imu__part2").await,
            ),
        };
        assert_eq!((part1.len(), part2.len()), (50, 30));
        assert_eq!(
            part2[0]["acceleration"]["x"], 25.0,
            "part 2 starts at message 50"
        );
        let second = match h.generation {
            Generation::Legacy => c
                .sequence_handler(&format!("{name}_part2"))
                .await
                .unwrap()
                .info()
                .user_metadata
                .clone(),
            Generation::Current => c
                .topic_handler(&name, "/imu__part2")
                .await
                .unwrap()
                .info()
                .user_metadata
                .clone(),
        };
        assert_eq!(second["recording_part"], 2);
    })
    .await;
}

#[tokio::test]
async fn malformed_payloads_are_counted_and_the_topic_goes_on() {
    let Some(h) = harness(Generation::Current).await else {
        return;
    };
    let name = unique("garbage");
    let bus = MemoryBus::new();
    let robot = bus.node("", "robot");
    let imu = robot
        .publisher("/imu", Imu::TYPE_NAME, Qos::SENSOR_DATA)
        .unwrap();
    let rig = Rig::start(bus.clone(), config(&h, &name));
    tokio::time::sleep(Duration::from_millis(700)).await;
    for i in 0..40u64 {
        imu.publish(&demo::imu(i, 0).to_cdr(mosaico_bridge::ros::Endian::Little))
            .unwrap();
        if i % 10 == 0 {
            imu.publish(b"\x00\x01\x00\x00garbage").unwrap();
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let report = rig.shutdown().await;
    let t = &report.sessions[0].topics[0];
    assert_eq!((t.received, t.written, t.malformed), (44, 40, 4), "{t:?}");
    assert!(
        t.last_malformed
            .as_deref()
            .unwrap_or("")
            .contains("truncated"),
        "{t:?}"
    );
    assert_eq!(report.sessions[0].state, "finalized");
    let c = h.client().await;
    assert_eq!(rows(&c, &name, "/imu").await.len(), 40);
}
