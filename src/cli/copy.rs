//! `cp`: copy a sequence within a server or to another one (an onboard server to the fleet's).
//!
//! Each topic streams DoGet → DoPut batch by batch, so memory stays bounded by the writer's
//! in-flight budget whatever the sequence's size. The copy is written with the Delete policy and
//! finalized only when every topic arrived; any failure (or Ctrl-C) discards it.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};
use clap::Args;
use futures::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use mosaico_bridge::{names, MosaicoClient, OnError, SequenceWriter, TimeRange, TopicOptions};
use tracing::warn;

use super::output::{human_bytes, plural};
use super::ConnArgs;

/// Topics copied at once; each holds at most a few batches in memory.
const TOPIC_CONCURRENCY: usize = 4;

#[derive(Args, Debug)]
pub struct CpArgs {
    /// Source sequence (on --server).
    pub source: String,
    /// Name of the copy.
    pub dest: String,
    /// Destination server (default: the source server).
    #[arg(long, value_name = "HOST:PORT")]
    pub to: Option<String>,
    /// API key for the destination server (default: --api-key).
    #[arg(long, env = "MOSAICO_TO_API_KEY", hide_env_values = true)]
    pub to_api_key: Option<String>,
}

pub async fn run(conn: &ConnArgs, args: CpArgs) -> Result<ExitCode> {
    let src_name = names::sequence_name(&args.source)?.to_string();
    let dst_name = names::sequence_name(&args.dest)?.to_string();
    let src = conn.connect().await?;
    let dst = match &args.to {
        Some(to) => {
            conn.connect_to(to, args.to_api_key.clone().or_else(|| conn.api_key.clone()))
                .await?
        }
        None => src.clone(),
    };
    if args.to.is_none() && src_name == dst_name {
        bail!("source and destination are the same sequence `{src_name}` on the same server");
    }
    let seq = src
        .sequence_handler(&src_name)
        .await
        .with_context(|| format!("reading sequence `{src_name}`"))?;
    if src.generation() != dst.generation() {
        warn!(from = %src.generation(), to = %dst.generation(), "copying across protocol generations: ontology tags are mapped by class");
    }
    let topics = seq.topics().to_vec();
    let mut total_rows = Some(0u64);
    let mut plans = Vec::new();
    for t in &topics {
        let th = seq
            .topic(t)
            .await
            .with_context(|| format!("reading topic `{src_name}{t}`"))?;
        total_rows = total_rows.zip(th.info().row_count).map(|(a, b)| a + b);
        plans.push(th);
    }
    if topics.is_empty() || total_rows == Some(0) {
        bail!(
            "`{src_name}` has no rows to copy ({}): no sequence `{dst_name}` was created",
            if topics.is_empty() {
                "no topics"
            } else {
                "every topic is empty"
            }
        );
    }
    let bar = match total_rows {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template(
                "{spinner} {msg} [{bar:30}] {human_pos}/{human_len} rows ({per_sec}, eta {eta})",
            )
            .expect("static template")
            .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner().with_style(
            ProgressStyle::with_template("{spinner} {msg} {human_pos} rows ({per_sec})")
                .expect("static template"),
        ),
    };
    bar.set_message(format!("{src_name} → {dst_name}"));

    let writer = dst
        .sequence_create(&dst_name, seq.info().user_metadata.clone(), OnError::Delete)
        .await
        .with_context(|| format!("creating `{dst_name}` on {}", dst.addr()))?;
    let copy = futures::stream::iter(plans)
        .map(|th| copy_topic(&src, &dst, &writer, th, &bar))
        .buffer_unordered(TOPIC_CONCURRENCY)
        .try_collect::<Vec<Copied>>();
    let copied = tokio::select! {
        r = copy => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    let copied = match copied {
        Ok(c) => c,
        Err(e) => {
            bar.abandon();
            writer.abort().await.ok();
            return Err(e.context(format!(
                "copy of `{src_name}` aborted: `{dst_name}` was discarded on {}",
                dst.addr()
            )));
        }
    };
    if copied.iter().all(|c| c.rows == 0) {
        bar.abandon();
        writer.abort().await.ok();
        bail!(
            "`{src_name}` had no rows to copy: `{dst_name}` was discarded on {}",
            dst.addr()
        );
    }
    let summary = writer
        .finalize()
        .await
        .with_context(|| format!("finalizing `{dst_name}` (the copy was discarded)"))?;
    bar.finish_and_clear();
    for c in copied.iter().filter(|c| c.rows == 0) {
        eprintln!("  {}: skipped, the source topic has no rows", c.topic);
    }
    for t in &summary.topics {
        eprintln!(
            "  {}: {}, {} on the wire ({})",
            t.topic,
            plural(t.rows as usize, "row", "rows"),
            human_bytes(t.wire_bytes),
            t.ontology_tag
        );
    }
    eprintln!(
        "copied `{src_name}` to `{dst_name}` on {}: {}, {}",
        dst.addr(),
        plural(summary.topics.len(), "topic", "topics"),
        plural(summary.rows() as usize, "row", "rows")
    );
    Ok(ExitCode::SUCCESS)
}

struct Copied {
    topic: String,
    rows: u64,
}

/// The destination tag: the same one on the same generation, else the tag of the same SDK class.
fn dest_tag(
    src: &MosaicoClient,
    dst: &MosaicoClient,
    tag: &str,
    schema: &SchemaRef,
) -> Result<String> {
    if src.generation() == dst.generation() {
        return Ok(tag.to_string());
    }
    let Some(class) = src.ontology().get(tag).map(|t| t.class.clone()) else {
        return Ok(tag.to_string()); // a custom type: its schema travels with it
    };
    let Some(target) = dst.ontology().by_class(&class) else {
        bail!(
            "ontology class `{class}` (tag `{tag}`) has no equivalent on a {} server",
            dst.generation()
        );
    };
    if target.schema.fields() != schema.fields() {
        bail!(
            "`{tag}` on the {} server and `{}` on the {} server have different columns: the copy would not read back typed",
            src.generation(),
            target.tag,
            dst.generation()
        );
    }
    Ok(target.tag.clone())
}

async fn copy_topic(
    src: &MosaicoClient,
    dst: &MosaicoClient,
    writer: &SequenceWriter,
    th: mosaico_bridge::TopicHandler,
    bar: &ProgressBar,
) -> Result<Copied> {
    let info = th.info().clone();
    let topic = info.topic.clone();
    let mut stream = th
        .stream(TimeRange::default())
        .await
        .with_context(|| format!("opening `{}`", info.locator))?;
    let Some(first) = stream.next().await else {
        // Empty topics break readers on the destination: leave them out, and say so.
        return Ok(Copied { topic, rows: 0 });
    };
    let first = first.with_context(|| format!("reading `{}`", info.locator))?;
    let schema: SchemaRef = Arc::new(Schema::new(first.schema().fields().clone()));
    let tag = dest_tag(src, dst, &info.ontology_tag, &schema)
        .with_context(|| format!("topic `{topic}`"))?;
    let tw = writer
        .topic_create(
            &topic,
            TopicOptions::new(tag)
                .format(info.serialization_format)
                .metadata(info.user_metadata.clone())
                .schema(schema.clone()),
        )
        .await
        .with_context(|| format!("creating topic `{topic}` on the destination"))?;
    let mut rows = 0u64;
    let mut next = Some(Ok(first));
    while let Some(b) = next {
        let b = b.with_context(|| format!("reading `{}`", info.locator))?;
        // Server batches carry read-side schema metadata; the copy is written with the bare fields.
        let b = RecordBatch::try_new(schema.clone(), b.columns().to_vec())
            .with_context(|| format!("topic `{topic}` changed schema mid-stream"))?;
        rows += b.num_rows() as u64;
        bar.inc(b.num_rows() as u64);
        tw.push_batch(b)
            .await
            .with_context(|| format!("writing `{topic}`"))?;
        next = stream.next().await;
    }
    Ok(Copied { topic, rows })
}
