//! `record`: the recorder node. Settings come from the config file (ROS parameter YAML), then the
//! flags, then the `--ros-args` that `ros2 run` / `ros2 launch` append (`-r __ns:=`, `-r __node:=`,
//! `-r from:=to`, `--params-file`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Args;
use mosaico_bridge::config::{Overrides, RecordConfig, Timestamp};
use mosaico_bridge::record::node::signals;
use mosaico_bridge::record::{Ending, NodeReport, RecorderNode};
use mosaico_bridge::transport;
use mosaico_bridge::OnError;

use super::output::{human_bytes, print_json, print_table};
use super::ConnArgs;

#[derive(Args, Debug)]
pub struct RecordArgs {
    /// Recorder parameters (ROS parameter YAML); default: the shipped config/record.yaml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A fixed sequence name instead of the template (one session).
    #[arg(long)]
    pub sequence: Option<String>,
    /// Record exactly these topics (instead of the config's selection).
    #[arg(long, num_args = 1.., value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// Regexes of topics never recorded (added to the config's).
    #[arg(long, num_args = 1.., value_name = "REGEX")]
    pub exclude: Vec<String>,
    /// On a fault: delete the session, or keep what arrived and report the error.
    #[arg(long, value_name = "POLICY")]
    pub on_error: Option<OnError>,
    /// Spool directory: every message is written here first, then uploaded (default: the config's
    /// `spool.dir`, else ~/.local/share/mosaico_bridge/spool).
    #[arg(
        long,
        value_name = "DIR",
        env = "MOSAICO_SPOOL",
        conflicts_with = "no_spool"
    )]
    pub spool: Option<String>,
    /// Diskless: no spool; a crash or an outage loses the part being recorded.
    #[arg(long)]
    pub no_spool: bool,
    /// Stamp messages with ROS simulated time from /clock (config `use_sim_time`).
    #[arg(long)]
    pub use_sim_time: bool,
    /// What every topic's timestamp_ns is, unless overridden per topic (config `timestamp`):
    /// the receive time, or the message's std_msgs/Header stamp.
    #[arg(long, value_enum, value_name = "SOURCE")]
    pub timestamp: Option<Timestamp>,
    /// Print the effective configuration (YAML) and exit.
    #[arg(long)]
    pub print_config: bool,
    /// At exit, print the sessions' reports as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// ROS arguments appended by `ros2 run` / `ros2 launch`.
    #[arg(long = "ros-args", num_args = 0.., allow_hyphen_values = true, value_name = "ARGS")]
    pub ros_args: Vec<String>,
}

/// What `--ros-args` asked for.
#[derive(Debug, Default, PartialEq)]
pub struct RosArgs {
    pub namespace: Option<String>,
    pub node: Option<String>,
    pub params_file: Option<PathBuf>,
    pub remaps: Vec<(String, String)>,
}

pub fn parse_ros_args(args: &[String]) -> Result<RosArgs> {
    let mut out = RosArgs::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-r" | "--remap" => {
                let rule = it.next().context("--ros-args: -r needs FROM:=TO")?;
                let (from, to) = rule
                    .split_once(":=")
                    .with_context(|| format!("--ros-args: remap `{rule}` is not FROM:=TO"))?;
                match from {
                    "__ns" => out.namespace = Some(to.to_string()),
                    "__node" | "__name" => out.node = Some(to.to_string()),
                    _ => out.remaps.push((from.to_string(), to.to_string())),
                }
            }
            "--params-file" => {
                out.params_file = Some(it.next().context("--params-file needs a FILE")?.into());
            }
            "-p" | "--param" => bail!(
                "--ros-args -p is not supported: put parameters in the params file (config/record.yaml)"
            ),
            "--log-level" => {
                it.next();
                tracing::warn!("--log-level is ignored: set RUST_LOG instead");
            }
            "--ros-args" | "--" => {}
            other => bail!("--ros-args: unsupported argument `{other}`"),
        }
    }
    Ok(out)
}

pub async fn run(conn: &ConnArgs, a: RecordArgs) -> Result<ExitCode> {
    let ros = parse_ros_args(&a.ros_args)?;
    let file = a.config.clone().or(ros.params_file.clone());
    // The user's file over the shipped config/record.yaml (every topic but ROS's own chatter).
    let mut cfg = match &file {
        Some(p) => RecordConfig::load(p)?,
        None => RecordConfig::shipped(),
    };
    cfg.apply(Overrides {
        server: conn.server.clone(),
        api_key: conn.api_key.clone(),
        sequence: a.sequence.clone(),
        topics: a.topics.clone(),
        exclude: a.exclude.clone(),
        on_error: a.on_error,
        spool: a.spool.clone(),
        tls_ca: conn.tls_ca.as_ref().map(|p| p.display().to_string()),
        connect_timeout_s: conn.timeout,
        call_timeout_s: conn.call_timeout,
        gzip: conn.gzip,
        generation: conn.generation,
        data_channels: conn
            .data_channels
            .map(|n| u32::try_from(n).context("--data-channels is too large"))
            .transpose()?,
    })?;
    if a.no_spool {
        cfg.spool.enabled = false;
    }
    if a.use_sim_time {
        cfg.use_sim_time = true;
    }
    if let Some(t) = a.timestamp {
        cfg.timestamp = t;
    }
    if let Some(ns) = ros.namespace {
        cfg.namespace = ns;
    }
    if let Some(n) = ros.node {
        cfg.node_name = n;
    }
    if a.print_config {
        let mut shown = cfg.clone();
        if !shown.api_key.is_empty() {
            shown.api_key = "(set, not shown)".into();
        }
        print!("{}", shown.to_ros_yaml()?);
        return Ok(ExitCode::SUCCESS);
    }
    let t = transport::open(cfg.backend, &cfg.namespace, &cfg.node_name)
        .with_context(|| "cannot join the ROS graph")?;
    let mut node = RecorderNode::new(cfg, Arc::clone(&t))?.with_remaps(ros.remaps);
    let status = show_status(node.status_lines());
    let report = node.run(signals()).await;
    // The node is gone with its status sender: the line is cleared before the summary.
    let _ = status.await;
    let report = report?;
    if a.json {
        print_json(&report)?;
    } else {
        print_sessions(&report, None)?;
    }
    Ok(exit_code(report.ending()))
}

/// The node's one-line status at the bottom of a terminal (nothing when stderr is not one: a
/// service's journal gets the log lines only).
fn show_status(mut lines: tokio::sync::watch::Receiver<String>) -> tokio::task::JoinHandle<()> {
    let bar = super::output::status_bar();
    tokio::spawn(async move {
        while lines.changed().await.is_ok() {
            let line = lines.borrow_and_update().clone();
            bar.set_message(line);
        }
        bar.finish_and_clear();
    })
}

/// `record`'s documented exit status (README, "Exit status").
pub fn exit_code(ending: Ending) -> ExitCode {
    ExitCode::from(match ending {
        Ending::Clean => 0,
        Ending::Unclean => 1,
        Ending::Pending => 3,
        Ending::Lost => 4,
        Ending::MiddlewareLost => 5,
    })
}

/// One table per session: what each topic received, what the server committed, what still waits
/// in the spool (`pending`: safe on disk, uploaded later), and what was not stored (and why).
pub fn print_sessions(
    report: &NodeReport,
    published: Option<&[(String, u64)]>,
) -> std::io::Result<()> {
    for s in &report.sessions {
        println!(
            "sequence {} ({}), session {}{}",
            s.sequence,
            s.state,
            s.session_id,
            s.error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
        let mut header = vec!["topic", "tag"];
        if published.is_some() {
            header.push("published");
        }
        header.extend([
            "received",
            "committed",
            "pending",
            "dropped",
            "malformed",
            "lost",
            "payload",
        ]);
        let rows: Vec<Vec<String>> = s
            .topics
            .iter()
            .map(|t| {
                let mut row = vec![t.topic.clone(), t.tag.clone().unwrap_or_else(|| "-".into())];
                if let Some(p) = published {
                    let sent = p.iter().find(|(n, _)| *n == t.topic).map_or(0, |(_, c)| *c);
                    row.push(sent.to_string());
                }
                row.extend([
                    t.received.to_string(),
                    t.written.max(t.committed).to_string(),
                    t.pending.to_string(),
                    t.dropped.to_string(),
                    t.malformed.to_string(),
                    (t.lost + t.too_large + t.middleware_lost).to_string(),
                    human_bytes(t.bytes),
                ]);
                row
            })
            .collect();
        print_table(&header, &rows)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ros_args_from_launch() {
        let v = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let r = parse_ros_args(&v(
            "-r __node:=rec -r __ns:=/r1 -r ~/start:=/go --params-file /p.yaml",
        ))
        .unwrap();
        assert_eq!(r.node.as_deref(), Some("rec"));
        assert_eq!(r.namespace.as_deref(), Some("/r1"));
        assert_eq!(r.remaps, vec![("~/start".to_string(), "/go".to_string())]);
        assert_eq!(r.params_file, Some(PathBuf::from("/p.yaml")));
        assert!(parse_ros_args(&v("-p a:=1")).is_err());
        assert!(parse_ros_args(&v("-r nonsense")).is_err());
    }
}
