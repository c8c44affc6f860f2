//! Writes the seed corpus of the fuzz targets (`fuzz/corpus/<target>/`, see scripts/fuzz.sh) from
//! the golden CDR fixtures (tests/fixtures/cdr, written by rosbags) and from what the in-process
//! test server answers, in both generations: bags of the fixtures written by the recorder's
//! segment writer (whole and cut), DoGet replies and FlightInfos of a sequence holding them, and
//! the JSON bodies of the actions the client decodes.
//!
//! `cargo run --example fuzz_seeds -- OUT_DIR` (scripts/fuzz.sh seeds into a temporary directory,
//! then merges into fuzz/corpus with libFuzzer's `-merge=1`, which keeps only what adds coverage).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::{FlightData, Ticket};
use futures::TryStreamExt;
use mosaico_bridge::bag::SegmentWriter;
use mosaico_bridge::control::{ControlPlane, FlightChannel, Limits, RetryPolicy, ServerAddr};
use mosaico_bridge::fuzzing::frame_flight_data;
use mosaico_bridge::protocol::current::locator_descriptor;
use mosaico_bridge::ros::msgs::TYPE_NAMES;
use mosaico_bridge::ros::{adapter_for, RosTopicInfo};
use mosaico_bridge::server::{ServerConfig, TestServer};
use mosaico_bridge::{ConnectOptions, Generation, MosaicoClient, OnError, TimeRange};
use prost::Message;
use serde_json::{json, Value};

/// (ROS type, CDR) of every fixture whose type the bridge knows.
fn fixtures(dir: &Path) -> anyhow::Result<Vec<(&'static str, String, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.sort();
    for p in paths {
        if p.extension().and_then(|e| e.to_str()) != Some("cdr") {
            continue;
        }
        let stem = p.file_stem().unwrap().to_string_lossy().to_string();
        let base = stem.trim_end_matches(".be");
        let Some((pkg, ty)) = base.split_once("__") else {
            continue;
        };
        let name = format!("{pkg}/msg/{ty}");
        if let Some(t) = TYPE_NAMES.iter().find(|t| **t == name) {
            out.push((*t, stem.clone(), std::fs::read(&p)?));
        }
    }
    Ok(out)
}

fn put(out: &Path, target: &str, name: &str, data: &[u8]) -> anyhow::Result<()> {
    let dir = out.join(target);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(name), data)?;
    Ok(())
}

async fn flight_frames(batch: &RecordBatch) -> anyhow::Result<Vec<FlightData>> {
    let s = FlightDataEncoderBuilder::new()
        .build(futures::stream::iter([Ok(batch.clone())]))
        .try_collect::<Vec<_>>()
        .await?;
    Ok(s)
}

/// `batch` with its top-level Utf8 / Binary columns as Utf8View / BinaryView.
fn as_views(batch: &RecordBatch) -> anyhow::Result<RecordBatch> {
    use arrow::datatypes::{DataType, Field, Schema};
    let mut fields = Vec::new();
    let mut cols = Vec::new();
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
        let dt = match f.data_type() {
            DataType::Utf8 => DataType::Utf8View,
            DataType::Binary => DataType::BinaryView,
            other => other.clone(),
        };
        cols.push(arrow::compute::cast(c, &dt)?);
        fields.push(Field::new(f.name(), dt, f.is_nullable()));
    }
    Ok(RecordBatch::try_new(
        std::sync::Arc::new(Schema::new(fields)),
        cols,
    )?)
}

/// The FlightInfo of a sequence or topic, asked as the client of `gen` asks.
async fn flight_info(
    ctrl: &ControlPlane,
    gen: Generation,
    locator: &str,
) -> anyhow::Result<arrow_flight::FlightInfo> {
    let desc = match gen {
        Generation::Current => locator_descriptor(locator, TimeRange::default()),
        Generation::Legacy => arrow_flight::FlightDescriptor::new_path(vec![locator.into()]),
    };
    Ok(ctrl.flight_info(desc, locator).await?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let out = PathBuf::from(std::env::args().nth(1).expect("usage: fuzz_seeds OUT_DIR"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fx = fixtures(&root.join("tests/fixtures/cdr"))?;

    // cdr: the selector byte is the type's index; Image also with each compression.
    for (ty, stem, cdr) in &fx {
        let i = TYPE_NAMES.iter().position(|t| t == ty).unwrap();
        let variants = if *ty == "sensor_msgs/msg/Image" { 4 } else { 1 };
        for v in 0..variants {
            let sel = i + v * TYPE_NAMES.len();
            if sel < 256 {
                let mut d = vec![sel as u8];
                d.extend_from_slice(cdr);
                put(&out, "cdr", &format!("{stem}-{v}"), &d)?;
            }
        }
    }

    // mcap: small bags of a few fixtures each (one topic per fixture, two messages, chunks closed
    // as the recorder closes them), whole and cut in the middle.
    let tmp = tempfile::tempdir()?;
    for (b, group) in fx.chunks(6).enumerate() {
        let bag = tmp.path().join(format!("seed-{b}.mcap"));
        let mut w = SegmentWriter::create(&bag, &BTreeMap::from([("part".into(), "0".into())]))?;
        for (n, (ty, stem, cdr)) in group.iter().enumerate() {
            let def = mosaico_bridge::ros::msgs::definition(ty).unwrap_or("");
            let qos = [mosaico_bridge::transport::Qos::DEFAULT];
            let ch = w.channel(&format!("/{stem}"), ty, def, &qos, None)?;
            w.write(ch, 1_000 + n as u64, cdr)?;
            w.write(ch, 2_000 + n as u64, cdr)?;
            if n % 3 == 2 {
                w.flush().map_err(|(e, _)| e)?;
            }
        }
        w.finish().map_err(|(e, _)| e)?;
        let whole = std::fs::read(&bag)?;
        if whole.len() > 64 << 10 {
            continue;
        }
        put(&out, "mcap", &format!("fixtures-{b}.mcap"), &whole)?;
        put(
            &out,
            "mcap",
            &format!("fixtures-{b}-cut.mcap"),
            &whole[..whole.len() / 2],
        )?;
    }

    // The test server of each generation: a sequence of the typed fixtures, then what it answers.
    for gen in [Generation::Current, Generation::Legacy] {
        let cfg = match gen {
            Generation::Legacy => ServerConfig::legacy(),
            Generation::Current => ServerConfig::default(),
        };
        let server = TestServer::start(cfg).await?;
        let addr = ServerAddr::parse(&server.address())?;
        let client = MosaicoClient::connect_with(&addr, ConnectOptions::default()).await?;
        let seq = client
            .sequence_create("seeds", json!({"robot": "r1"}), OnError::Delete)
            .await?;
        let mut topics = Vec::new();
        for (ty, stem, cdr) in &fx {
            let Some(mut a) = adapter_for(ty, gen) else {
                continue;
            };
            if stem.ends_with(".be") || topics.iter().any(|(t, _): &(String, _)| t == ty) {
                continue;
            }
            a.push(1_000, cdr)?;
            a.push(2_000, cdr)?;
            let batch = a.finish()?;
            let topic = format!("/{}", stem.replace("__", "_"));
            let w = seq
                .topic_create(
                    &topic,
                    a.topic_options(&RosTopicInfo::new(*ty), Value::Null),
                )
                .await?;
            w.push_batch(batch.clone()).await?;
            // mosaicod answers top-level strings and binaries as views: one seed of that shape.
            if let Some(sel) = mosaico_bridge::fuzzing::do_get_selector(ty) {
                let views = as_views(&batch)?;
                if views.schema() != batch.schema() {
                    let mut d = vec![sel, 0];
                    d.extend(frame_flight_data(&flight_frames(&views).await?));
                    put(&out, "do_get", &format!("views-{gen}-{stem}"), &d)?;
                }
            }
            topics.push((ty.to_string(), topic));
        }
        seq.finalize().await?;
        let channel = FlightChannel::connect(&addr, &ConnectOptions::default()).await?;
        let ctrl = &ControlPlane::new(&channel, Limits::default(), RetryPolicy::default());
        // FlightInfo of the sequence and of each topic.
        let gname = format!("{gen}").to_lowercase();
        let named = topics
            .iter()
            .take(6)
            .map(|(_, t)| (format!("topic-flightinfo-{}", &t[1..]), format!("seeds{t}")));
        for (name, loc) in
            std::iter::once(("sequence-flightinfo".into(), "seeds".into())).chain(named)
        {
            let mut d = vec![1u8];
            d.extend(flight_info(ctrl, gen, &loc).await?.encode_to_vec());
            put(&out, "server_reply", &format!("{gname}-{name}"), &d)?;
        }
        // DoGet of each topic, framed for the do_get target (selector: its replay type).
        for (ty, topic) in &topics {
            let loc = format!("seeds{topic}");
            let ticket = match gen {
                Generation::Legacy => Ticket::new(loc.clone()),
                Generation::Current => flight_info(ctrl, gen, &loc).await?.endpoint[0]
                    .ticket
                    .clone()
                    .expect("a ticket"),
            };
            let mut fc = ctrl.client();
            let frames: Vec<FlightData> =
                fc.do_get(ticket).await?.into_inner().try_collect().await?;
            let Some(sel) = mosaico_bridge::fuzzing::do_get_selector(ty) else {
                continue;
            };
            let mut d = vec![sel | 0x80, 0];
            d.extend(frame_flight_data(&frames));
            put(&out, "do_get", &format!("{gname}-{}", &topic[1..]), &d)?;
        }
        // Action replies, as the server's envelopes.
        let actions: Vec<(&str, Value)> = match gen {
            Generation::Current => vec![
                ("info", json!({})),
                ("session_create", json!({"locator": "seeds2"})),
                ("sequence_notification_list", json!({"locator": "seeds"})),
                ("query", json!({"sequence": {"name": {"$eq": "seeds"}}})),
            ],
            Generation::Legacy => vec![
                ("sequence_system_info", json!({"name": "seeds"})),
                (
                    "topic_system_info",
                    json!({"name": format!("seeds{}", topics[0].1)}),
                ),
                ("sequence_notify_list", json!({"name": "seeds"})),
                ("query", json!({"sequence": {"name": {"$eq": "seeds"}}})),
            ],
        };
        if gen == Generation::Current {
            ctrl.action(
                "sequence_create",
                &json!({"locator": "seeds2", "user_metadata": {}}),
                "seeds2",
            )
            .await?;
        }
        for (kind, body) in actions {
            let reply = ctrl.action_idempotent(kind, &body, "seeds").await?;
            let envelope = json!({"action": kind, "response": reply});
            let k = mosaico_bridge::fuzzing::action_selector(kind).unwrap_or(0);
            let mut d = vec![k];
            d.extend(serde_json::to_vec(&envelope)?);
            put(&out, "server_reply", &format!("{gname}-{kind}"), &d)?;
        }
        drop(client);
        server.shutdown().await?;
    }
    eprintln!("seeds written to {}", out.display());
    Ok(())
}
