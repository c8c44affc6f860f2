//! Upload throughput, client → server over loopback, against a raw arrow-flight DoPut of the same
//! pre-built batches in the same process, plus scaling over 1..N data channels.
//!
//! `cargo bench --bench upload` (in-process test server), or against a running server:
//! `MOSAICO_BENCH_SERVER=127.0.0.1:6726 cargo bench --bench upload`.
//! Sizes: `BENCH_IMAGE_ROWS` (default 32 rows of 1920×1080 rgb8), `BENCH_IMU_ROWS` (default 200000),
//! `BENCH_REPEATS` (default 3; the median is reported).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{
    new_null_array, ArrayRef, BinaryArray, BooleanArray, Float64Array, Int32Array, Int64Array,
    RecordBatch, StringArray, StructArray,
};
use arrow::datatypes::{DataType, Field, SchemaRef};
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use futures::{StreamExt, TryStreamExt};
use mosaico_bridge::control::channel::{ConnectOptions, ServerAddr};
use mosaico_bridge::data::put::TARGET_FLIGHT_DATA_BYTES;
use mosaico_bridge::server::{ServerConfig, TestServer};
use mosaico_bridge::{MosaicoClient, OnError, TopicOptions};
use serde_json::json;

const IMAGE_BYTES: usize = 1920 * 1080 * 3;

fn env_usize(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

/// A column of `n` plausible values; nullable leaves other than numbers and strings stay null.
fn fill(f: &Field, n: usize, row0: usize) -> ArrayRef {
    match f.data_type() {
        DataType::Int64 => {
            Arc::new(Int64Array::from_iter_values((0..n).map(|i| {
                1_700_000_000_000_000_000 + (row0 + i) as i64 * 1_000_000
            })))
        }
        DataType::Float64 => Arc::new(Float64Array::from_iter_values(
            (0..n).map(|i| (row0 + i) as f64 * 0.001),
        )),
        DataType::Int32 => {
            Arc::new(Int32Array::from_iter_values((0..n).map(
                |_| match f.name().as_str() {
                    "width" => 1920,
                    "height" => 1080,
                    "stride" => 1920 * 3,
                    _ => 0,
                },
            )))
        }
        DataType::Utf8 if !f.is_nullable() => Arc::new(StringArray::from_iter_values((0..n).map(
            |_| match f.name().as_str() {
                "encoding" => "rgb8",
                "format" => "raw",
                _ => "x",
            },
        ))),
        DataType::Boolean if !f.is_nullable() => Arc::new(BooleanArray::from(vec![false; n])),
        DataType::Binary => {
            let frames: Vec<Vec<u8>> = (0..n)
                .map(|i| {
                    (0..IMAGE_BYTES)
                        .map(|b| (b * 31 + (row0 + i) * 7) as u8)
                        .collect()
                })
                .collect();
            Arc::new(BinaryArray::from_iter_values(frames.iter()))
        }
        DataType::Struct(children) if !f.is_nullable() => {
            let cols = children.iter().map(|c| fill(c, n, row0)).collect();
            Arc::new(StructArray::new(children.clone(), cols, None))
        }
        dt if f.is_nullable() => new_null_array(dt, n),
        dt => panic!("no filler for required column {} of type {dt}", f.name()),
    }
}

fn batches(schema: &SchemaRef, rows: usize, per_batch: usize) -> Vec<RecordBatch> {
    (0..rows)
        .step_by(per_batch)
        .map(|r0| {
            let n = per_batch.min(rows - r0);
            let cols = schema.fields().iter().map(|f| fill(f, n, r0)).collect();
            RecordBatch::try_new(schema.clone(), cols).expect("batch fits the ontology schema")
        })
        .collect()
}

struct Workload {
    name: &'static str,
    class: &'static str,
    batches: Vec<RecordBatch>,
}

impl Workload {
    fn bytes(&self) -> usize {
        self.batches
            .iter()
            .map(mosaico_bridge::handlers::topic_writer::batch_bytes)
            .sum()
    }
    fn rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// Through the client: topic writer batching, bounded in-flight queue, processing pool.
async fn via_client(
    client: &MosaicoClient,
    w: &Workload,
    topics: usize,
) -> anyhow::Result<Duration> {
    let tag = client
        .ontology()
        .by_class(w.class)
        .expect("class")
        .tag
        .clone();
    let seq = client
        .sequence_create(&unique("bench"), json!({"bench": w.name}), OnError::Delete)
        .await?;
    let t = Instant::now();
    let per_topic = w.batches.len().div_ceil(topics);
    futures::future::try_join_all(w.batches.chunks(per_topic).enumerate().map(|(i, chunk)| {
        let (seq, tag) = (&seq, tag.clone());
        async move {
            let tw = seq
                .topic_create(&format!("/t{i}"), TopicOptions::new(tag))
                .await?;
            for b in chunk {
                tw.push_batch(b.clone()).await?;
            }
            tw.finish().await.map(|_| ())
        }
    }))
    .await?;
    let took = t.elapsed();
    seq.abort().await.ok();
    Ok(took)
}

/// The baseline: the same batches straight into one arrow-flight DoPut.
async fn raw(client: &MosaicoClient, w: &Workload) -> anyhow::Result<Duration> {
    let tag = client
        .ontology()
        .by_class(w.class)
        .expect("class")
        .tag
        .clone();
    let seq = client
        .sequence_create(
            &unique("bench_raw"),
            json!({"bench": w.name}),
            OnError::Delete,
        )
        .await?;
    let t = Instant::now();
    let mut topic = seq.topic_create_raw("/t0", TopicOptions::new(tag)).await?;
    let input = futures::stream::iter(w.batches.clone().into_iter().map(Ok::<_, FlightError>));
    let encoded = FlightDataEncoderBuilder::new()
        .with_schema(topic.schema.clone())
        .with_flight_descriptor(Some(topic.descriptor.clone()))
        .with_max_flight_data_size(TARGET_FLIGHT_DATA_BYTES)
        .build(input)
        .map(|r| r.expect("encoding pre-built batches"));
    let mut replies = topic.client.do_put(encoded).await?.into_inner();
    while replies.try_next().await?.is_some() {}
    let took = t.elapsed();
    seq.abort().await.ok();
    Ok(took)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / 1e6 / d.as_secs_f64()
}

async fn connect(addr: &ServerAddr, channels: usize) -> anyhow::Result<MosaicoClient> {
    Ok(MosaicoClient::connect_with(
        addr,
        ConnectOptions {
            data_channels: channels,
            ..Default::default()
        },
    )
    .await?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing and wants a smoke run.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let repeats = if smoke {
        1
    } else {
        env_usize("BENCH_REPEATS", 3)
    };
    let image_rows = if smoke {
        2
    } else {
        env_usize("BENCH_IMAGE_ROWS", 32)
    };
    let imu_rows = if smoke {
        2_000
    } else {
        env_usize("BENCH_IMU_ROWS", 200_000)
    };

    let (_server, addr) = match std::env::var("MOSAICO_BENCH_SERVER") {
        Ok(a) => (None, ServerAddr::parse(&a)?),
        Err(_) => {
            let s = TestServer::start(ServerConfig::default()).await?;
            let a = ServerAddr::parse(&s.addr().to_string())?;
            (Some(s), a)
        }
    };
    let cores = mosaico_bridge::control::channel::available_cores();
    let client = connect(&addr, 0).await?;
    let ont = client.ontology();
    let workloads = [
        Workload {
            name: "image 1080p rgb8 (6.2 MB rows)",
            class: "Image",
            batches: batches(&ont.by_class("Image").unwrap().schema, image_rows, 1),
        },
        Workload {
            name: "imu (1000-row batches)",
            class: "IMU",
            batches: batches(&ont.by_class("IMU").unwrap().schema, imu_rows, 1000),
        },
    ];
    println!(
        "server {addr} ({} generation), {cores} cores, median of {repeats}",
        client.generation()
    );
    println!(
        "{:<32} {:>12} {:>12} {:>14} {:>8}",
        "workload", "client MB/s", "raw MB/s", "client rows/s", "ratio"
    );
    for w in &workloads {
        let (mut c, mut r) = (Vec::new(), Vec::new());
        for _ in 0..repeats {
            r.push(raw(&client, w).await?);
            c.push(via_client(&client, w, 1).await?);
        }
        let (c, r) = (median(c), median(r));
        println!(
            "{:<32} {:>12.1} {:>12.1} {:>14.0} {:>8.3}",
            w.name,
            mbps(w.bytes(), c),
            mbps(w.bytes(), r),
            w.rows() as f64 / c.as_secs_f64(),
            r.as_secs_f64() / c.as_secs_f64()
        );
    }
    println!("\nscaling: the image workload over 4 topics in parallel");
    println!("{:<12} {:>12}", "channels", "MB/s");
    let mut n = 1;
    while n <= cores.max(4) {
        let client = connect(&addr, n).await?;
        let mut d = Vec::new();
        for _ in 0..repeats {
            d.push(via_client(&client, &workloads[0], 4).await?);
        }
        println!("{:<12} {:>12.1}", n, mbps(workloads[0].bytes(), median(d)));
        n *= 2;
    }
    Ok(())
}
