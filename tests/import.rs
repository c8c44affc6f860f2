//! `mosaico-bridge import`: a rosbag2 MCAP bag written by PyPI `rosbags` becomes a sequence whose
//! topics read back field by field; a garbage payload is counted without stopping the import;
//! types without a mapping are kept as raw CDR with their ROS type.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use mosaico_bridge::Generation;
use serde_json::Value;

fn python() -> String {
    std::env::var("MOSAICO_TEST_PYTHON")
        .expect("MOSAICO_TEST_PYTHON must name a Python with python/requirements-test.txt installed (scripts/test.sh sets it)")
}

fn make_bag(dir: &Path) -> PathBuf {
    let out = dir.join("bag");
    let st = std::process::Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("python/make_bag.py"))
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    out.join("bag.mcap")
}

#[tokio::test]
#[ignore = "needs the Python peers (MOSAICO_TEST_PYTHON): scripts/test.sh runs it"]
async fn a_rosbags_bag_imports_and_reads_back_field_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let bag = make_bag(dir.path());
    each_generation(|h| {
        let bag = bag.clone();
        async move {
            let name = unique("bag");
            let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_mosaico-bridge"))
                .args(["--server", &h.address(), "import"])
                .arg(&bag)
                .args([
                    "--sequence",
                    &name,
                    "--json",
                    "--metadata",
                    r#"{"source": "rosbags"}"#,
                ])
                .output()
                .await
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let report: Value = serde_json::from_slice(&out.stdout).unwrap();
            let topic = |t: &str| {
                report["topics"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|x| x["topic"] == t)
                    .cloned()
                    .unwrap()
            };
            assert_eq!(
                (
                    topic("/imu")["received"].as_u64(),
                    topic("/imu")["written"].as_u64()
                ),
                (Some(101), Some(100))
            );
            assert_eq!(
                topic("/imu")["malformed"],
                1,
                "the garbage payload is counted"
            );
            assert_eq!(topic("/diag_kv")["raw"], true);

            let c = h.client().await;
            let seq = c.sequence_handler(&name).await.unwrap();
            assert_eq!(seq.info().user_metadata["source"], "rosbags");
            assert_eq!(
                seq.topics(),
                ["/camera/image_raw", "/diag_kv", "/gps", "/imu", "/tf"]
            );

            let imu_h = c.topic_handler(&name, "/imu").await.unwrap();
            assert_eq!(imu_h.info().ontology_tag, tag(&c, "IMU"));
            let meta = &imu_h.info().user_metadata;
            let msgtype = match h.generation {
                Generation::Current => meta["_ros_"]["msgtype"].clone(),
                Generation::Legacy => meta["ros:msgtype"].clone(),
            };
            assert_eq!(msgtype, "sensor_msgs/msg/Imu", "{meta}");
            let imu = json_rows(
                &collect(imu_h.stream(Default::default()).await.unwrap())
                    .await
                    .unwrap(),
            );
            assert_eq!(imu.len(), 100);
            for (i, r) in imu.iter().enumerate() {
                assert_eq!(r["timestamp_ns"], T0 + i as i64 * 10_000_000, "record time");
                assert_eq!(r["acceleration"]["x"], 0.5 * i as f64);
                assert_eq!(r["acceleration"]["z"], 9.81);
                assert_eq!(r["angular_velocity"]["x"], 0.01 * i as f64);
                assert_eq!(r["orientation"]["w"], 1.0);
            }
            let frame = |r: &Value| -> Value {
                r.get("header")
                    .and_then(|h| h.get("frame_id"))
                    .cloned()
                    .filter(|v| !v.is_null())
                    .or_else(|| {
                        r.get("message_header")
                            .and_then(|h| h.get("frame_id"))
                            .cloned()
                    })
                    .unwrap_or(Value::Null)
            };
            assert_eq!(frame(&imu[3]), "imu_link");

            let cam = json_rows(
                &collect(
                    c.topic_handler(&name, "/camera/image_raw")
                        .await
                        .unwrap()
                        .stream(Default::default())
                        .await
                        .unwrap(),
                )
                .await
                .unwrap(),
            );
            assert_eq!(cam.len(), 3);
            assert_eq!(
                (
                    cam[2]["width"].as_i64(),
                    cam[2]["height"].as_i64(),
                    cam[2]["encoding"].as_str()
                ),
                (Some(16), Some(8), Some("rgb8"))
            );
            let gps = c.topic_handler(&name, "/gps").await.unwrap();
            assert_eq!(gps.info().ontology_tag, tag(&c, "GPS"));
            assert_eq!(
                collect(gps.stream(Default::default()).await.unwrap())
                    .await
                    .unwrap()
                    .num_rows(),
                5
            );
            let tf = collect(
                c.topic_handler(&name, "/tf")
                    .await
                    .unwrap()
                    .stream(Default::default())
                    .await
                    .unwrap(),
            )
            .await
            .unwrap();
            assert_eq!(tf.num_rows(), 2);
            let raw = c.topic_handler(&name, "/diag_kv").await.unwrap();
            assert_eq!(
                collect(raw.stream(Default::default()).await.unwrap())
                    .await
                    .unwrap()
                    .num_rows(),
                2
            );
        }
    })
    .await;
}

#[tokio::test]
async fn a_file_that_is_not_a_bag_is_refused_before_anything_is_created() {
    let Some(h) = harness(Generation::Current).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let bogus = dir.path().join("notes.mcap");
    std::fs::write(&bogus, b"this is not an MCAP file").unwrap();
    let name = unique("bogus");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_mosaico-bridge"))
        .args(["--server", &h.address(), "import"])
        .arg(&bogus)
        .args(["--sequence", &name])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a readable MCAP bag"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let c = h.client().await;
    assert!(
        c.sequence_handler(&name).await.is_err(),
        "nothing was created"
    );
}
