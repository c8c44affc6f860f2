//! The recorder's configuration: the shipped file loads, a user's file overrides it key by key,
//! typos are refused by key, CLI wins. Oracle: the shipped config/record.yaml as serde_yaml_ng
//! reads it (not our merge).

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

/// The shipped file's `topics.exclude`, read straight from the YAML.
fn shipped_excludes() -> Vec<String> {
    let doc: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(mosaico_bridge::config::SHIPPED_YAML).unwrap();
    let ex = &doc["mosaico_bridge"]["ros__parameters"]["topics"]["exclude"];
    let ex: Vec<String> = serde_yaml_ng::from_value(ex.clone()).unwrap();
    assert!(ex.iter().any(|e| e == "/rosout") && ex.iter().any(|e| e == "/diagnostics"));
    ex
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
    // Setting `names` replaces the shipped selection (`all: true`), not the excludes.
    assert!(!c.topics.all, "names: [/imu] must not record everything");
    assert_eq!(c.topics.exclude, shipped_excludes());
    let m = c.topics.compile().unwrap();
    assert!(m.matches("/imu") && !m.matches("/camera/image_raw"));
    // An empty file is the shipped defaults.
    assert_eq!(RecordConfig::from_yaml("", "empty").unwrap(), shipped());
}

#[test]
fn a_partial_file_keeps_the_shipped_defaults_key_by_key() {
    let want = shipped();
    // Only robot_name: everything else as shipped (this was "topics: nothing to record").
    let c = RecordConfig::from_yaml("robot_name: rover7\n", "partial.yaml").unwrap();
    assert_eq!(c.robot_name, "rover7");
    assert_eq!(c.topics, want.topics);
    assert_eq!(c.on_error, want.on_error);
    // ROS parameter form, nested keys: only the given ones change.
    let c = RecordConfig::from_yaml(
        "mosaico_bridge:\n  ros__parameters:\n    spool: {max_bytes: 1000}\n    sequence: {metadata: {site: lab}}\n",
        "ros.yaml",
    )
    .unwrap();
    assert_eq!(c.spool.max_bytes, 1000);
    assert_eq!(c.spool.min_free_bytes, want.spool.min_free_bytes);
    assert_eq!(c.spool.sync_interval_s, want.spool.sync_interval_s);
    assert_eq!(c.sequence.template, want.sequence.template);
    assert_eq!(c.sequence.metadata["site"], "lab");
    // A section named with nothing under it keeps its defaults.
    let c = RecordConfig::from_yaml("robot_name: r\ntopics:\n", "empty-section.yaml").unwrap();
    assert_eq!(c.topics, want.topics);
}

#[test]
fn default_excludes_stay_unless_replaced_explicitly() {
    // `all: true` alone keeps /rosout and the node's own /diagnostics out.
    let c = RecordConfig::from_yaml("topics: {all: true}\n", "all.yaml").unwrap();
    assert_eq!(c.topics.exclude, shipped_excludes());
    let m = c.topics.compile().unwrap();
    assert!(!m.matches("/rosout") && !m.matches("/diagnostics") && m.matches("/imu"));
    // Giving `topics.exclude` replaces the list: the explicit way to record /rosout.
    let c = RecordConfig::from_yaml("topics: {exclude: ['/camera/.*']}\n", "ex.yaml").unwrap();
    assert!(c.topics.all, "the shipped selection stays");
    let m = c.topics.compile().unwrap();
    assert!(m.matches("/rosout") && !m.matches("/camera/image_raw"));
}

#[test]
fn print_config_shows_the_merged_result() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.yaml");
    std::fs::write(&file, "robot_name: rover7\ntopics: {all: true}\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mosaico-bridge"))
        .env_remove("MOSAICO_SERVER")
        .args(["record", "--print-config", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_slice(&out.stdout).unwrap();
    let p = &doc["mosaico_bridge"]["ros__parameters"];
    assert_eq!(p["robot_name"].as_str(), Some("rover7"));
    let ex: Vec<String> = serde_yaml_ng::from_value(p["topics"]["exclude"].clone()).unwrap();
    assert_eq!(ex, shipped_excludes());
    // The printed file loads back to the same configuration.
    let printed = String::from_utf8(out.stdout).unwrap();
    let mut want = shipped();
    want.robot_name = "rover7".into();
    assert_eq!(RecordConfig::from_yaml(&printed, "printed").unwrap(), want);
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
