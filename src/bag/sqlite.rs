//! rosbag2's sqlite3 storage (`.db3`, the default before Iron): tables `topics` and `messages`,
//! and in newer files `schema`, `metadata` and `message_definitions`. Messages are read in
//! timestamp order by one query over `timestamp_idx` (SQLite sorts on disk when a file lacks the
//! index), streamed from a thread through a bounded channel so memory stays bounded.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use crossbeam_channel::{bounded, Receiver};
use rusqlite::{Connection, OpenFlags};

use super::{BagError, BagMessage, ChannelInfo, MESSAGE_ENCODING, SCHEMA_ENCODING};

/// The first bytes of every SQLite 3 database.
pub const MAGIC: &[u8] = b"SQLite format 3\0";

/// Messages handed from the query thread at a time, and batches queued.
const BATCH_MESSAGES: usize = 512;
const BATCH_BYTES: usize = 4 << 20;
const BATCHES_QUEUED: usize = 4;

/// What a `.db3` file holds, read before its messages.
#[derive(Debug, Clone)]
pub struct Db3Info {
    pub channels: Vec<Arc<ChannelInfo>>,
    /// The file has no `message_definitions` table (rosbag2 before Iron): topics without a typed
    /// mapping are stored without their definition.
    pub definitions_missing: bool,
}

fn sqlite_err(path: &Path) -> impl FnOnce(rusqlite::Error) -> BagError + '_ {
    move |source| BagError::Sqlite {
        path: path.to_path_buf(),
        source,
    }
}

fn open(path: &Path) -> Result<Connection, BagError> {
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sqlite_err(path))
}

/// Every row of `sql`, mapped by `f`.
fn rows<T>(
    db: &Connection,
    sql: &str,
    path: &Path,
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, BagError> {
    let mut st = db.prepare(sql).map_err(sqlite_err(path))?;
    let out = st
        .query_map([], f)
        .map_err(sqlite_err(path))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(sqlite_err(path))?;
    Ok(out)
}

fn columns(db: &Connection, table: &str, path: &Path) -> Result<Vec<String>, BagError> {
    rows(db, &format!("PRAGMA table_info({table})"), path, |r| {
        r.get(1)
    })
}

/// Reads the topics (and message definitions, when the file has them) of a `.db3` file.
pub fn info(path: &Path) -> Result<Db3Info, BagError> {
    let db = open(path)?;
    let invalid = |reason: String| BagError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let topic_cols = columns(&db, "topics", path)?;
    if topic_cols.is_empty() || columns(&db, "messages", path)?.is_empty() {
        return Err(invalid(
            "an SQLite file without rosbag2's `topics` and `messages` tables: not a rosbag2 .db3 bag"
                .into(),
        ));
    }
    let mut definitions: HashMap<String, String> = HashMap::new();
    let definitions_missing = columns(&db, "message_definitions", path)?.is_empty();
    if !definitions_missing {
        let defs = rows(
            &db,
            "SELECT topic_type, encoding, encoded_message_definition FROM message_definitions",
            path,
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            },
        )?;
        for (ty, encoding, def) in defs {
            // Only `ros2msg` is what ChannelInfo carries (as for MCAP schemas); IDL is left out.
            if encoding == SCHEMA_ENCODING && !def.is_empty() {
                definitions.insert(ty, def);
            }
        }
    }
    let qos_col = topic_cols.iter().any(|c| c == "offered_qos_profiles");
    let sql = format!(
        "SELECT id, name, type, serialization_format, {} FROM topics ORDER BY id",
        if qos_col {
            "offered_qos_profiles"
        } else {
            "''"
        }
    );
    let topics = rows(&db, &sql, path, |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
        ))
    })?;
    let mut channels = Vec::new();
    for (id, topic, ros_type, format, qos) in topics {
        if format != MESSAGE_ENCODING {
            return Err(invalid(format!(
                "topic {topic} is serialized as `{format}`: only `{MESSAGE_ENCODING}` can be imported"
            )));
        }
        let id = u16::try_from(id)
            .map_err(|_| invalid(format!("topic {topic} has id {id}, beyond 65535")))?;
        channels.push(Arc::new(ChannelInfo {
            id,
            definition: definitions.get(&ros_type).cloned(),
            topic,
            ros_type,
            qos_yaml: Some(qos).filter(|q| !q.is_empty()),
            timestamp_source: None,
        }));
    }
    Ok(Db3Info {
        channels,
        definitions_missing,
    })
}

/// The number of messages in a `.db3` file.
pub fn message_count(path: &Path) -> Result<u64, BagError> {
    let n: i64 = open(path)?
        .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))
        .map_err(sqlite_err(path))?;
    Ok(n as u64)
}

/// The messages of a `.db3` file in timestamp order (ties in insertion order).
pub struct Db3Reader {
    path: PathBuf,
    rx: Receiver<Result<Vec<BagMessage>, BagError>>,
    batch: std::vec::IntoIter<BagMessage>,
}

impl Db3Reader {
    pub fn open(path: &Path, info: &Db3Info) -> Result<Self, BagError> {
        let db = open(path)?;
        let channels: HashMap<i64, Arc<ChannelInfo>> = info
            .channels
            .iter()
            .map(|c| (i64::from(c.id), c.clone()))
            .collect();
        let (tx, rx) = bounded(BATCHES_QUEUED);
        let thread_path = path.to_path_buf();
        std::thread::Builder::new()
            .name("db3-reader".into())
            .spawn(move || {
                let path = thread_path;
                let run = || -> Result<(), BagError> {
                    let mut st = db
                        .prepare(
                            "SELECT topic_id, timestamp, data FROM messages ORDER BY timestamp, id",
                        )
                        .map_err(sqlite_err(&path))?;
                    let mut rows = st.query([]).map_err(sqlite_err(&path))?;
                    let mut batch = Vec::with_capacity(BATCH_MESSAGES);
                    let mut bytes = 0usize;
                    while let Some(row) = rows.next().map_err(sqlite_err(&path))? {
                        let topic_id: i64 = row.get(0).map_err(sqlite_err(&path))?;
                        let ts: i64 = row.get(1).map_err(sqlite_err(&path))?;
                        let data = row.get_ref(2).map_err(sqlite_err(&path))?;
                        let data = data.as_blob().map_err(|e| BagError::Invalid {
                            path: path.clone(),
                            reason: format!("a message of topic id {topic_id} at {ts} ns: {e}"),
                        })?;
                        let Some(channel) = channels.get(&topic_id) else {
                            return Err(BagError::Invalid {
                                path: path.clone(),
                                reason: format!(
                                    "a message at {ts} ns names topic id {topic_id}, which the topics table lacks"
                                ),
                            });
                        };
                        bytes += data.len();
                        batch.push(BagMessage {
                            channel: channel.clone(),
                            log_time: ts.max(0) as u64,
                            data: Bytes::copy_from_slice(data),
                        });
                        if batch.len() >= BATCH_MESSAGES || bytes >= BATCH_BYTES {
                            bytes = 0;
                            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_MESSAGES));
                            if tx.send(Ok(full)).is_err() {
                                return Ok(()); // the reader was dropped
                            }
                        }
                    }
                    if !batch.is_empty() {
                        let _ = tx.send(Ok(batch));
                    }
                    Ok(())
                };
                if let Err(e) = run() {
                    let _ = tx.send(Err(e));
                }
            })
            .map_err(BagError::io(path))?;
        Ok(Db3Reader {
            path: path.to_path_buf(),
            rx,
            batch: Vec::new().into_iter(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Iterator for Db3Reader {
    type Item = Result<BagMessage, BagError>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(m) = self.batch.next() {
                return Some(Ok(m));
            }
            match self.rx.recv() {
                Ok(Ok(b)) => self.batch = b.into_iter(),
                Ok(Err(e)) => return Some(Err(e)),
                Err(_) => return None, // the thread ended: every row was sent
            }
        }
    }
}
