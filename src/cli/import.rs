//! `import`: a bag (rosbag2 directory, .mcap, .db3, ROS 1 .bag) into one sequence, with a progress
//! bar and a per-topic summary; `import --watch DIR`: each finished bag dropped into DIR, once.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use mosaico_bridge::config::Timestamp;
use mosaico_bridge::import::watch::{self, WatchEvent, WatchOptions};
use mosaico_bridge::import::{bag_info, import, ImportOptions};
use mosaico_bridge::ros::adapters::{AdapterOptions, ImageCompression, TimestampSource};
use mosaico_bridge::{OnError, SerializationFormat};
use serde_json::Value;

use super::output::{human_bytes, plural, print_json, print_table};
use super::ConnArgs;

#[derive(Copy, Clone, Debug, ValueEnum)]
pub enum ImageArg {
    None,
    Png,
    Jpeg,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The bag: a rosbag2 bag directory (split bags become one sequence), a rosbag2 `.mcap` or
    /// sqlite3 `.db3` file, or a ROS 1 `.bag` file. With --watch: the folder to watch.
    pub bag: PathBuf,
    /// Name of the sequence to create.
    #[arg(long, required_unless_present = "watch", conflicts_with = "watch")]
    pub sequence: Option<String>,
    /// Watch the folder BAG: import each finished bag dropped into it once, as a sequence named
    /// after the bag (state and quarantine in BAG/.mosaico-import/). Runs until SIGINT/SIGTERM.
    #[arg(long)]
    pub watch: bool,
    /// --watch: prefix of the sequence names.
    #[arg(long, default_value = "", requires = "watch")]
    pub prefix: String,
    /// --watch: seconds a bag must stay unchanged to count as finished.
    #[arg(
        long,
        default_value_t = 5.0,
        requires = "watch",
        value_name = "SECONDS"
    )]
    pub settle: f64,
    /// --watch: seconds between scans of the folder.
    #[arg(
        long,
        default_value_t = 2.0,
        requires = "watch",
        value_name = "SECONDS"
    )]
    pub poll: f64,
    /// Regexes of the topics to import (whole names); default: all.
    #[arg(long, num_args = 1.., value_name = "PATTERN")]
    pub topics: Vec<String>,
    /// Regexes of topics to leave out.
    #[arg(long, num_args = 1.., value_name = "PATTERN")]
    pub exclude: Vec<String>,
    /// Sequence metadata: a JSON object, or a file holding one.
    #[arg(long, value_name = "JSON|FILE")]
    pub metadata: Option<String>,
    /// On failure: delete the partial sequence, or keep what arrived and report the error
    /// (default: report; with --watch: delete, so a bag tried again finds no partial sequence).
    #[arg(long, value_parser = ["delete", "report"])]
    pub on_error: Option<String>,
    /// Compression of sensor_msgs/Image topics (in the worker pool).
    #[arg(long, value_enum, default_value = "none")]
    pub images: ImageArg,
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub jpeg_quality: u8,
    /// Storage format of image topics (`image`: ZSTD-22 on the legacy server, far slower).
    #[arg(long, default_value = "default")]
    pub image_format: SerializationFormat,
    /// What timestamp_ns is: each message's log time in the bag (`receive`), or its
    /// std_msgs/Header stamp (`header`; types without a header keep their log time).
    #[arg(long, value_enum, default_value = "receive", value_name = "SOURCE")]
    pub timestamp: Timestamp,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

fn metadata(arg: &Option<String>) -> Result<Value> {
    let Some(m) = arg else {
        return Ok(Value::Object(Default::default()));
    };
    let text = if m.trim_start().starts_with('{') {
        m.clone()
    } else {
        std::fs::read_to_string(m).with_context(|| {
            format!("--metadata: `{m}` is neither a JSON object nor a readable file")
        })?
    };
    let v: Value = serde_json::from_str(&text).context("--metadata is not valid JSON")?;
    if !v.is_object() {
        bail!("--metadata must be a JSON object");
    }
    Ok(v)
}

fn options(args: &ImportArgs) -> Result<ImportOptions> {
    Ok(ImportOptions {
        bag: args.bag.clone(),
        sequence: args.sequence.clone().unwrap_or_default(),
        topics: args.topics.clone(),
        exclude: args.exclude.clone(),
        metadata: metadata(&args.metadata)?,
        on_error: args
            .on_error
            .as_deref()
            .unwrap_or(if args.watch { "delete" } else { "report" })
            .parse::<OnError>()
            .map_err(anyhow::Error::msg)?,
        adapters: AdapterOptions {
            image: match args.images {
                ImageArg::None => ImageCompression::Raw,
                ImageArg::Png => ImageCompression::Png,
                ImageArg::Jpeg => ImageCompression::Jpeg {
                    quality: args.jpeg_quality,
                },
            },
            image_format: args.image_format,
            timestamp: match args.timestamp {
                Timestamp::Receive => TimestampSource::ReceiveTime,
                Timestamp::Header => TimestampSource::HeaderStamp,
            },
        },
    })
}

pub async fn run(conn: &ConnArgs, args: ImportArgs) -> Result<ExitCode> {
    if args.watch {
        return run_watch(conn, &args).await;
    }
    let opts = options(&args)?;
    let sequence = opts.sequence.clone();
    let info = bag_info(&args.bag)?;
    for n in &info.notes {
        eprintln!("note: {n}");
    }
    let client = conn.connect().await?;
    let bar = match info.messages {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template("{spinner} importing [{bar:30}] {human_pos}/{human_len} msgs ({per_sec}, eta {eta})")
                .expect("static template")
                .progress_chars("=> "),
        ),
        None => ProgressBar::new_spinner().with_style(ProgressStyle::with_template("{spinner} importing {human_pos} msgs ({per_sec})").expect("static template")),
    };
    let b = bar.clone();
    let started = std::time::Instant::now();
    let report = tokio::select! {
        r = import(&client, opts, move |n| b.set_position(n)) => r,
        _ = tokio::signal::ctrl_c() => bail!("interrupted: the sequence's error policy was applied"),
    };
    bar.finish_and_clear();
    let report =
        report.with_context(|| format!("importing {} into `{sequence}`", args.bag.display()))?;
    let took = started.elapsed().as_secs_f64();
    if args.json {
        print_json(&report)?;
    }
    let rows: Vec<Vec<String>> = report
        .topics
        .iter()
        .map(|t| {
            let mut notes = Vec::new();
            if t.raw {
                notes.push("raw CDR".to_string());
            }
            if t.malformed > 0 {
                notes.push(format!(
                    "{} malformed ({})",
                    t.malformed,
                    t.last_malformed.as_deref().unwrap_or("")
                ));
            }
            if t.too_large > 0 {
                notes.push(format!("{} too large", t.too_large));
            }
            if let Some(s) = t.skipped() {
                notes.push(format!("skipped: {s}"));
            }
            vec![
                t.topic.clone(),
                t.ros_type.clone(),
                t.tag.clone().unwrap_or_else(|| "-".into()),
                t.received.to_string(),
                t.written.to_string(),
                human_bytes(t.bytes),
                notes.join("; "),
            ]
        })
        .collect();
    let table = |rows: &[Vec<String>]| -> Result<()> {
        if args.json {
            return Ok(()); // stdout holds the JSON
        }
        print_table(
            &[
                "TOPIC", "ROS TYPE", "TAG", "MESSAGES", "WRITTEN", "PAYLOAD", "NOTES",
            ],
            rows,
        )?;
        Ok(())
    };
    table(&rows)?;
    for t in &report.filtered_out {
        eprintln!("  {t}: left out by --topics/--exclude");
    }
    // Notes found while reading (a cut file); those of opening were printed before.
    for n in report.notes.iter().filter(|n| !info.notes.contains(n)) {
        eprintln!("note: {n}");
    }
    let (msgs, bytes): (u64, u64) = report
        .topics
        .iter()
        .fold((0, 0), |(m, b), t| (m + t.received, b + t.bytes));
    eprintln!(
        "imported {} into `{}`: {}, {} of payload in {:.1} s ({:.0} msgs/s, {}/s)",
        args.bag.display(),
        report.sequence,
        plural(msgs as usize, "message", "messages"),
        human_bytes(bytes),
        took,
        msgs as f64 / took,
        human_bytes((bytes as f64 / took) as u64)
    );
    Ok(ExitCode::SUCCESS)
}

async fn run_watch(conn: &ConnArgs, args: &ImportArgs) -> Result<ExitCode> {
    let opts = WatchOptions {
        dir: args.bag.clone(),
        settle: std::time::Duration::from_secs_f64(args.settle.max(0.0)),
        poll: std::time::Duration::from_secs_f64(args.poll.max(0.05)),
        prefix: args.prefix.clone(),
        import: options(args)?,
    };
    let client = conn.connect().await?;
    eprintln!(
        "watching {} for finished bags (settle {} s; state in {}/{})",
        args.bag.display(),
        args.settle,
        args.bag.display(),
        watch::STATE_DIR
    );
    // Installed now, not on first poll: a signal during the first import must not kill the process.
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let stop = async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    };
    watch::watch(
        &client,
        opts,
        |e| match e {
            WatchEvent::Importing { bag, sequence } => {
                eprintln!("importing {bag} into `{sequence}` ...")
            }
            WatchEvent::Imported { bag, report } => {
                let msgs: u64 = report.topics.iter().map(|t| t.received).sum();
                eprintln!(
                    "imported {bag} into `{}`: {} topic(s), {msgs} messages",
                    report.sequence,
                    report.topics.len()
                );
                for n in &report.notes {
                    eprintln!("  note: {n}");
                }
            }
            WatchEvent::Quarantined { bag, reason } => {
                eprintln!(
                    "failed {bag}: {reason}; moved to {}/quarantine/",
                    watch::STATE_DIR
                )
            }
            WatchEvent::Retry { bag, reason } => eprintln!("{bag}: {reason}; tried again later"),
        },
        stop,
    )
    .await?;
    eprintln!("stopped watching {}", args.bag.display());
    Ok(ExitCode::SUCCESS)
}
