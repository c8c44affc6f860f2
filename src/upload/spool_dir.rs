//! The spool on disk: one rosbag2 bag directory per recording session, holding the session's facts
//! (`session.json`), its segments (`<bag>_<N>.mcap`, segment N is part N+1), what reached the server
//! (`upload.json`) and the recorder's last sync (`heartbeat.json`). The writer (live intake), the
//! uploader, and the `spool` commands all go through this module.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bag::metadata::{write_atomic, BagMetadata, FileInfo, SinceEpoch, TopicMetadata};
use crate::bag::{BagError, TopicWithCount, MESSAGE_ENCODING};

pub const SESSION_FILE: &str = "session.json";
pub const UPLOAD_FILE: &str = "upload.json";
pub const HEARTBEAT_FILE: &str = "heartbeat.json";
const LOCK_FILE: &str = ".lock";

/// What identifies a recording session, written when it starts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionFacts {
    pub session_id: String,
    /// The sequence of part 1 (later parts are named from it).
    pub sequence: String,
    pub started_at: DateTime<Utc>,
    pub host: String,
    /// The recording's metadata without the part number (added per part).
    pub metadata: Value,
}

/// Where a part stands on the server, as far as this spool knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartPhase {
    /// An upload started; the server may hold an unfinished part to replace.
    Uploading,
    /// The server confirmed the finalize.
    Committed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartState {
    pub phase: PartPhase,
    /// Current generation: the session locator of this part (`seq:<ULID>`), recorded before any
    /// data is sent so a later run can find and replace an unfinished part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_session: Option<String>,
    #[serde(default)]
    pub committed_messages: u64,
    /// Topics the server kept rejecting: left out of the part, their data kept in the segment.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set_aside: BTreeMap<String, String>,
    /// Set when the segment was cut by a crash: what was recovered and what could not be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UploadState {
    pub parts: BTreeMap<u32, PartState>,
}

/// The recorder's last sync: what was on disk then.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub synced_at_ns: i64,
    pub part: u32,
    /// Messages in the open segment when it was last synced, per topic.
    pub synced_messages: BTreeMap<String, u64>,
}

/// One session's bag directory.
#[derive(Debug, Clone)]
pub struct SessionDir {
    pub path: PathBuf,
    pub facts: SessionFacts,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>, BagError> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| BagError::Invalid {
                path: path.to_path_buf(),
                reason: format!("unreadable JSON ({e}); remove it or the session with `spool rm`"),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(BagError::io(path)(e)),
    }
}

fn write_json<T: Serialize>(dir: &Path, name: &str, v: &T) -> Result<(), BagError> {
    let bytes = serde_json::to_vec_pretty(v).expect("serializable");
    write_atomic(&dir.join(format!(".{name}.tmp")), &dir.join(name), &bytes)
}

impl SessionDir {
    /// Creates the directory of a new session under `root`, named after its sequence.
    pub fn create(root: &Path, facts: SessionFacts) -> Result<Self, BagError> {
        std::fs::create_dir_all(root).map_err(BagError::io(root))?;
        let base = file_safe(&facts.sequence);
        let mut path = root.join(&base);
        let mut n = 1;
        while path.exists() {
            n += 1;
            path = root.join(format!("{base}.{n}"));
        }
        std::fs::create_dir(&path).map_err(BagError::io(&path))?;
        write_json(&path, SESSION_FILE, &facts)?;
        let s = SessionDir { path, facts };
        s.write_metadata(None)?;
        Ok(s)
    }

    pub fn open(path: &Path) -> Result<Self, BagError> {
        let facts = read_json::<SessionFacts>(&path.join(SESSION_FILE))?.ok_or_else(|| {
            BagError::Invalid {
                path: path.to_path_buf(),
                reason: format!("no {SESSION_FILE}: not a recorder session"),
            }
        })?;
        Ok(SessionDir {
            path: path.to_path_buf(),
            facts,
        })
    }

    /// The bag's name (its directory's), which rosbag2 uses as the segment file prefix.
    pub fn bag_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The file of part `part` (from 1).
    pub fn segment_path(&self, part: u32) -> PathBuf {
        self.path.join(format!(
            "{}_{}.mcap",
            self.bag_name(),
            part.saturating_sub(1)
        ))
    }

    /// Parts that have a segment file, in order.
    pub fn segments(&self) -> Result<Vec<(u32, PathBuf)>, BagError> {
        let prefix = format!("{}_", self.bag_name());
        let mut out = Vec::new();
        for e in std::fs::read_dir(&self.path).map_err(BagError::io(&self.path))? {
            let e = e.map_err(BagError::io(&self.path))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(n) = name
                .strip_prefix(&prefix)
                .and_then(|r| r.strip_suffix(".mcap"))
                .and_then(|n| n.parse::<u32>().ok())
            {
                out.push((n + 1, e.path()));
            }
        }
        out.sort();
        Ok(out)
    }

    pub fn upload_state(&self) -> Result<UploadState, BagError> {
        Ok(read_json(&self.path.join(UPLOAD_FILE))?.unwrap_or_default())
    }

    pub fn save_upload_state(&self, s: &UploadState) -> Result<(), BagError> {
        write_json(&self.path, UPLOAD_FILE, s)
    }

    /// Updates part `part`'s state (read, change, write).
    pub fn update_part(
        &self,
        part: u32,
        f: impl FnOnce(&mut PartState),
    ) -> Result<UploadState, BagError> {
        let mut s = self.upload_state()?;
        let p = s.parts.entry(part).or_insert(PartState {
            phase: PartPhase::Uploading,
            server_session: None,
            committed_messages: 0,
            set_aside: BTreeMap::new(),
            recovered: None,
        });
        f(p);
        self.save_upload_state(&s)?;
        Ok(s)
    }

    pub fn heartbeat(&self) -> Result<Option<Heartbeat>, BagError> {
        read_json(&self.path.join(HEARTBEAT_FILE))
    }

    pub fn save_heartbeat(&self, h: &Heartbeat) -> Result<(), BagError> {
        write_json(&self.path, HEARTBEAT_FILE, h)
    }

    /// Bytes of every file in the directory.
    pub fn bytes(&self) -> u64 {
        dir_bytes(&self.path)
    }

    /// Rewrites `metadata.yaml` from the complete segment files present (`open`: the part being
    /// written, listed without counts). Each file's counts come from its MCAP summary.
    pub fn write_metadata(&self, open: Option<u32>) -> Result<(), BagError> {
        let mut meta = BagMetadata::default();
        meta.custom_data.insert(
            "mosaico_bridge.session_id".into(),
            self.facts.session_id.clone(),
        );
        meta.custom_data.insert(
            "mosaico_bridge.sequence".into(),
            self.facts.sequence.clone(),
        );
        let mut topics: BTreeMap<String, TopicWithCount> = BTreeMap::new();
        for (part, path) in self.segments()? {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut info = FileInfo {
                path: name,
                ..Default::default()
            };
            if Some(part) != open {
                if let Some(s) = file_summary(&path)? {
                    info.message_count = s.messages;
                    info.starting_time = SinceEpoch {
                        nanoseconds_since_epoch: s.start,
                    };
                    info.duration.nanoseconds = s.end.saturating_sub(s.start);
                    for (topic, (ros_type, qos_yaml, n)) in s.topics {
                        let t = topics
                            .entry(topic.clone())
                            .or_insert_with(|| TopicWithCount {
                                topic_metadata: TopicMetadata {
                                    name: topic,
                                    ros_type,
                                    serialization_format: MESSAGE_ENCODING.into(),
                                    offered_qos_profiles: qos_yaml,
                                    type_description_hash: String::new(),
                                },
                                message_count: 0,
                            });
                        t.message_count += n;
                    }
                }
            }
            meta.files.push(info);
        }
        meta.topics_with_message_count = topics.into_values().collect();
        meta.total();
        meta.write(&self.path)
    }

    /// Removes part `part`'s segment (after a confirmed upload) and lists what is left.
    pub fn remove_segment(&self, part: u32) -> Result<(), BagError> {
        let p = self.segment_path(part);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(BagError::io(&p)(e)),
        }
        self.write_metadata(None)
    }
}

/// Counts of a complete segment, from its summary; `None` for a file without one.
pub struct FileSummary {
    pub messages: u64,
    pub start: u64,
    pub end: u64,
    /// topic → (type, offered QoS YAML, messages)
    pub topics: BTreeMap<String, (String, String, u64)>,
}

pub fn file_summary(path: &Path) -> Result<Option<FileSummary>, BagError> {
    let f = File::open(path).map_err(BagError::io(path))?;
    if f.metadata().map(|m| m.len()).unwrap_or(0) == 0 {
        return Ok(None);
    }
    // SAFETY: read-only map of a file the spool no longer writes.
    let map = unsafe { memmap2::Mmap::map(&f) }.map_err(BagError::io(path))?;
    let Ok(Some(s)) = mcap::read::Summary::read(&map) else {
        return Ok(None);
    };
    let stats = s.stats.clone().unwrap_or_default();
    let mut topics = BTreeMap::new();
    for (id, c) in &s.channels {
        let n = stats.channel_message_counts.get(id).copied().unwrap_or(0);
        topics.insert(
            c.topic.clone(),
            (
                c.schema
                    .as_ref()
                    .map(|s| s.name.clone())
                    .unwrap_or_default(),
                c.metadata
                    .get(crate::bag::QOS_KEY)
                    .cloned()
                    .unwrap_or_default(),
                n,
            ),
        );
    }
    Ok(Some(FileSummary {
        messages: stats.message_count,
        start: stats.message_start_time,
        end: stats.message_end_time,
        topics,
    }))
}

pub fn dir_bytes(path: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(path) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Directories of a spool that are not sessions, with the reason.
pub type NotSessions = Vec<(PathBuf, String)>;

/// Every session in the spool, oldest first. Directories that are not sessions are skipped and
/// returned separately with the reason.
pub fn scan(root: &Path) -> Result<(Vec<SessionDir>, NotSessions), BagError> {
    let mut sessions = Vec::new();
    let mut other = Vec::new();
    let rd = match std::fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((sessions, other)),
        Err(e) => return Err(BagError::io(root)(e)),
    };
    for e in rd.flatten() {
        if !e.path().is_dir() {
            continue;
        }
        match SessionDir::open(&e.path()) {
            Ok(s) => sessions.push(s),
            Err(err) => other.push((e.path(), err.to_string())),
        }
    }
    sessions.sort_by(|a, b| {
        (a.facts.started_at, &a.facts.session_id).cmp(&(b.facts.started_at, &b.facts.session_id))
    });
    Ok((sessions, other))
}

/// An exclusive hold on a spool directory: one recorder or `spool upload` at a time.
pub struct SpoolLock {
    _file: File,
}

impl SpoolLock {
    pub fn acquire(root: &Path) -> Result<Self, BagError> {
        use std::os::fd::AsRawFd;
        std::fs::create_dir_all(root).map_err(BagError::io(root))?;
        let path = root.join(LOCK_FILE);
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(BagError::io(&path))?;
        // SAFETY: flock on a descriptor we own.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if r != 0 {
            return Err(BagError::Invalid {
                path: root.to_path_buf(),
                reason: "the spool is in use by another recorder or `spool upload` (stop it first)"
                    .into(),
            });
        }
        Ok(SpoolLock { _file: file })
    }
}

/// Free bytes on the filesystem of `path`.
pub fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs fills the struct we pass; the path is a valid C string.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(st.f_bavail as u64 * st.f_frsize as u64)
}

/// The default spool directory: `$XDG_DATA_HOME/mosaico_bridge/spool` (`~/.local/share/...`).
pub fn default_root() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("mosaico_bridge").join("spool")
}

/// A sequence name as a directory name: path separators and dots at the start are replaced.
fn file_safe(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let s = s.trim_start_matches('.').to_string();
    if s.is_empty() {
        "session".into()
    } else {
        s
    }
}
