//! The recorder's configuration: the shipped file loads, typos are refused by key, CLI wins.

use std::path::Path;

use mosaico_bridge::config::{Compression, DropPolicy, Overrides, RecordConfig};
use mosaico_bridge::OnError;

fn shipped() -> RecordConfig {
    RecordConfig::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("config/record.yaml"))
        .expect("config/record.yaml loads")
}

#[test]
fn shipped_file_loads_in_ros_parameter_form() {
    let c = shipped();
    assert_eq!(c.server, "localhost:6726");
    assert!(c.topics.all);
    assert_eq!(c.queue.policy, DropPolicy::DropOldest);
    assert_eq!(c.on_error, OnError::Report);
    assert!(c.sequence.metadata.is_empty());
    let m = c.topics.compile().unwrap();
    assert!(m.matches("/camera/image_raw"));
    assert!(!m.matches("/rosout"));
    assert!(!m.matches("/arm/_action/status"));
}

#[test]
fn plain_yaml_and_empty_files_take_defaults() {
    let c = RecordConfig::from_yaml(
        "topics: {names: [/imu]}\nimages: {compression: jpeg}\n",
        "inline",
    )
    .unwrap();
    assert_eq!(c.images.compression, Compression::Jpeg);
    assert_eq!(c.server, RecordConfig::default().server);
    let e = RecordConfig::from_yaml("", "empty")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`topics`") && e.contains("nothing to record"),
        "{e}"
    );
}

fn err(yaml: &str) -> String {
    RecordConfig::from_yaml(yaml, "test.yaml")
        .unwrap_err()
        .to_string()
}

#[test]
fn unknown_keys_and_bad_values_name_the_key() {
    let e = err("mosaico_bridge:\n  ros__parameters:\n    topics: {all: true, exlude: []}\n");
    assert!(e.contains("topics") && e.contains("exlude"), "{e}");
    let e = err("topics: {all: true}\nqueue: {policy: drop_some}\n");
    assert!(e.contains("queue.policy") && e.contains("drop_some"), "{e}");
    let e = err("topics: {all: true, include: ['(']}\n");
    assert!(e.contains("topics.include[0]"), "{e}");
    let e = err("topics: {all: true}\nsequence: {template: '{robot}_{when}'}\n");
    assert!(
        e.contains("sequence.template") && e.contains("{when}"),
        "{e}"
    );
    let e = err("topics: {all: true}\noverrides: {cam: {topic: '/a b', compression: jpeg}}\n");
    assert!(e.contains("overrides.cam.topic"), "{e}");
    let e = err("topics: {all: true}\nserver: 'grpc://:x'\n");
    assert!(e.contains("`server`"), "{e}");
    let e = err("a: {ros__parameters: {}}\nb: 1\n");
    assert!(e.contains("mixes ROS node sections"), "{e}");
}

#[test]
fn command_line_overrides_win() {
    let mut c = shipped();
    c.apply(Overrides {
        server: Some("fleet:7000".into()),
        sequence: Some("run_1".into()),
        topics: vec!["/imu".into()],
        exclude: vec!["/imu/raw".into()],
        on_error: Some(OnError::Delete),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(c.server, "fleet:7000");
    assert_eq!(c.sequence.name, "run_1");
    let m = c.topics.compile().unwrap();
    assert!(m.matches("/imu") && !m.matches("/camera/image_raw"));
    assert_eq!(c.on_error, OnError::Delete);
    let e = c
        .apply(Overrides {
            sequence: Some("bad/name".into()),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
    assert!(e.contains("sequence.name"), "{e}");
}
