//! Shared harness of the integration suite: a test server per test on loopback, or the server named
//! by `MOSAICO_TEST_SERVER=host:port` (then only the tests for its protocol generation run; each
//! uses unique sequence names so a shared server is not disturbed).
//!
//! A check that does not run never passes quietly: it goes through [`skip`] (an oracle is missing:
//! counted, and a failure under `CI=true`) or [`not_on_external`] (the external server cannot
//! serve it, e.g. it speaks the other generation: counted and listed, the in-process pass ran it).
//! Both print the reason and append a line to the file `$MOSAICO_TEST_SKIPS` (scripts/test.sh
//! sets it and prints the summary).
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use mosaico_bridge::control::channel::{ConnectOptions, ServerAddr};
use mosaico_bridge::server::{ServerConfig, TestServer};
use mosaico_bridge::{Generation, MosaicoClient, OnError, SequenceWriter, TopicOptions};
use serde_json::{json, Value};

pub const T0: i64 = 1_700_000_000_000_000_000;

pub struct Harness {
    pub server: Option<TestServer>,
    pub addr: ServerAddr,
    pub generation: Generation,
    pub api_key: Option<String>,
}

/// The file that collects skipped checks, one line each (`KIND<TAB>WHERE<TAB>CHECK: REASON`).
pub const SKIPS_ENV: &str = "MOSAICO_TEST_SKIPS";

/// `binary::test` of the running test (libtest names each test's thread after it).
pub fn current_test() -> String {
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|s| match s.rsplit_once('-') {
            Some((name, hash)) if hash.chars().all(|c| c.is_ascii_hexdigit()) => name.to_string(),
            _ => s,
        })
        .unwrap_or_else(|| "?".into());
    let thread = std::thread::current();
    format!("{binary}::{}", thread.name().unwrap_or("?"))
}

fn record_skip(kind: &str, check: &str, reason: &str) -> String {
    use std::io::Write;
    let line = format!("{}\t{check}: {reason}", current_test());
    eprintln!("{kind}: {}", line.replace('\t', " "));
    if let Some(path) = std::env::var_os(SKIPS_ENV).filter(|p| !p.is_empty()) {
        let one_line = format!("{kind}\t{}\n", line.replace('\n', " "));
        // One small O_APPEND write per skip: lines from parallel tests and binaries do not mix.
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(one_line.as_bytes()));
        if let Err(e) = written {
            panic!("cannot record the skip in {SKIPS_ENV}={path:?}: {e}");
        }
    }
    line.replace('\t', " ")
}

/// `check` cannot run because its oracle (a Python peer, a namespace, a real server...) is not
/// there. Prints `reason`, counts it in `$MOSAICO_TEST_SKIPS`, and fails the test under `CI=true`,
/// where every oracle must be present. The caller returns without asserting anything.
pub fn skip(check: &str, reason: &str) {
    let line = record_skip("skipped", check, reason);
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true and a check was skipped: {line}");
    }
}

/// `check` does not apply to the external server `MOSAICO_TEST_SERVER` (it speaks the other
/// generation, or the check needs a server it starts, configures or kills itself). Not a missing
/// oracle: the same test runs it against the in-process test server when `MOSAICO_TEST_SERVER` is
/// unset (scripts/test.sh's first pass). Printed and listed, never a failure.
pub fn not_on_external(check: &str, reason: &str) {
    record_skip("not-on-external", check, reason);
}

pub fn external() -> Option<String> {
    std::env::var("MOSAICO_TEST_SERVER")
        .ok()
        .filter(|s| !s.is_empty())
}

/// A server speaking `generation`: a fresh in-process one, or the external one if it speaks it.
/// `None` (with a note on stderr) when the external server speaks the other generation.
pub async fn harness(generation: Generation) -> Option<Harness> {
    harness_with(ServerConfig {
        generation,
        ..Default::default()
    })
    .await
}

pub async fn harness_with(config: ServerConfig) -> Option<Harness> {
    if let Some(addr) = external() {
        let addr = ServerAddr::parse(&addr).expect("MOSAICO_TEST_SERVER is HOST:PORT");
        let api_key = std::env::var("MOSAICO_API_KEY").ok();
        let c = MosaicoClient::connect_with(
            &addr,
            ConnectOptions {
                api_key: api_key.clone(),
                ..Default::default()
            },
        )
        .await
        .expect("MOSAICO_TEST_SERVER answers");
        if c.generation() != config.generation || config.api_key.is_some() {
            not_on_external(
                &format!("the {} generation", config.generation),
                &format!(
                    "needs a {} server{}; {addr} speaks {}",
                    config.generation,
                    if config.api_key.is_some() {
                        " with an API key of its own"
                    } else {
                        ""
                    },
                    c.generation()
                ),
            );
            return None;
        }
        return Some(Harness {
            server: None,
            addr,
            generation: config.generation,
            api_key,
        });
    }
    Some(local(config).await)
}

/// A fresh in-process test server, whatever `MOSAICO_TEST_SERVER` says (e.g. a second server to
/// copy to).
pub async fn local(config: ServerConfig) -> Harness {
    let server = TestServer::start(config.clone())
        .await
        .expect("test server starts");
    let addr = ServerAddr::parse(&server.address()).unwrap();
    Harness {
        server: Some(server),
        addr,
        generation: config.generation,
        api_key: config.api_key,
    }
}

impl Harness {
    pub async fn client(&self) -> MosaicoClient {
        self.client_with(ConnectOptions::default()).await
    }

    pub async fn client_with(&self, opts: ConnectOptions) -> MosaicoClient {
        let opts = ConnectOptions {
            api_key: opts.api_key.or(self.api_key.clone()),
            timeout: Duration::from_secs(10),
            ..opts
        };
        MosaicoClient::connect_with(&self.addr, opts)
            .await
            .expect("client connects")
    }

    /// The largest gRPC message the server accepts, as far as anyone can know it: the configured
    /// limit of an in-process server; for an external one what its `info` advertises (current) or
    /// mosaicod's default (legacy, which cannot tell; `tests/errors.rs` checks it on the server).
    pub async fn max_message_bytes(&self) -> usize {
        match &self.server {
            Some(s) => s.config.max_message_bytes,
            None => self.client().await.server_info().max_decode_bytes,
        }
    }

    /// `127.0.0.1:<port>` for `--server`.
    pub fn address(&self) -> String {
        format!("{}:{}", self.addr.host, self.addr.port)
    }
}

/// A runtime and an in-process current-generation server, for tests that run inside a network
/// namespace (which cannot reach an external server); `None`, listed as not run against it, when
/// the suite targets one.
pub fn own_server(check: &str) -> Option<(tokio::runtime::Runtime, Harness)> {
    if let Some(addr) = external() {
        not_on_external(
            check,
            &format!(
                "records into its own server in the namespace; {addr} is not reachable from it"
            ),
        );
        return None;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(async { harness(Generation::Current).await.unwrap() });
    Some((rt, server))
}

/// A sequence name no other test (or earlier run on a shared server) uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// Runs `f` once per generation available (both locally, the external server's otherwise).
pub async fn each_generation<F, Fut>(f: F)
where
    F: Fn(Harness) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut ran = 0;
    for g in [Generation::Legacy, Generation::Current] {
        if let Some(h) = harness(g).await {
            f(h).await;
            ran += 1;
        }
    }
    assert!(ran > 0, "no generation could run");
}

/// Every row of a topic, as one batch.
pub async fn read_topic(c: &MosaicoClient, sequence: &str, topic: &str) -> RecordBatch {
    let h = c.topic_handler(sequence, topic).await.unwrap();
    collect(h.stream(Default::default()).await.unwrap())
        .await
        .unwrap()
}

/// Rows (JSON objects; binaries as hex strings) as one batch of `schema`.
pub fn batch(schema: &SchemaRef, rows: &[Value]) -> RecordBatch {
    let mut d = arrow::json::ReaderBuilder::new(schema.clone())
        .with_batch_size(rows.len().max(1))
        .build_decoder()
        .unwrap();
    d.serialize(rows).unwrap();
    d.flush().unwrap().unwrap()
}

pub fn tag(c: &MosaicoClient, class: &str) -> String {
    c.ontology()
        .by_class(class)
        .unwrap_or_else(|| panic!("class {class}"))
        .tag
        .clone()
}

pub fn schema(c: &MosaicoClient, class: &str) -> SchemaRef {
    c.ontology().by_class(class).unwrap().schema.clone()
}

pub fn imu_rows(n: usize, every_ns: i64) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({"timestamp_ns": T0 + i as i64 * every_ns,
                   "acceleration": {"x": i as f64 * 0.5, "y": -1.0, "z": 9.81},
                   "angular_velocity": {"x": 0.0, "y": 0.01 * i as f64, "z": 0.0}})
        })
        .collect()
}

/// The Python with the test peers (python/requirements-test.txt), as scripts/test.sh sets it up.
pub fn python() -> String {
    std::env::var("MOSAICO_TEST_PYTHON").expect(
        "MOSAICO_TEST_PYTHON must name a Python with python/requirements-test.txt installed \
         (scripts/test.sh sets it up)",
    )
}

/// A script of the project's python/ folder.
pub fn script(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(name)
}

/// A bag directory as rosbags reads it (`python/read_bag.py`, with `--hashes` when asked).
pub fn rosbags_read(bag: &std::path::Path, hashes: bool) -> serde_json::Value {
    let mut cmd = std::process::Command::new(python());
    cmd.arg(script("read_bag.py")).arg(bag);
    if hashes {
        cmd.arg("--hashes");
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "rosbags could not read {}: {}",
        bag.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `mosaico-bridge --server SERVER ARGS...`, run to its end.
pub fn bridge(server: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_mosaico-bridge"))
        .args(["--server", server])
        .args(args)
        .output()
        .unwrap()
}

/// `mosaico-bridge record --json` as node `/r1/rec`, idle until `~/start`, recording `/imu` into
/// `server` as `sequence` (a YAML flow mapping: `{name: x}`, `{template: "x_{counter}"}`), with
/// `/diagnostics` every 0.2 s; its config and spool in `dir`, its stdout piped.
pub fn service_recorder(
    server: &str,
    sequence: &str,
    dir: &std::path::Path,
) -> std::process::Child {
    let config = dir.join("record.yaml");
    std::fs::write(
        &config,
        format!(
            "mosaico_bridge:\n  ros__parameters:\n    server: \"{server}\"\n    node_name: rec\n    namespace: /r1\n    autostart: false\n    diagnostics_period_s: 0.2\n    sequence: {sequence}\n    topics: {{names: [/imu]}}\n"
        ),
    )
    .unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_mosaico-bridge"))
        .args(["record", "--json", "--config"])
        .arg(&config)
        .arg("--spool")
        .arg(dir.join("spool"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// `make_bag.py`'s bag directory (written by rosbags) at `dir/bag`, made once.
pub fn rosbags_bag(dir: &std::path::Path) -> std::path::PathBuf {
    let bag = dir.join("bag");
    if !bag.exists() {
        let st = std::process::Command::new(python())
            .arg(script("make_bag.py"))
            .arg(&bag)
            .status()
            .unwrap();
        assert!(st.success());
    }
    bag
}

/// A finalized sequence `name` whose `/imu` topic holds `rows`.
pub async fn finalized_imu(c: &MosaicoClient, name: &str, rows: &[Value]) {
    let seq = c
        .sequence_create(name, json!({}), OnError::Delete)
        .await
        .unwrap();
    seq.topic_create("/imu", TopicOptions::new(tag(c, "IMU")))
        .await
        .unwrap()
        .push_batch(batch(&schema(c, "IMU"), rows))
        .await
        .unwrap();
    seq.finalize().await.unwrap();
}

/// A plain Arrow Flight client to `address` (HOST:PORT), for sending what our client refuses.
pub async fn raw_flight(address: &str) -> arrow_flight::FlightClient {
    let channel = tonic::transport::Channel::from_shared(format!("http://{address}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    arrow_flight::FlightClient::new(channel)
}

/// The bag, imported into a new sequence of `server`.
pub fn imported_bag(dir: &std::path::Path, server: &str) -> (std::path::PathBuf, String) {
    let bag = rosbags_bag(dir);
    let name = unique("play");
    let out = bridge(
        server,
        &[
            "import",
            bag.join("bag.mcap").to_str().unwrap(),
            "--sequence",
            &name,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (bag, name)
}

/// A new sequence `name` with an `/imu` topic holding five rows, its stream still open.
pub async fn imu_sequence(c: &MosaicoClient, name: &str, on_error: OnError) -> SequenceWriter {
    let seq = c.sequence_create(name, json!({}), on_error).await.unwrap();
    seq.topic_create("/imu", TopicOptions::new(tag(c, "IMU")))
        .await
        .unwrap()
        .push_batch(batch(&schema(c, "IMU"), &imu_rows(5, 1)))
        .await
        .unwrap();
    seq
}

pub fn image_rows(n: usize, every_ns: i64, w: usize, h: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let data: Vec<u8> = (0..w * h * 3).map(|x| ((x * 7 + i * 13) & 0xff) as u8).collect();
            json!({"timestamp_ns": T0 + i as i64 * every_ns, "data": hex::encode(data), "format": "raw",
                   "width": w, "height": h, "stride": w * 3, "encoding": "rgb8", "is_bigendian": false})
        })
        .collect()
}

/// Every batch of a stream, concatenated.
pub async fn collect(
    mut s: impl futures::Stream<Item = mosaico_bridge::Result<RecordBatch>> + Unpin,
) -> Option<RecordBatch> {
    use futures::StreamExt;
    let mut v = Vec::new();
    while let Some(b) = s.next().await {
        v.push(b.expect("stream batch"));
    }
    let schema = v.first()?.schema();
    Some(arrow::compute::concat_batches(&schema, &v).unwrap())
}

/// Rows as JSON, with all-null structs collapsed to null (the legacy server returns null structs as
/// structs of nulls; the SDK's readers collapse them the same way).
pub fn json_rows(b: &RecordBatch) -> Vec<Value> {
    fn collapse(v: Value) -> Value {
        match v {
            Value::Object(m) => {
                let m: serde_json::Map<String, Value> =
                    m.into_iter().map(|(k, v)| (k, collapse(v))).collect();
                if m.values().all(Value::is_null) {
                    Value::Null
                } else {
                    Value::Object(m)
                }
            }
            Value::Array(a) => Value::Array(a.into_iter().map(collapse).collect()),
            o => o,
        }
    }
    let mut w = arrow::json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, arrow::json::writer::JsonArray>(Vec::new());
    w.write(b).unwrap();
    w.finish().unwrap();
    let rows: Vec<Value> = serde_json::from_slice(&w.into_inner()).unwrap();
    rows.into_iter()
        .map(|r| match r {
            Value::Object(m) => {
                Value::Object(m.into_iter().map(|(k, v)| (k, collapse(v))).collect())
            }
            o => o,
        })
        .collect()
}

/// Compares two batches' schemas (fields) and values, ignoring schema metadata.
pub fn same_data(got: &RecordBatch, want: &RecordBatch) {
    assert_eq!(got.num_rows(), want.num_rows(), "row count");
    assert_eq!(got.schema().fields(), want.schema().fields(), "fields");
    let (g, w) = (json_rows(got), json_rows(want));
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        assert_eq!(a, b, "row {i}");
    }
}

pub fn arc<T>(t: T) -> Arc<T> {
    Arc::new(t)
}

/// One image row of `Image`'s schema whose `data` holds `bytes` bytes (a fixed pattern), stamped `t`.
pub fn image_of_bytes(schema: &SchemaRef, t: i64, bytes: usize) -> RecordBatch {
    use arrow::array::{Array, BinaryArray};
    let row = json!({"timestamp_ns": t, "data": "00", "format": "raw", "width": bytes / 3,
                     "height": 1, "stride": bytes, "encoding": "rgb8", "is_bigendian": false});
    let b = batch(schema, &[row]);
    let i = schema.index_of("data").expect("a `data` column");
    let data: Vec<u8> = (0..bytes).map(|x| (x % 251) as u8).collect();
    let col = BinaryArray::from(vec![data.as_slice()]);
    let col = arrow::compute::cast(&col, b.column(i).data_type()).unwrap();
    assert_eq!(col.len(), 1);
    let mut cols = b.columns().to_vec();
    cols[i] = col;
    RecordBatch::try_new(schema.clone(), cols).unwrap()
}

/// Every batch of a stream, or its first error.
pub async fn collect_result(
    mut s: impl futures::Stream<Item = mosaico_bridge::Result<RecordBatch>> + Unpin,
) -> mosaico_bridge::Result<usize> {
    use futures::StreamExt;
    let mut rows = 0;
    while let Some(b) = s.next().await {
        rows += b?.num_rows();
    }
    Ok(rows)
}

/// A child process killed when the test ends early (a panic), so that it does not outlive the
/// test and hold its output open.
pub struct Reaped(pub std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl std::ops::Deref for Reaped {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for Reaped {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

/// The ROS key `key` of a topic's metadata: `_ros_.KEY` on current servers, `ros:KEY` on legacy.
pub fn ros_key<'a>(meta: &'a Value, generation: Generation, key: &str) -> &'a Value {
    match generation {
        Generation::Current => &meta["_ros_"][key],
        Generation::Legacy => &meta[format!("ros:{key}").as_str()],
    }
}

/// The user metadata of topic `topic` of sequence `seq`, as the server holds it.
pub async fn user_metadata_of(c: &MosaicoClient, seq: &str, topic: &str) -> Value {
    c.topic_handler(seq, topic)
        .await
        .unwrap()
        .info()
        .user_metadata
        .clone()
}

/// The `timestamp_ns` of each row.
pub fn timestamps(rows: &[Value]) -> Vec<i64> {
    rows.iter()
        .map(|r| r["timestamp_ns"].as_i64().unwrap())
        .collect()
}
