//! `play`: a stored sequence published into ROS 2 on its original timing, with `ros2 bag play`'s
//! options and control services.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use mosaico_bridge::config::Backend;
use mosaico_bridge::play::options::{parse_remaps, read_qos_overrides, DEFAULT_READ_AHEAD_BYTES};
use mosaico_bridge::play::{PlayOptions, PlayReport, Rate, Selection, Status};
use mosaico_bridge::record::node::signals;
use mosaico_bridge::transport;

use super::export::parse_types;
use super::output::{plural, print_json};
use super::record::parse_ros_args;
use super::ConnArgs;

#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub struct PlayArgs {
    /// The sequence to play.
    pub sequence: String,
    /// Playback rate: a factor of real time (0.5, 2) or `max` (as fast as it can be published).
    #[arg(short, long, default_value = "1.0", value_name = "RATE")]
    pub rate: Rate,
    /// Play again from the start at the end, until stopped.
    #[arg(short, long = "loop")]
    pub loop_playback: bool,
    /// Seconds to wait before playing (lets subscribers discover the publishers).
    #[arg(short, long, default_value_t = 0.0, value_name = "SECONDS")]
    pub delay: f64,
    /// Start this many seconds after the first message.
    #[arg(long, default_value_t = 0.0, value_name = "SECONDS")]
    pub start_offset: f64,
    /// Play this many seconds of the recording (negative: all).
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub playback_duration: Option<f64>,
    /// Play messages up to this recording time, in seconds since the epoch (inclusive).
    #[arg(long, value_name = "SEC", conflicts_with = "playback_until_nsec")]
    pub playback_until_sec: Option<f64>,
    /// Play messages up to this recording time, in ns since the epoch (inclusive).
    #[arg(long, value_name = "NS")]
    pub playback_until_nsec: Option<i64>,
    /// Play only these topics (repeatable, or comma-separated).
    #[arg(long, num_args = 1.., value_delimiter = ',', value_name = "TOPIC")]
    pub topics: Vec<String>,
    /// Play the topics whose whole name matches this regular expression (with --topics: either).
    #[arg(short = 'e', long, value_name = "REGEX")]
    pub regex: Option<String>,
    /// Leave out the topics whose whole name matches this regular expression.
    #[arg(short = 'x', long, value_name = "REGEX")]
    pub exclude_regex: Option<String>,
    /// Publish a topic under another name: OLD:=NEW (repeatable).
    #[arg(short = 'm', long, num_args = 1.., value_name = "OLD:=NEW")]
    pub remap: Vec<String>,
    /// Publish /clock with the recording time, at HZ (40 when no value is given).
    #[arg(long, num_args = 0..=1, default_missing_value = "40", value_name = "HZ")]
    pub clock: Option<f64>,
    /// QoS per topic in place of the recorded one (rosbag2's YAML format).
    #[arg(long, value_name = "FILE")]
    pub qos_profile_overrides_path: Option<PathBuf>,
    /// Start paused (resume with the ~/resume or ~/toggle_paused service).
    #[arg(short = 'p', long)]
    pub start_paused: bool,
    /// Bytes of messages read ahead of playback (memory is bounded by this, not by a count).
    #[arg(long, default_value_t = DEFAULT_READ_AHEAD_BYTES, value_name = "BYTES")]
    pub read_ahead_bytes: u64,
    /// The ROS type of a topic stored without one: `/topic=pkg/msg/Type` (repeatable).
    #[arg(long = "type", value_name = "TOPIC=TYPE")]
    pub types: Vec<String>,
    /// The player node's name (its services are ~/pause, ~/resume, ...).
    #[arg(long, default_value = "rosbag2_player", value_name = "NAME")]
    pub node_name: String,
    /// The node's namespace.
    #[arg(long, default_value = "", value_name = "NS")]
    pub namespace: String,
    /// The ROS backend: dds (built in) or r2r (a sourced ROS 2, cargo feature `r2r`).
    #[arg(long, default_value = "dds", value_name = "BACKEND")]
    pub backend: BackendArg,
    /// Do not serve the control services.
    #[arg(long)]
    pub no_services: bool,
    /// At the end, print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Player parameters (ROS parameter YAML, config/play.yaml): keys are these flags' names;
    /// flags on the command line override them.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// ROS arguments appended by `ros2 run` / `ros2 launch` (`-r __ns:=`, `-r __node:=`).
    #[arg(long = "ros-args", num_args = 0.., allow_hyphen_values = true, value_name = "ARGS")]
    pub ros_args: Vec<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum BackendArg {
    Dds,
    R2r,
}

/// `play --config FILE` (or the `--params-file` that `ros2 launch` appends): the file's parameters
/// become flags placed before the command line's own, so the command line overrides them.
pub fn expand_config(args: Vec<OsString>) -> Result<Vec<OsString>> {
    let Some(at) = args.iter().position(|a| a == "play") else {
        return Ok(args);
    };
    let file = args[at..]
        .windows(2)
        .find(|w| w[0] == "--config" || w[0] == "--params-file")
        .map(|w| PathBuf::from(&w[1]));
    let Some(file) = file else {
        return Ok(args);
    };
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read the player parameters {}", file.display()))?;
    let flags = config_flags(&text).with_context(|| format!("in {}", file.display()))?;
    let mut out = args[..=at].to_vec();
    out.extend(flags.into_iter().map(OsString::from));
    out.extend(args[at + 1..].iter().cloned());
    Ok(out)
}

/// The flags a parameters file stands for (`<node>: ros__parameters: {...}`, or a plain mapping).
fn config_flags(text: &str) -> Result<Vec<String>> {
    use serde_yaml_ng::Value as Y;
    let doc: Y = serde_yaml_ng::from_str(text)?;
    let params = match &doc {
        Y::Mapping(m) => {
            let nodes: Vec<&Y> = m
                .values()
                .filter_map(|v| v.get("ros__parameters"))
                .collect();
            match nodes.as_slice() {
                [] => doc.clone(),
                [one] => (*one).clone(),
                _ => bail!("holds parameters of several nodes; keep the player's only"),
            }
        }
        Y::Null => return Ok(vec![]),
        _ => bail!("expected a mapping of parameters"),
    };
    let Y::Mapping(params) = params else {
        bail!("ros__parameters must be a mapping");
    };
    let command = <ConnArgs as Args>::augment_args(<PlayArgs as Args>::augment_args(
        clap::Command::new("play"),
    ));
    let known: Vec<String> = command
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_string))
        .collect();
    let mut flags = Vec::new();
    for (k, v) in params.iter() {
        let key = k.as_str().context("parameter names are strings")?;
        let flag = key.replace('_', "-");
        if flag == "sequence" || flag == "config" || !known.contains(&flag) {
            bail!("unknown parameter `{key}` (the sequence is given on the command line; the others are `play --help`'s flags, with _ for -)");
        }
        let scalar = |v: &Y| -> Result<Option<String>> {
            Ok(match v {
                Y::Null => None,
                Y::String(s) if s.is_empty() => None,
                Y::String(s) => Some(s.clone()),
                Y::Number(n) => Some(n.to_string()),
                _ => bail!("`{key}`: expected a value, got {v:?}"),
            })
        };
        match v {
            Y::Bool(true) => flags.push(format!("--{flag}")),
            Y::Bool(false) => {}
            // `clock: 0` means no /clock, as rosbag2's `--clock` without a rate is off.
            Y::Number(n) if flag == "clock" && n.as_f64() == Some(0.0) => {}
            Y::Sequence(items) => {
                for item in items {
                    if let Some(s) = scalar(item)? {
                        flags.push(format!("--{flag}"));
                        flags.push(s);
                    }
                }
            }
            other => {
                if let Some(s) = scalar(other)? {
                    flags.push(format!("--{flag}"));
                    flags.push(s);
                }
            }
        }
    }
    Ok(flags)
}

fn seconds(flag: &str, s: f64) -> Result<Duration> {
    if !(s.is_finite() && (0.0..=3.2e7).contains(&s)) {
        bail!("{flag} {s}: give seconds from 0 to a year");
    }
    Ok(Duration::from_secs_f64(s))
}

fn options(a: &PlayArgs) -> Result<PlayOptions> {
    let select = Selection {
        topics: a.topics.clone(),
        regex: a
            .regex
            .as_deref()
            .map(|r| Selection::pattern("--regex", r))
            .transpose()?,
        exclude: a
            .exclude_regex
            .as_deref()
            .map(|r| Selection::pattern("--exclude-regex", r))
            .transpose()?,
    };
    let until_sec = a
        .playback_until_sec
        .map(|s| {
            if s.is_finite() && s >= 0.0 {
                Ok((s * 1e9).round() as i64)
            } else {
                Err(anyhow::anyhow!(
                    "--playback-until-sec {s}: give seconds since the epoch"
                ))
            }
        })
        .transpose()?;
    Ok(PlayOptions {
        rate: a.rate,
        loop_playback: a.loop_playback,
        delay: seconds("--delay", a.delay)?,
        start_offset: seconds("--start-offset", a.start_offset)?,
        playback_duration: match a.playback_duration {
            Some(d) if d >= 0.0 => Some(seconds("--playback-duration", d)?),
            _ => None,
        },
        playback_until_ns: a.playback_until_nsec.or(until_sec),
        select,
        remap: parse_remaps(&a.remap)?,
        clock_hz: a.clock,
        qos_overrides: match &a.qos_profile_overrides_path {
            Some(p) => read_qos_overrides(p)?,
            None => Default::default(),
        },
        start_paused: a.start_paused,
        read_ahead_bytes: a.read_ahead_bytes,
        types: parse_types(&a.types)?,
        services: !a.no_services,
    })
}

fn secs(ns: i64) -> f64 {
    ns as f64 / 1e9
}

fn progress_line(s: &Status) -> String {
    let at = secs(s.time_ns - s.begin_ns);
    let of = s
        .end_ns
        .map(|e| format!("/{:.1}", secs(e - s.begin_ns)))
        .unwrap_or_default();
    let rate = if s.rate == 0.0 {
        "max".to_string()
    } else {
        format!("{}x", s.rate)
    };
    format!(
        "{} t={at:.1}{of}s  {rate}  {} msgs  {} late{}",
        if s.paused { "paused " } else { "playing" },
        s.published,
        s.late,
        if s.loops > 0 {
            format!("  loop {}", s.loops)
        } else {
            String::new()
        }
    )
}

pub async fn run(conn: &ConnArgs, a: PlayArgs) -> Result<ExitCode> {
    let opts = options(&a)?;
    let ros = parse_ros_args(&a.ros_args)?;
    let backend = match a.backend {
        BackendArg::Dds => Backend::Dds,
        BackendArg::R2r => Backend::R2r,
    };
    let namespace = ros.namespace.unwrap_or(a.namespace.clone());
    let node = ros.node.unwrap_or(a.node_name.clone());
    let client = conn.connect().await?;
    let seq = client
        .sequence_handler(&a.sequence)
        .await
        .with_context(|| format!("cannot play `{}`", a.sequence))?;
    let t = transport::open(backend, &namespace, &node).context("cannot join the ROS graph")?;
    let player = seq
        .replay(Arc::clone(&t), opts)
        .await
        .with_context(|| format!("cannot play `{}`", a.sequence))?;
    for (topic, on, ty, qos) in player.topics() {
        let to = if topic == on {
            String::new()
        } else {
            format!(" as {on}")
        };
        eprintln!(
            "playing {topic}{to} ({ty}; {:?}, {:?}, depth {})",
            qos.reliability, qos.durability, qos.depth
        );
    }
    let bar = ProgressBar::new_spinner()
        .with_style(ProgressStyle::with_template("{msg}").expect("static template"));
    let report = player
        .run(signals(), |s| bar.set_message(progress_line(s)))
        .await?;
    bar.finish_and_clear();
    if a.json {
        print_json(&report)?;
    } else {
        print_report(&report);
    }
    Ok(exit_code(&report))
}

fn print_report(r: &PlayReport) {
    eprintln!(
        "played {} of {} ({}; {} late, the latest by {:.3} ms{})",
        plural(r.messages as usize, "message", "messages"),
        plural(r.topics.len(), "topic", "topics"),
        r.ended_by,
        r.late,
        r.max_late_us as f64 / 1000.0,
        if r.loops > 0 {
            format!("; {} loops", r.loops)
        } else {
            String::new()
        }
    );
    for (t, p) in &r.topics {
        eprintln!("  {t}: {}", p.published);
    }
}

/// 0 when everything selected was played; 3 when topics or rows were left out or the middleware
/// refused messages; 1 when reading from the server failed.
fn exit_code(r: &PlayReport) -> ExitCode {
    for (t, why) in &r.skipped {
        eprintln!("not played: {t}: {why}");
    }
    for (t, (n, why)) in &r.unencodable {
        eprintln!("{t}: {n} messages could not be encoded: {why}");
    }
    for (t, p) in &r.topics {
        if let Some(e) = &p.first_publish_error {
            eprintln!("{t}: {} messages were not published: {e}", p.publish_errors);
        }
    }
    if let Some(e) = &r.read_error {
        eprintln!("error: reading the sequence failed: {e}");
        return ExitCode::FAILURE;
    }
    let partial = !r.skipped.is_empty()
        || !r.unencodable.is_empty()
        || r.topics.values().any(|p| p.publish_errors > 0);
    if partial {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_params_file_becomes_flags_the_command_line_overrides() {
        let flags = config_flags(
            "rosbag2_player:\n  ros__parameters:\n    rate: 2.0\n    loop: true\n    start_paused: false\n    topics: [/imu, /gps]\n    clock: 0\n    regex: ''\n    server: fleet:6726\n",
        )
        .unwrap();
        assert_eq!(
            flags,
            [
                "--rate",
                "2.0",
                "--loop",
                "--topics",
                "/imu",
                "--topics",
                "/gps",
                "--server",
                "fleet:6726"
            ]
        );
        assert!(config_flags("p:\n  ros__parameters:\n    rat: 2\n")
            .unwrap_err()
            .to_string()
            .contains("rat"));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("play.yaml");
        std::fs::write(&f, "rate: 2.0\n").unwrap();
        let args: Vec<OsString> = [
            "mosaico-bridge",
            "play",
            "seq",
            "--config",
            f.to_str().unwrap(),
            "--rate",
            "0.5",
        ]
        .iter()
        .map(OsString::from)
        .collect();
        let cli = <super::super::Cli as clap::Parser>::try_parse_from(expand_config(args).unwrap())
            .unwrap();
        let super::super::Command::Play(a) = cli.command else {
            panic!("play")
        };
        assert_eq!(a.rate, Rate::Factor(0.5), "the command line wins");
    }
}
