//! Interop with the official SDK (PyPI `mosaicolabs` 0.7.0) through the current-generation test
//! server: what the SDK writes, our client and CLI read and copy, and the SDK reads the copy back
//! typed and identical; what we write, the SDK reads typed.

mod common;

use std::path::Path;
use std::process::Output;

use common::*;
use mosaico_bridge::{Generation, OnError, TopicOptions};
use serde_json::{json, Value};

async fn sdk(h: &Harness, cmd: &str, sequence: &str) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/sdk_interop.py");
    let out = tokio::process::Command::new(python())
        .arg(script)
        .args([cmd, &h.addr.host, &h.addr.port.to_string(), sequence])
        .output()
        .await
        .expect("python runs");
    assert!(
        out.status.success(),
        "sdk {cmd} {sequence} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

async fn sdk_read(h: &Harness, sequence: &str) -> Value {
    serde_json::from_slice(&sdk(h, "read", sequence).await.stdout).expect("sdk read prints JSON")
}

async fn cli(h: &Harness, args: &[&str]) -> String {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_mosaico-bridge"))
        .args(["--server", &h.address()])
        .args(args)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "mosaico-bridge {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
#[ignore = "needs the Python peers (MOSAICO_TEST_PYTHON): scripts/test.sh runs it"]
async fn what_the_sdk_writes_we_list_print_and_copy_and_the_sdk_reads_the_copy_identical() {
    let Some(h) = harness(Generation::Current).await else {
        return;
    };
    let name = unique("sdk_written");
    sdk(&h, "write", &name).await;

    assert!(cli(&h, &["ls"]).await.contains(&name));
    let info: Value = serde_json::from_str(&cli(&h, &["info", &name, "--json"]).await).unwrap();
    let tags: Vec<&str> = info["topic_details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["ontology_tag"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["Image", "IMU"], "{info}");
    let rows: Vec<Value> = cli(&h, &["cat", &format!("{name}/imu"), "--limit", "3"])
        .await
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[2]["acceleration"]["x"], 1.0);
    assert_eq!(rows[2]["timestamp_ns"], T0 + 2 * 10_000_000);

    // Our client reads the SDK's rows.
    let c = h.client().await;
    let imu = read_topic(&c, &name, "/imu").await;
    assert_eq!(imu.num_rows(), 200);

    let copy = format!("{name}_copy");
    cli(&h, &["cp", &name, &copy]).await;
    let (orig, copied) = (sdk_read(&h, &name).await, sdk_read(&h, &copy).await);
    assert_eq!(
        orig["topics"]["/imu"]["rows"].as_array().unwrap().len(),
        200
    );
    assert_eq!(
        orig["topics"]["/imu"]["rows"][0]["type"], "IMU",
        "read typed"
    );
    assert_eq!(
        orig["topics"]["/camera/image_raw"]["rows"][0]["type"],
        "Image"
    );
    assert_eq!(
        orig, copied,
        "the copy reads back typed and identical through the SDK"
    );
}

#[tokio::test]
#[ignore = "needs the Python peers (MOSAICO_TEST_PYTHON): scripts/test.sh runs it"]
async fn what_we_write_the_sdk_reads_typed() {
    let Some(h) = harness(Generation::Current).await else {
        return;
    };
    let c = h.client().await;
    let name = unique("rust_written");
    let seq = c
        .sequence_create(&name, json!({"robot": "r2", "n": 3}), OnError::Delete)
        .await
        .unwrap();
    let imu = seq
        .topic_create(
            "/imu",
            TopicOptions::new(tag(&c, "IMU")).metadata(json!({"rate_hz": 100})),
        )
        .await
        .unwrap();
    imu.push_batch(batch(&schema(&c, "IMU"), &imu_rows(50, 1_000)))
        .await
        .unwrap();
    let cam = seq
        .topic_create("/cam", TopicOptions::new(tag(&c, "Image")))
        .await
        .unwrap();
    cam.push_batch(batch(&schema(&c, "Image"), &image_rows(2, 1_000, 16, 8)))
        .await
        .unwrap();
    seq.finalize().await.unwrap();

    let got = sdk_read(&h, &name).await;
    assert_eq!(got["metadata"], json!({"robot": "r2", "n": 3}));
    let imu = &got["topics"]["/imu"];
    assert_eq!(imu["tag"], "IMU");
    assert_eq!(imu["metadata"]["rate_hz"], 100);
    let rows = imu["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 50);
    assert_eq!(rows[7]["type"], "IMU");
    assert_eq!(rows[7]["acceleration"]["x"], 3.5);
    assert_eq!(rows[7]["angular_velocity"]["y"], 0.07);
    let img = &got["topics"]["/cam"]["rows"][1];
    assert_eq!(
        (
            img["type"].as_str(),
            img["width"].as_i64(),
            img["encoding"].as_str()
        ),
        (Some("Image"), Some(16), Some("rgb8"))
    );
    let data: Vec<u8> = (0..16 * 8 * 3)
        .map(|x| ((x * 7 + 13) & 0xff) as u8)
        .collect();
    use sha2::Digest;
    assert_eq!(
        img["data"]["sha256"],
        hex::encode(sha2::Sha256::digest(&data))
    );
}

/// A sequence the SDK wrote (no ROS metadata at all) exports to a bag by its ontology tags, and
/// rosbags (`python/read_bag.py`) reads the values the SDK wrote (`sdk_interop.py write`).
#[tokio::test]
#[ignore = "needs the Python peers (MOSAICO_TEST_PYTHON): scripts/test.sh runs it"]
async fn what_the_sdk_writes_exports_to_a_bag_that_rosbags_reads() {
    let Some(h) = harness(Generation::Current).await else {
        return;
    };
    let name = unique("sdk_export");
    sdk(&h, "write", &name).await;
    let dir = tempfile::tempdir().unwrap();
    let bag = dir.path().join("bag");
    cli(&h, &["export", &name, "-o", bag.to_str().unwrap()]).await;
    let out = tokio::process::Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("python/read_bag.py"))
        .arg(&bag)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read: Value = serde_json::from_slice(&out.stdout).unwrap();
    let imu = &read["topics"]["/imu"];
    assert_eq!(imu["type"], "sensor_msgs/msg/Imu", "{read}");
    let want: Vec<f64> = (0..200).map(|i| i as f64 * 0.5).collect();
    assert_eq!(imu["x"], json!(want), "the SDK's acceleration.x, in order");
    let cam = &read["topics"]["/camera/image_raw"];
    assert_eq!(
        (cam["type"].as_str(), cam["count"].as_u64()),
        (Some("sensor_msgs/msg/Image"), Some(5)),
        "{read}"
    );
}

/// The body the official SDK's query builders emit (`{builder.name(): builder.to_dict()}`, as its
/// `MosaicoClient.query` sends it), from Python source building them.
async fn sdk_query_body(builders: &str) -> Value {
    let code = format!(
        "import json\nfrom mosaicolabs import *\nqs = [{builders}]\n\
         print(json.dumps({{q.name(): q.to_dict() for q in qs}}))"
    );
    let out = tokio::process::Command::new(python())
        .args(["-c", &code])
        .output()
        .await
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `query` sends what the SDK's builders send for the same question on a current server: a
/// `~camera` topic pattern is the SDK's `*camera*` glob, a legacy-spelled tag becomes the SDK
/// class's tag, a topic without `/` gets it.
#[tokio::test]
#[ignore = "needs the Python peers (MOSAICO_TEST_PYTHON): scripts/test.sh runs it"]
async fn query_bodies_match_the_sdk_builders() {
    let h = local(mosaico_bridge::server::ServerConfig {
        generation: Generation::Current,
        ..Default::default()
    })
    .await;
    let ours = |args: &'static [&'static str]| {
        let h = &h;
        async move {
            let mut all = vec!["query", "--dry-run"];
            all.extend_from_slice(args);
            serde_json::from_str::<Value>(&cli(h, &all).await).unwrap()
        }
    };
    assert_eq!(
        ours(&["--topic", "~camera", "--tag", "imu"]).await,
        sdk_query_body(
            "QueryTopic().with_name_match('*camera*').with_ontology_tag(IMU.ontology_tag())"
        )
        .await
    );
    assert_eq!(
        ours(&["--topic", "front/imu", "--field", "IMU.acceleration.x=>5.0"]).await,
        sdk_query_body(
            "QueryTopic().with_name('/front/imu'), QueryOntologyCatalog(IMU.Q.acceleration.x.gt(5.0))"
        )
        .await
    );
    assert_eq!(
        ours(&["--seq-name", "~run_*"]).await,
        sdk_query_body("QuerySequence().with_name_match('run_*')").await
    );
}
