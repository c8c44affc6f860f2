//! `export`: a stored sequence to a rosbag2 bag directory that `ros2 bag`, rosbags and Foxglove open.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mosaico_bridge::play::{export, ExportOptions};

use super::cat::window;
use super::output::{plural, print_json};
use super::ConnArgs;

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The sequence to export.
    pub sequence: String,
    /// The bag directory to create (must not exist).
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    /// Export only these topics (repeatable, or comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// First timestamp to export (inclusive): ns since the epoch, RFC 3339 or `-10m` (before now).
    #[arg(long, value_name = "TIME", value_parser = super::time::parse, allow_hyphen_values = true)]
    pub since: Option<i64>,
    /// Export messages before this time (exclusive); same forms as --since.
    #[arg(long, value_name = "TIME", value_parser = super::time::parse, allow_hyphen_values = true)]
    pub until: Option<i64>,
    /// The ROS type of a topic stored without one: `/topic=pkg/msg/Type` (repeatable).
    #[arg(long = "type", value_name = "TOPIC=TYPE")]
    pub types: Vec<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `--type /topic=pkg/msg/Type` pairs.
pub fn parse_types(pairs: &[String]) -> Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|p| match p.split_once('=') {
            Some((t, ty)) if ty.split('/').count() == 3 => {
                Ok((mosaico_bridge::names::display_topic(t), ty.to_string()))
            }
            _ => bail!("--type {p}: expected /topic=pkg/msg/Type, e.g. /imu=sensor_msgs/msg/Imu"),
        })
        .collect()
}

pub async fn run(conn: &ConnArgs, args: ExportArgs) -> Result<ExitCode> {
    let opts = ExportOptions {
        topics: args.topics.clone(),
        range: window(args.since, args.until)?,
        types: parse_types(&args.types)?,
    };
    let client = conn.connect().await?;
    let bar = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} exporting {human_pos} msgs ({per_sec})")
            .expect("static template"),
    );
    let report = export(&client, &args.sequence, &args.output, &opts, |n| {
        bar.set_position(n)
    })
    .await
    .with_context(|| format!("exporting `{}`", args.sequence))?;
    bar.finish_and_clear();
    if args.json {
        print_json(&report)?;
    } else {
        println!(
            "exported {} of {} to {}",
            plural(report.messages as usize, "message", "messages"),
            plural(report.topics.len(), "topic", "topics"),
            report.bag
        );
        for (t, n) in &report.topics {
            println!("  {t}: {n}");
        }
    }
    for (t, why) in &report.skipped {
        eprintln!("not exported: {t}: {why}");
    }
    for (t, (n, why)) in &report.unencodable {
        eprintln!("{t}: {n} messages could not be encoded: {why}");
    }
    // Anything left out is a partial export: say so in the exit status.
    Ok(
        if report.skipped.is_empty() && report.unencodable.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(3)
        },
    )
}
