//! `cat`: a topic's rows as JSON lines, one object per row with the column names as keys.
//!
//! Binary columns (image bytes, point clouds, raw CDR) would flood a terminal, so by default each
//! value prints as `{"len": N, "sha256": "..."}`: enough to compare payloads across servers.
//! `--binary` prints the bytes themselves, base64-encoded.

use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray, StructArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Fields, Schema};
use arrow::json::writer::LineDelimited;
use arrow::json::WriterBuilder;
use base64::Engine;
use clap::Args;
use futures::StreamExt;
use mosaico_bridge::{names, TimeRange};
use sha2::{Digest, Sha256};

use super::ConnArgs;

#[derive(Args, Debug)]
pub struct CatArgs {
    /// `SEQUENCE/TOPIC`, e.g. `run_42/imu`.
    pub topic: String,
    /// Print at most N rows.
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
    /// First timestamp to print (inclusive): ns since the epoch, RFC 3339 or `-10m` (before now).
    #[arg(long, value_name = "TIME", value_parser = super::time::parse, allow_hyphen_values = true)]
    pub since: Option<i64>,
    /// Print rows before this time (exclusive); same forms as --since.
    #[arg(long, value_name = "TIME", value_parser = super::time::parse, allow_hyphen_values = true)]
    pub until: Option<i64>,
    /// Print binary columns base64-encoded instead of as length and SHA-256.
    #[arg(long)]
    pub binary: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryMode {
    Digest,
    Base64,
}

/// `--since/--until` as a time window (start inclusive, end exclusive); refuses an empty one.
pub fn window(since: Option<i64>, until: Option<i64>) -> Result<TimeRange> {
    if let (Some(a), Some(b)) = (since, until) {
        if a >= b {
            bail!("--since ({a}) must be before --until ({b}): the window would be empty");
        }
    }
    Ok(TimeRange {
        start_ns: since,
        end_ns: until,
    })
}

pub async fn run(conn: &ConnArgs, args: CatArgs) -> Result<ExitCode> {
    let (seq, topic) = names::split_locator(&args.topic)?;
    let Some(topic) = topic else {
        bail!("`cat` needs SEQUENCE/TOPIC, got `{}`", args.topic)
    };
    let range = window(args.since, args.until)?;
    let mode = if args.binary {
        BinaryMode::Base64
    } else {
        BinaryMode::Digest
    };
    let client = conn.connect().await?;
    let h = client
        .topic_handler(&seq, &topic)
        .await
        .with_context(|| format!("reading topic `{seq}{topic}`"))?;
    let mut stream = h.stream(range).await?;
    let out = BufWriter::new(std::io::stdout().lock());
    let mut writer = WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, LineDelimited>(out);
    let mut left = args.limit.unwrap_or(u64::MAX);
    while left > 0 {
        let Some(batch) = stream.next().await else {
            break;
        };
        let batch = batch.with_context(|| format!("reading `{seq}{topic}`"))?;
        let take = (batch.num_rows() as u64).min(left) as usize;
        let batch = render_binary(&batch.slice(0, take), mode)?;
        writer.write(&batch)?;
        left -= take as u64;
    }
    writer.finish()?;
    writer.into_inner().flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Rewrites binary columns (also inside structs) for printing.
pub fn render_binary(batch: &RecordBatch, mode: BinaryMode) -> Result<RecordBatch> {
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut cols = Vec::with_capacity(batch.num_columns());
    for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
        let (nf, nc) = render_column(f, c, mode)?;
        fields.push(nf);
        cols.push(nc);
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
}

fn binary_values(c: &ArrayRef) -> Option<Vec<Option<&[u8]>>> {
    Some(match c.data_type() {
        DataType::Binary => c.as_binary::<i32>().iter().collect(),
        DataType::LargeBinary => c.as_binary::<i64>().iter().collect(),
        DataType::BinaryView => c.as_binary_view().iter().collect(),
        DataType::FixedSizeBinary(_) => c.as_fixed_size_binary().iter().collect(),
        _ => return None,
    })
}

fn render_column(f: &Field, c: &ArrayRef, mode: BinaryMode) -> Result<(Field, ArrayRef)> {
    if let Some(values) = binary_values(c) {
        return Ok(match mode {
            BinaryMode::Base64 => {
                let b64 = base64::engine::general_purpose::STANDARD;
                let a: StringArray = values.iter().map(|v| v.map(|b| b64.encode(b))).collect();
                (
                    Field::new(f.name(), DataType::Utf8, true),
                    Arc::new(a) as ArrayRef,
                )
            }
            BinaryMode::Digest => {
                let len: UInt64Array = values.iter().map(|v| v.map(|b| b.len() as u64)).collect();
                let sha: StringArray = values
                    .iter()
                    .map(|v| v.map(|b| hex::encode(Sha256::digest(b))))
                    .collect();
                let sub = Fields::from(vec![
                    Field::new("len", DataType::UInt64, true),
                    Field::new("sha256", DataType::Utf8, true),
                ]);
                let s = StructArray::try_new(
                    sub.clone(),
                    vec![Arc::new(len), Arc::new(sha)],
                    c.nulls().cloned(),
                )?;
                (
                    Field::new(f.name(), DataType::Struct(sub), true),
                    Arc::new(s) as ArrayRef,
                )
            }
        });
    }
    if let DataType::Struct(children) = c.data_type() {
        let s = c.as_struct();
        let mut nf = Vec::with_capacity(children.len());
        let mut nc = Vec::with_capacity(children.len());
        for (cf, cc) in children.iter().zip(s.columns()) {
            let (a, b) = render_column(cf, cc, mode)?;
            nf.push(a);
            nc.push(b);
        }
        let fields = Fields::from(nf);
        let arr = StructArray::try_new(fields.clone(), nc, s.nulls().cloned())?;
        return Ok((
            Field::new(f.name(), DataType::Struct(fields), f.is_nullable()),
            Arc::new(arr),
        ));
    }
    Ok((f.clone(), c.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{BinaryArray, Int64Array};

    fn batch() -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("timestamp_ns", DataType::Int64, false),
            Field::new("data", DataType::Binary, true),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(BinaryArray::from(vec![Some(b"abc".as_ref()), None])),
            ],
        )
        .unwrap()
    }

    fn json_lines(b: &RecordBatch) -> Vec<serde_json::Value> {
        let mut w = WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, LineDelimited>(Vec::new());
        w.write(b).unwrap();
        w.finish().unwrap();
        String::from_utf8(w.into_inner())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn binary_prints_as_length_and_digest() {
        let rows = json_lines(&render_binary(&batch(), BinaryMode::Digest).unwrap());
        assert_eq!(rows[0]["timestamp_ns"], 1);
        assert_eq!(rows[0]["data"]["len"], 3);
        assert_eq!(
            rows[0]["data"]["sha256"],
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(rows[1]["data"].is_null());
    }

    #[test]
    fn binary_prints_as_base64_on_request() {
        let rows = json_lines(&render_binary(&batch(), BinaryMode::Base64).unwrap());
        assert_eq!(rows[0]["data"], "YWJj");
        assert!(rows[1]["data"].is_null());
    }
}
