//! Writes a small sequence (an IMU topic and a camera topic) and reads it back in time order.
//!
//! `cargo run --example quickstart -- [HOST:PORT] [SEQUENCE]` (default `localhost:6726`, `quickstart`).

use std::time::Duration;

use mosaico_bridge::control::channel::{ConnectOptions, ServerAddr};
use mosaico_bridge::{MosaicoClient, OnError, TimeRange, TopicOptions};
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = ServerAddr::parse(&args.next().unwrap_or_else(|| "localhost:6726".into()))?;
    let name = args.next().unwrap_or_else(|| "quickstart".into());
    let client = MosaicoClient::connect_with(
        &addr,
        ConnectOptions {
            timeout: Duration::from_secs(5),
            ..Default::default()
        },
    )
    .await?;
    let ont = client.ontology();
    // Tags differ by generation (`imu` on legacy servers, `IMU` on current ones); classes do not.
    let imu_tag = ont.by_class("IMU").expect("IMU").tag.clone();
    let image_tag = ont.by_class("Image").expect("Image").tag.clone();

    let seq = client
        .sequence_create(
            &name,
            json!({"robot": "demo", "site": "lab"}),
            OnError::Delete,
        )
        .await?;
    let imu = seq.topic_create("/imu", TopicOptions::new(imu_tag)).await?;
    let cam = seq
        .topic_create("/camera/image_raw", TopicOptions::new(image_tag))
        .await?;
    let t0 = 1_700_000_000_000_000_000i64;
    for i in 0..100i64 {
        let v3 = |x: f64| json!({"x": x, "y": 0.0, "z": 9.81});
        imu.push_json(json!({"timestamp_ns": t0 + i * 10_000_000, "acceleration": v3(i as f64 * 0.01), "angular_velocity": v3(0.0)}))
            .await?;
        if i % 10 == 0 {
            let (w, h) = (64, 48);
            cam.push_json(json!({
                "timestamp_ns": t0 + i * 10_000_000, "data": hex::encode(vec![i as u8; w * h * 3]), "format": "raw",
                "width": w, "height": h, "stride": w * 3, "encoding": "rgb8", "is_bigendian": false
            }))
            .await?;
        }
    }
    let summary = seq.finalize().await?;
    println!("wrote {} rows into `{name}`", summary.rows());

    let mut merged = client
        .sequence_handler(&name)
        .await?
        .stream(None, TimeRange::default())
        .await?;
    let mut n = 0;
    while let Some(row) = merged.next().await {
        let row = row?;
        if n < 3 {
            println!("{} @ {}", row.topic, row.timestamp_ns);
        }
        n += 1;
    }
    println!("read {n} rows back in time order");
    Ok(())
}
