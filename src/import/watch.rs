//! `import --watch DIR`: imports each finished bag dropped into a folder, once.
//!
//! * **Finished** means: not a file a recorder is still writing (`*.bag.active`, a `.db3` with its
//!   `-journal`/`-wal` beside it, a hidden or temporary name, an MCAP file without its closing
//!   magic, a ROS 1 bag without its index), and its size and modification time unchanged for the
//!   settle time. A bag directory is one bag (its files together).
//! * **Once**: every bag done (imported or failed) is appended to `DIR/.mosaico-import/state.jsonl`,
//!   read back at start; a bag listed there is never imported again, whatever happens to it.
//! * **Quarantine**: a bag whose import fails for a reason of its own (not a bag, a bad message, the
//!   sequence exists) is moved to `DIR/.mosaico-import/quarantine/` with `NAME.reason.txt`. A bag
//!   that failed because the server could not be reached stays where it is and is tried again.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::{import, ImportOptions, ImportReport};
use crate::error::{Error, Result};
use crate::handlers::MosaicoClient;

/// The folder inside the watched one holding the state and the quarantine.
pub const STATE_DIR: &str = ".mosaico-import";
const STATE_FILE: &str = "state.jsonl";
const QUARANTINE: &str = "quarantine";

#[derive(Debug, Clone)]
pub struct WatchOptions {
    pub dir: PathBuf,
    /// How long a bag must stay unchanged to count as finished.
    pub settle: Duration,
    /// How often the folder is scanned.
    pub poll: Duration,
    /// Prepended to each bag's name to name its sequence.
    pub prefix: String,
    /// Everything but `bag` and `sequence`, applied to every bag.
    pub import: ImportOptions,
}

/// One line of the state file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Done {
    /// The bag's name in the folder.
    pub bag: String,
    pub sequence: String,
    /// `imported` or `failed`.
    pub result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Seconds since the Unix epoch.
    pub at: u64,
}

/// What the watcher did, for the caller to print.
#[derive(Debug)]
pub enum WatchEvent {
    Importing {
        bag: String,
        sequence: String,
    },
    Imported {
        bag: String,
        report: Box<ImportReport>,
    },
    Quarantined {
        bag: String,
        reason: String,
    },
    /// The server could not be reached: the bag is tried again later.
    Retry {
        bag: String,
        reason: String,
    },
}

/// The bags already done, from the state file.
pub fn load_state(dir: &Path) -> Result<Vec<Done>> {
    let path = dir.join(STATE_DIR).join(STATE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::Config(format!(
                "cannot read {}: {e}",
                path.display()
            )))
        }
    };
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        // A torn last line (a crash while appending) is the only tolerated damage.
        match serde_json::from_str::<Done>(line) {
            Ok(d) => out.push(d),
            Err(e) if i + 1 == text.lines().count() => {
                warn!(state = %path.display(), "torn last line ignored: {e}")
            }
            Err(e) => {
                return Err(Error::Config(format!(
                    "{} line {}: {e}: fix or remove the line",
                    path.display(),
                    i + 1
                )))
            }
        }
    }
    Ok(out)
}

fn append_state(dir: &Path, done: &Done) -> Result<()> {
    let path = dir.join(STATE_DIR).join(STATE_FILE);
    let io = |e: std::io::Error| Error::Config(format!("cannot write {}: {e}", path.display()));
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(io)?;
    let mut line = serde_json::to_string(done).expect("state serializes");
    line.push('\n');
    f.write_all(line.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Size and latest modification of a file or of a directory's files.
fn signature(path: &Path) -> Option<(u64, SystemTime)> {
    let meta = std::fs::metadata(path).ok()?;
    if meta.is_file() {
        return Some((meta.len(), meta.modified().ok()?));
    }
    let mut size = meta.len();
    let mut latest = meta.modified().ok()?;
    for e in std::fs::read_dir(path).ok()? {
        let m = e.ok()?.metadata().ok()?;
        size += m.len();
        latest = latest.max(m.modified().ok()?);
    }
    Some((size, latest))
}

/// Whether `name` in `dir` is a bag candidate at all, and not one still being written.
fn candidate(dir: &Path, name: &str) -> bool {
    if name.starts_with('.') || name.ends_with(".active") || name.ends_with(".tmp") {
        return false;
    }
    let path = dir.join(name);
    if path.is_dir() {
        // A rosbag2 recording in progress: its storage file's sqlite journal, or no files yet.
        return std::fs::read_dir(&path).is_ok_and(|rd| {
            let names: Vec<String> = rd
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            !names.is_empty()
                && !names.iter().any(|n| {
                    n.ends_with("-journal") || n.ends_with("-wal") || n.ends_with(".active")
                })
        });
    }
    let busy = |suffix: &str| dir.join(format!("{name}{suffix}")).exists();
    let bag_like = [".mcap", ".db3", ".bag", ".zstd"]
        .iter()
        .any(|e| name.ends_with(e));
    bag_like && !busy("-journal") && !busy("-wal")
}

/// Whether the storage files say their writer closed them: an MCAP file ends with the magic, a
/// ROS 1 bag has its index. Files of other kinds say nothing (their name and settling decide).
fn closed(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    if path.is_dir() {
        return std::fs::read_dir(path).is_ok_and(|rd| {
            rd.filter_map(|e| e.ok()).all(|e| {
                let p = e.path();
                p.extension().is_none_or(|x| x != "mcap") || closed(&p)
            })
        });
    }
    match super::source::detect(path) {
        Ok((super::Format::Mcap, false)) => {
            let magic = super::source::MCAP_MAGIC;
            let mut tail = vec![0u8; magic.len()];
            std::fs::File::open(path)
                .and_then(|mut f| {
                    f.seek(SeekFrom::End(-(magic.len() as i64)))?;
                    f.read_exact(&mut tail)
                })
                .is_ok()
                && tail == magic
        }
        Ok((super::Format::Ros1, _)) => {
            crate::bag::ros1::Ros1Reader::open(path).is_ok_and(|r| r.indexed())
        }
        // Not a bag (or unreadable): importing it says why, and quarantines it.
        _ => true,
    }
}

/// A sequence name from a bag's name: its stem, with what servers refuse replaced by `_`.
fn sequence_name(prefix: &str, bag: &str) -> String {
    let stem = [".mcap.zstd", ".db3.zstd", ".mcap", ".db3", ".bag"]
        .iter()
        .find_map(|s| bag.strip_suffix(s))
        .unwrap_or(bag);
    let clean: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{prefix}{clean}")
}

/// Errors after which the bag is tried again rather than quarantined.
fn transient(e: &Error) -> bool {
    matches!(
        e,
        Error::Connect { .. } | Error::Timeout { .. } | Error::Transport { .. } | Error::Closed(_)
    )
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn quarantine(dir: &Path, bag: &str, reason: &str) -> Result<()> {
    let q = dir.join(STATE_DIR).join(QUARANTINE);
    let io = |e: std::io::Error| {
        Error::Config(format!("cannot quarantine {bag} in {}: {e}", q.display()))
    };
    std::fs::create_dir_all(&q).map_err(io)?;
    std::fs::rename(dir.join(bag), q.join(bag)).map_err(io)?;
    std::fs::write(q.join(format!("{bag}.reason.txt")), format!("{reason}\n")).map_err(io)
}

/// Watches `opts.dir` until `stop` resolves, importing each finished bag once (an import under
/// way when `stop` resolves is finished first).
pub async fn watch(
    client: &MosaicoClient,
    opts: WatchOptions,
    mut on_event: impl FnMut(WatchEvent),
    stop: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let dir = opts.dir.clone();
    if !dir.is_dir() {
        return Err(Error::Config(format!(
            "--watch {}: not a directory",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir.join(STATE_DIR)).map_err(|e| {
        Error::Config(format!(
            "cannot create {}: {e}",
            dir.join(STATE_DIR).display()
        ))
    })?;
    let mut done: HashSet<String> = load_state(&dir)?.into_iter().map(|d| d.bag).collect();
    info!(dir = %dir.display(), already = done.len(), "watching for bags");
    // Per candidate: its last signature and since when it has not changed.
    let mut seen: HashMap<String, ((u64, SystemTime), Instant)> = HashMap::new();
    tokio::pin!(stop);
    loop {
        let mut ready = BTreeMap::new();
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| Error::Config(format!("cannot list {}: {e}", dir.display())))?;
        let mut present = HashSet::new();
        for e in entries.filter_map(|e| e.ok()) {
            let name = e.file_name().to_string_lossy().into_owned();
            if done.contains(&name) || !candidate(&dir, &name) {
                continue;
            }
            let Some(sig) = signature(&e.path()) else {
                continue;
            };
            present.insert(name.clone());
            let entry = seen.entry(name.clone()).or_insert((sig, Instant::now()));
            if entry.0 != sig {
                *entry = (sig, Instant::now());
            } else if entry.1.elapsed() >= opts.settle && closed(&e.path()) {
                ready.insert(name, e.path());
            }
        }
        seen.retain(|n, _| present.contains(n));
        for (name, path) in ready {
            if futures::FutureExt::now_or_never(stop.as_mut()).is_some() {
                return Ok(());
            }
            let sequence = sequence_name(&opts.prefix, &name);
            on_event(WatchEvent::Importing {
                bag: name.clone(),
                sequence: sequence.clone(),
            });
            let mut o = opts.import.clone();
            o.bag = path;
            o.sequence = sequence.clone();
            // A stop asked for during an import takes effect after it: the bag is then done.
            let result = import(client, o, |_| {}).await;
            let record = |result: &str, reason: Option<String>| Done {
                bag: name.clone(),
                sequence: sequence.clone(),
                result: result.into(),
                reason,
                at: now_s(),
            };
            match result {
                Ok(report) => {
                    append_state(&dir, &record("imported", None))?;
                    on_event(WatchEvent::Imported {
                        bag: name.clone(),
                        report: Box::new(report),
                    });
                }
                Err(e) if transient(&e) => {
                    on_event(WatchEvent::Retry {
                        bag: name.clone(),
                        reason: e.to_string(),
                    });
                    seen.remove(&name); // settles again before the next try
                    continue;
                }
                Err(e) => {
                    let reason = e.to_string();
                    // The state first: a crash between the two leaves the bag in place, never
                    // imported twice.
                    append_state(&dir, &record("failed", Some(reason.clone())))?;
                    quarantine(&dir, &name, &reason)?;
                    on_event(WatchEvent::Quarantined {
                        bag: name.clone(),
                        reason,
                    });
                }
            }
            done.insert(name.clone());
            seen.remove(&name);
        }
        tokio::select! {
            _ = tokio::time::sleep(opts.poll) => {}
            _ = &mut stop => return Ok(()),
        }
    }
}
