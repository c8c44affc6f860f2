//! `spool ls | upload | rm`: what a recorder's spool holds, uploading it (e.g. from a laptop after
//! copying a robot's disk), and removing a session from it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use mosaico_bridge::config::Keep;
use mosaico_bridge::control::channel::ServerAddr;
use mosaico_bridge::ros::AdapterOptions;
use mosaico_bridge::upload::spool_dir::{self, PartPhase, SessionDir, SpoolLock};
use mosaico_bridge::upload::{UploadConfig, Uploader};
use serde::Serialize;

use super::output::{human_bytes, print_json, print_table};
use super::{ConnArgs, DEFAULT_SERVER};

#[derive(Args, Debug)]
pub struct SpoolArgs {
    #[command(subcommand)]
    pub command: SpoolCommand,
}

#[derive(Subcommand, Debug)]
pub enum SpoolCommand {
    /// What waits in a spool: sessions, parts, bytes, age, state.
    Ls {
        /// The spool directory [default: ~/.local/share/mosaico_bridge/spool].
        dir: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Upload every part not yet on the server (oldest first), then exit.
    Upload {
        dir: Option<PathBuf>,
        /// Keep uploaded segments instead of deleting them.
        #[arg(long)]
        keep: bool,
        /// Give up after this many seconds (0: when everything is uploaded, however long).
        #[arg(long, default_value_t = 0.0, value_name = "SECONDS")]
        max_time: f64,
    },
    /// Remove a session (by session id, sequence or directory name) from the spool.
    Rm {
        dir: PathBuf,
        session: String,
        /// Also when parts of it are not on the server yet (they are lost).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Serialize)]
struct PartRow {
    part: u32,
    state: String,
    bytes: u64,
    messages: Option<u64>,
    note: Option<String>,
}

#[derive(Debug, Serialize)]
struct SessionRow {
    sequence: String,
    session_id: String,
    dir: PathBuf,
    started_at: String,
    age_s: i64,
    bytes: u64,
    parts: Vec<PartRow>,
}

fn root(dir: Option<PathBuf>) -> PathBuf {
    dir.unwrap_or_else(spool_dir::default_root)
}

fn describe(s: &SessionDir) -> Result<SessionRow> {
    let state = s.upload_state()?;
    let mut parts: Vec<PartRow> = s
        .segments()?
        .into_iter()
        .map(|(part, path)| {
            let st = state.parts.get(&part);
            let summary = spool_dir::file_summary(&path).ok().flatten();
            let label = match st.map(|p| p.phase) {
                Some(PartPhase::Committed) if st.is_some_and(|p| !p.set_aside.is_empty()) => {
                    "committed, topics set aside".to_string()
                }
                Some(PartPhase::Committed) => "committed (kept)".into(),
                Some(PartPhase::Uploading) => "upload started".into(),
                None if summary.is_none() => "pending (open or cut: recovered at upload)".into(),
                None => "pending".into(),
            };
            let mut notes = Vec::new();
            if let Some(p) = st {
                notes.extend(
                    p.set_aside
                        .iter()
                        .map(|(t, e)| format!("{t} set aside: {e}")),
                );
                notes.extend(p.recovered.clone());
            }
            PartRow {
                part,
                state: label,
                bytes: std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
                messages: summary.map(|s| s.messages),
                note: (!notes.is_empty()).then(|| notes.join("; ")),
            }
        })
        .collect();
    // Parts whose segment is gone but whose state says something worth knowing.
    for (part, p) in &state.parts {
        if parts.iter().all(|r| r.part != *part) && p.recovered.is_some() {
            parts.push(PartRow {
                part: *part,
                state: "gone".into(),
                bytes: 0,
                messages: None,
                note: p.recovered.clone(),
            });
        }
    }
    parts.sort_by_key(|p| p.part);
    Ok(SessionRow {
        sequence: s.facts.sequence.clone(),
        session_id: s.facts.session_id.clone(),
        dir: s.path.clone(),
        started_at: s.facts.started_at.to_rfc3339(),
        age_s: (chrono::Utc::now() - s.facts.started_at).num_seconds(),
        bytes: s.bytes(),
        parts,
    })
}

pub async fn run(conn: &ConnArgs, a: SpoolArgs) -> Result<ExitCode> {
    match a.command {
        SpoolCommand::Ls { dir, json } => {
            let root = root(dir);
            let (sessions, other) = spool_dir::scan(&root)?;
            let rows: Vec<SessionRow> = sessions.iter().map(describe).collect::<Result<_>>()?;
            if json {
                print_json(&rows)?;
                return Ok(ExitCode::SUCCESS);
            }
            if rows.is_empty() {
                println!("{}: empty", root.display());
            }
            for r in &rows {
                println!(
                    "{} (session {}, started {}, {} old, {}) in {}",
                    r.sequence,
                    r.session_id,
                    r.started_at,
                    humantime(r.age_s),
                    human_bytes(r.bytes),
                    r.dir.display()
                );
                let table: Vec<Vec<String>> = r
                    .parts
                    .iter()
                    .map(|p| {
                        vec![
                            p.part.to_string(),
                            p.state.clone(),
                            human_bytes(p.bytes),
                            p.messages.map_or("-".into(), |m| m.to_string()),
                            p.note.clone().unwrap_or_default(),
                        ]
                    })
                    .collect();
                print_table(&["part", "state", "bytes", "messages", "note"], &table)?;
            }
            for (p, why) in other {
                eprintln!("not a recorder session: {} ({why})", p.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        SpoolCommand::Upload {
            dir,
            keep,
            max_time,
        } => {
            let root = root(dir);
            let _lock = SpoolLock::acquire(&root)?;
            let server = conn.server.as_deref().unwrap_or(DEFAULT_SERVER);
            let up = Uploader::start(UploadConfig {
                root: root.clone(),
                server: ServerAddr::parse(server)?,
                connect: conn.options()?,
                keep: if keep { Keep::Keep } else { Keep::Delete },
                adapters: Arc::new(|_: &str| AdapterOptions::default()),
                writer: Default::default(),
            });
            let started = tokio::time::Instant::now();
            let limit = (max_time > 0.0).then(|| Duration::from_secs_f64(max_time));
            let mut last = String::new();
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let st = up.status();
                let line = format!(
                    "{}: {} segment(s), {} waiting{}",
                    st.state,
                    st.backlog_segments,
                    human_bytes(st.backlog_bytes),
                    st.reason
                        .as_deref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                );
                if line != last {
                    eprintln!("{line}");
                    last = line;
                }
                let (sessions, _) = spool_dir::scan(&root)?;
                let waiting = sessions
                    .iter()
                    .flat_map(|s| {
                        let st = s.upload_state().unwrap_or_default();
                        s.segments()
                            .unwrap_or_default()
                            .into_iter()
                            .filter(move |(p, _)| {
                                st.parts
                                    .get(p)
                                    .is_none_or(|x| x.phase != PartPhase::Committed)
                            })
                    })
                    .count();
                let stuck = st.stuck.len();
                if waiting <= stuck || limit.is_some_and(|l| started.elapsed() >= l) {
                    break;
                }
            }
            let st = up.finish(tokio::time::Instant::now()).await;
            println!(
                "{} part(s) committed; {} segment(s) left ({})",
                st.parts_committed,
                st.backlog_segments,
                human_bytes(st.backlog_bytes)
            );
            for (part, why) in &st.stuck {
                println!("not uploadable: {part}: {why}");
            }
            for (topic, why) in &st.set_aside {
                println!("set aside: {topic}: {why}");
            }
            Ok(if st.backlog_segments == 0 && st.stuck.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        SpoolCommand::Rm {
            dir,
            session,
            force,
        } => {
            let _lock = SpoolLock::acquire(&dir)?;
            let (sessions, _) = spool_dir::scan(&dir)?;
            let s = sessions
                .iter()
                .find(|s| {
                    s.facts.session_id == session
                        || s.facts.sequence == session
                        || s.bag_name() == session
                })
                .with_context(|| format!("no session `{session}` in {}", dir.display()))?;
            let row = describe(s)?;
            let pending = row
                .parts
                .iter()
                .filter(|p| !p.state.starts_with("committed") && p.state != "gone")
                .count();
            if pending > 0 && !force {
                bail!(
                    "{} has {pending} part(s) not on the server yet: upload them (`spool upload`) or pass --force to lose them",
                    s.facts.sequence
                );
            }
            std::fs::remove_dir_all(&s.path)
                .with_context(|| format!("cannot remove {}", s.path.display()))?;
            println!("removed {} ({})", s.facts.sequence, s.path.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn humantime(s: i64) -> String {
    match s {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}
