//! ROS 1 bags (format 2.0, what `rosbag record` writes): records of `op`-tagged headers, messages
//! and connections inside chunks (uncompressed, bz2 or lz4), an index after them. Read front to
//! back, one chunk in memory at a time, in file order (the order `rosbag record` wrote them); each
//! message is transcoded to ROS 2 CDR with its connection's definition ([`msgdef`]) and carries its
//! ROS 2 type name, so the adapters see what a ROS 2 bag would hold.
//!
//! A bag whose recording did not end cleanly (no index, or cut inside a record) is read up to its
//! last complete record, as for MCAP ([`End::Cut`]), where rosbag itself asks for `rosbag reindex`.

pub mod msgdef;

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use super::reader::End;
use super::{qos, BagError, BagMessage, ChannelInfo};
use crate::config::{Durability, Reliability};
use crate::transport::Qos;
use msgdef::{ros2_type_name, Compat, Ros1Type};
use tracing::{info, warn};

/// The first line of every ROS 1 bag of format 2.0.
pub const MAGIC: &[u8] = b"#ROSBAG V2.0\n";

const OP_MESSAGE: u8 = 0x02;
const OP_BAG_HEADER: u8 = 0x03;
const OP_INDEX_DATA: u8 = 0x04;
const OP_CHUNK: u8 = 0x05;
const OP_CHUNK_INFO: u8 = 0x06;
const OP_CONNECTION: u8 = 0x07;

/// A record's header fields (`name=value`).
struct Fields<'a>(Vec<(&'a str, &'a [u8])>);

impl<'a> Fields<'a> {
    fn parse(mut buf: &'a [u8]) -> Result<Self, String> {
        let mut out = Vec::new();
        while !buf.is_empty() {
            let len = le_u32(buf, 0).ok_or("a header field is cut")? as usize;
            let field = buf.get(4..4 + len).ok_or("a header field is cut")?;
            let eq = field
                .iter()
                .position(|&b| b == b'=')
                .ok_or("a header field has no `=`")?;
            let name =
                std::str::from_utf8(&field[..eq]).map_err(|_| "a field name is not UTF-8")?;
            out.push((name, &field[eq + 1..]));
            buf = &buf[4 + len..];
        }
        Ok(Fields(out))
    }
    fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
    fn str(&self, name: &str) -> Result<&'a str, String> {
        let v = self.get(name).ok_or_else(|| format!("no `{name}` field"))?;
        std::str::from_utf8(v).map_err(|_| format!("field `{name}` is not UTF-8"))
    }
    fn u32(&self, name: &str) -> Result<u32, String> {
        self.get(name)
            .and_then(|v| le_u32(v, 0))
            .ok_or_else(|| format!("no 4-byte `{name}` field"))
    }
    fn u64(&self, name: &str) -> Result<u64, String> {
        self.get(name)
            .and_then(|v| v.get(..8))
            .map(|v| u64::from_le_bytes(v.try_into().expect("8 bytes")))
            .ok_or_else(|| format!("no 8-byte `{name}` field"))
    }
    fn op(&self) -> Result<u8, String> {
        match self.get("op") {
            Some([op]) => Ok(*op),
            _ => Err("a record without its `op` field".into()),
        }
    }
    /// ROS 1 `time`: seconds then nanoseconds, two u32.
    fn time_ns(&self, name: &str) -> Result<u64, String> {
        let t = self.u64(name)?;
        Ok((t & 0xffff_ffff) * 1_000_000_000 + (t >> 32))
    }
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|v| u32::from_le_bytes(v.try_into().expect("4 bytes")))
}

/// One connection: its channel (ROS 2 names) and its transcoder.
struct Connection {
    channel: Arc<ChannelInfo>,
    ty: Arc<Ros1Type>,
}

/// Reads a ROS 1 bag's messages as ROS 2 CDR, in file order.
pub struct Ros1Reader {
    path: PathBuf,
    file: BufReader<File>,
    file_bytes: u64,
    /// Offset of the next record.
    pos: u64,
    index_pos: u64,
    connections: HashMap<u32, Connection>,
    /// Compiled definitions by (type, md5sum), with the definition to record (`None`: ROS 2's
    /// built-in one): many connections share one.
    types: HashMap<(String, String), (Arc<Ros1Type>, Option<String>)>,
    pending: VecDeque<BagMessage>,
    end: Option<End>,
}

/// Why reading stopped before the end of the file.
enum Stop {
    /// The file ends inside a record: why, and the record's header and what there is of its data.
    Cut(String, Option<(Vec<u8>, Vec<u8>)>),
    Fatal(BagError),
}

type Record = (u8, Vec<u8>, Vec<u8>);

impl Ros1Reader {
    pub fn open(path: &Path) -> Result<Self, BagError> {
        let file = File::open(path).map_err(BagError::io(path))?;
        let file_bytes = file.metadata().map_err(BagError::io(path))?.len();
        let mut file = BufReader::with_capacity(1 << 20, file);
        let mut magic = [0u8; MAGIC.len()];
        let not_ros1 = || BagError::Invalid {
            path: path.to_path_buf(),
            reason: "not a ROS 1 bag of format 2.0 (no `#ROSBAG V2.0` line)".into(),
        };
        file.read_exact(&mut magic).map_err(|_| not_ros1())?;
        if magic != MAGIC {
            return Err(not_ros1());
        }
        let mut r = Ros1Reader {
            path: path.to_path_buf(),
            file,
            file_bytes,
            pos: MAGIC.len() as u64,
            index_pos: 0,
            connections: HashMap::new(),
            types: HashMap::new(),
            pending: VecDeque::new(),
            end: None,
        };
        let header = match r.record() {
            Ok(Some((OP_BAG_HEADER, header, _))) => header,
            _ => return Err(r.invalid("the bag header record is missing or cut")),
        };
        let f = Fields::parse(&header).map_err(|e| r.invalid(&e))?;
        r.index_pos = f.u64("index_pos").map_err(|e| r.invalid(&e))?;
        Ok(r)
    }

    fn invalid(&self, reason: &str) -> BagError {
        BagError::Invalid {
            path: self.path.clone(),
            reason: reason.to_string(),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the bag has its index: `rosbag record` writes it when the recording ends.
    pub fn indexed(&self) -> bool {
        self.index_pos != 0
    }

    /// How the file ended, once the reader returned `None`.
    pub fn end(&self) -> Option<&End> {
        self.end.as_ref()
    }

    /// Reads the next record: op, header, data (left out for index records); `None` at a clean
    /// end of file.
    fn record(&mut self) -> Result<Option<Record>, Stop> {
        if self.pos >= self.file_bytes {
            return Ok(None);
        }
        let path = self.path.clone();
        let io = move |e: std::io::Error| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Stop::Cut("the file ends inside a record".into(), None)
            } else {
                Stop::Fatal(BagError::io(&path)(e))
            }
        };
        let mut len = [0u8; 4];
        self.file.read_exact(&mut len).map_err(&io)?;
        let hlen = u32::from_le_bytes(len) as u64;
        if self.pos + 8 + hlen > self.file_bytes {
            return Err(Stop::Cut(
                format!(
                    "the file ends inside the record header at byte {}",
                    self.pos
                ),
                None,
            ));
        }
        let mut header = vec![0u8; hlen as usize];
        self.file.read_exact(&mut header).map_err(&io)?;
        self.file.read_exact(&mut len).map_err(&io)?;
        let dlen = u32::from_le_bytes(len) as u64;
        let op = Fields::parse(&header)
            .and_then(|f| f.op())
            .map_err(|e| Stop::Fatal(self.invalid(&format!("record at byte {}: {e}", self.pos))))?;
        let end = self.pos + 8 + hlen + dlen;
        if end > self.file_bytes {
            // Keep the partial data: an uncompressed chunk's complete messages are still usable.
            let mut data = Vec::new();
            self.file
                .by_ref()
                .take(dlen)
                .read_to_end(&mut data)
                .map_err(|e| Stop::Fatal(BagError::io(&self.path)(e)))?;
            return Err(Stop::Cut(
                format!(
                    "the file ends inside a record of {dlen} bytes at byte {}",
                    self.pos
                ),
                Some((header, data)),
            ));
        }
        let data = if matches!(op, OP_INDEX_DATA | OP_CHUNK_INFO) {
            self.file.seek_relative(dlen as i64).map_err(&io)?;
            Vec::new()
        } else {
            let mut d = vec![0u8; dlen as usize];
            self.file.read_exact(&mut d).map_err(&io)?;
            d
        };
        self.pos = end;
        Ok(Some((op, header, data)))
    }

    /// Reads records until messages are pending or the file ends.
    fn fill(&mut self) -> Result<(), BagError> {
        while self.pending.is_empty() && self.end.is_none() {
            match self.record() {
                Ok(Some((op, header, data))) => self.handle(op, &header, data, true)?,
                Ok(None) => {
                    self.end = Some(if self.index_pos == 0 {
                        End::Cut {
                            readable_bytes: self.file_bytes,
                            file_bytes: self.file_bytes,
                            reason: "the bag has no index: its recording did not end cleanly"
                                .into(),
                        }
                    } else {
                        End::Complete
                    });
                }
                Err(Stop::Fatal(e)) => return Err(e),
                Err(Stop::Cut(reason, partial)) => {
                    if let Some((header, data)) = partial {
                        let op = Fields::parse(&header).and_then(|f| f.op());
                        if op == Ok(OP_CHUNK) {
                            self.handle(OP_CHUNK, &header, data, false)?;
                        }
                    }
                    self.end = Some(End::Cut {
                        readable_bytes: self.pos,
                        file_bytes: self.file_bytes,
                        reason,
                    });
                }
            }
        }
        Ok(())
    }

    /// One top-level record; `whole` is false for the cut record at the end of the file.
    fn handle(
        &mut self,
        op: u8,
        header: &[u8],
        data: Vec<u8>,
        whole: bool,
    ) -> Result<(), BagError> {
        let at = self.pos;
        let f = Fields::parse(header)
            .map_err(|e| self.invalid(&format!("record before byte {at}: {e}")))?;
        match op {
            OP_CHUNK => {
                let compression = f.str("compression").map_err(|e| self.invalid(&e))?;
                let size = f.u32("size").map_err(|e| self.invalid(&e))? as usize;
                let plain = match (compression, whole) {
                    ("none", _) => data,
                    // A cut compressed chunk cannot be decoded.
                    (_, false) => return Ok(()),
                    ("bz2", true) => {
                        let mut out = Vec::with_capacity(size);
                        bzip2::read::BzDecoder::new(&data[..])
                            .read_to_end(&mut out)
                            .map_err(|e| {
                                self.invalid(&format!("bz2 chunk before byte {at}: {e}"))
                            })?;
                        out
                    }
                    ("lz4", true) => {
                        let mut out = Vec::with_capacity(size);
                        lz4::Decoder::new(&data[..])
                            .and_then(|mut d| d.read_to_end(&mut out))
                            .map_err(|e| {
                                self.invalid(&format!("lz4 chunk before byte {at}: {e}"))
                            })?;
                        out
                    }
                    (other, true) => {
                        return Err(self.invalid(&format!(
                            "a chunk compressed as `{other}` (ROS 1 bags use none, bz2 or lz4)"
                        )))
                    }
                };
                if whole && plain.len() != size {
                    return Err(self.invalid(&format!(
                        "a chunk before byte {at} holds {} bytes, its header says {size}",
                        plain.len()
                    )));
                }
                self.chunk(&plain, whole)
            }
            OP_CONNECTION => self.connection(&f, &data),
            OP_MESSAGE => self.message(&f, &data),
            _ => Ok(()),
        }
    }

    /// The records of a chunk; a cut chunk (`whole` false) ends at its last complete record.
    fn chunk(&mut self, mut buf: &[u8], whole: bool) -> Result<(), BagError> {
        while !buf.is_empty() {
            let Some(hlen) = le_u32(buf, 0).map(|n| n as usize) else {
                break;
            };
            let Some(dlen) = le_u32(buf, 4 + hlen).map(|n| n as usize) else {
                break;
            };
            let (Some(header), Some(data)) =
                (buf.get(4..4 + hlen), buf.get(8 + hlen..8 + hlen + dlen))
            else {
                break;
            };
            let f = Fields::parse(header)
                .map_err(|e| self.invalid(&format!("a record in a chunk: {e}")))?;
            match f.op() {
                Ok(OP_CONNECTION) => self.connection(&f, data)?,
                Ok(OP_MESSAGE) => self.message(&f, data)?,
                _ => {}
            }
            buf = &buf[8 + hlen + dlen..];
        }
        if whole && !buf.is_empty() {
            return Err(self.invalid("a chunk ends inside one of its records"));
        }
        Ok(())
    }

    fn connection(&mut self, f: &Fields<'_>, data: &[u8]) -> Result<(), BagError> {
        let id = f
            .u32("conn")
            .map_err(|e| self.invalid(&format!("connection: {e}")))?;
        if self.connections.contains_key(&id) {
            return Ok(()); // the index section repeats every connection
        }
        let c = Fields::parse(data).map_err(|e| self.invalid(&format!("connection {id}: {e}")))?;
        let bad = |e: String| self.invalid(&format!("connection {id}: {e}"));
        let topic = c.str("topic").or_else(|_| f.str("topic")).map_err(bad)?;
        let ros1_type = c.str("type").map_err(bad)?;
        let md5 = c.str("md5sum").unwrap_or("");
        let definition = c.str("message_definition").map_err(bad)?;
        let key = (ros1_type.to_string(), md5.to_string());
        let (ty, definition) = match self.types.get(&key) {
            Some(t) => t.clone(),
            None => {
                let mut t = Ros1Type::parse(ros1_type, definition)
                    .map_err(|e| self.invalid(&format!("topic {topic}: {e}")))?;
                let builtin = crate::ros::msgs::definition(&ros2_type_name(ros1_type));
                // A type ROS 2 knows in the same (or an extended) layout keeps ROS 2's own
                // definition; others get theirs derived from the ROS 1 one.
                let definition = match builtin.map(|b| t.adopt(b)) {
                    Some(Compat::Same) => None,
                    Some(Compat::Extended(extra)) => {
                        info!(%topic, ros1_type, "ROS 2's type adds {}: written as zero", extra.join(", "));
                        None
                    }
                    Some(Compat::Different) => {
                        warn!(
                            %topic, ros1_type,
                            "the ROS 1 type's layout differs from ROS 2's: its messages will not decode as the ROS 2 type (counted as malformed)"
                        );
                        Some(t.ros2_definition())
                    }
                    None => Some(t.ros2_definition()),
                };
                let entry = (Arc::new(t), definition);
                self.types.insert(key, entry.clone());
                entry
            }
        };
        let ros_type = ros2_type_name(ros1_type);
        // A latched ROS 1 publisher is what transient-local durability is in ROS 2.
        let qos_yaml = (c.get("latching") == Some(b"1")).then(|| {
            qos::to_yaml(&[Qos {
                reliability: Reliability::Reliable,
                durability: Durability::TransientLocal,
                depth: 1,
            }])
        });
        let channel = Arc::new(ChannelInfo {
            id: self.connections.len() as u16,
            topic: topic.to_string(),
            ros_type,
            definition,
            qos_yaml,
            timestamp_source: None,
        });
        self.connections.insert(id, Connection { channel, ty });
        Ok(())
    }

    fn message(&mut self, f: &Fields<'_>, data: &[u8]) -> Result<(), BagError> {
        let id = f
            .u32("conn")
            .map_err(|e| self.invalid(&format!("message: {e}")))?;
        let time = f
            .time_ns("time")
            .map_err(|e| self.invalid(&format!("message: {e}")))?;
        let Some(c) = self.connections.get(&id) else {
            return Err(self.invalid(&format!(
                "a message at {time} ns names connection {id}, which no record before it defines"
            )));
        };
        let cdr = c.ty.to_cdr(data).map_err(|e| BagError::Invalid {
            path: self.path.clone(),
            reason: format!(
                "topic {} ({}): the message at {time} ns does not match its definition: {e}",
                c.channel.topic, c.channel.ros_type
            ),
        })?;
        self.pending.push_back(BagMessage {
            channel: c.channel.clone(),
            log_time: time,
            data: Bytes::from(cdr),
        });
        Ok(())
    }
}

impl Iterator for Ros1Reader {
    type Item = Result<BagMessage, BagError>;
    fn next(&mut self) -> Option<Self::Item> {
        if let Err(e) = self.fill() {
            self.end.get_or_insert(End::Complete);
            return Some(Err(e));
        }
        self.pending.pop_front().map(Ok)
    }
}

/// The number of messages the bag's index counts (`None` for a bag without an index).
pub fn message_count(path: &Path) -> Result<Option<u64>, BagError> {
    let mut r = Ros1Reader::open(path)?;
    if r.index_pos == 0 || r.index_pos >= r.file_bytes {
        return Ok(None);
    }
    r.file
        .seek(SeekFrom::Start(r.index_pos))
        .map_err(BagError::io(path))?;
    r.pos = r.index_pos;
    let mut total = 0u64;
    loop {
        // Chunk info records are skipped by `record`: read their data here.
        let mut len = [0u8; 4];
        if r.pos >= r.file_bytes || r.file.read_exact(&mut len).is_err() {
            return Ok(Some(total));
        }
        let hlen = u32::from_le_bytes(len) as usize;
        let mut header = vec![0u8; hlen];
        r.file.read_exact(&mut header).map_err(BagError::io(path))?;
        r.file.read_exact(&mut len).map_err(BagError::io(path))?;
        let dlen = u32::from_le_bytes(len) as usize;
        let mut data = vec![0u8; dlen];
        r.file.read_exact(&mut data).map_err(BagError::io(path))?;
        r.pos += (8 + hlen + dlen) as u64;
        let f = Fields::parse(&header).map_err(|e| r.invalid(&e))?;
        if f.op() == Ok(OP_CHUNK_INFO) {
            // data: (conn u32, count u32) per connection in the chunk
            total += data
                .chunks_exact(8)
                .map(|p| u64::from(le_u32(p, 4).expect("8 bytes")))
                .sum::<u64>();
        }
    }
}
