//! Reads a segment front to back with the mcap crate's I/O-free reader: it follows a file that is
//! still being written (waiting for more bytes until the writer says the segment is sealed) and
//! ends a cut file at its last complete record instead of failing, reporting where and why.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use mcap::sans_io::{LinearReaderOptions, MessageReadEvent, MessageReader};

use super::writer::SEGMENT_METADATA;
use super::{qos, BagError, QOS_KEY, SCHEMA_ENCODING};
use crate::transport::Qos;

/// A channel of a bag, as the upload needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelInfo {
    pub id: u16,
    pub topic: String,
    pub ros_type: String,
    /// The `ros2msg` definition, when the schema has one.
    pub definition: Option<String>,
    /// `offered_qos_profiles` as written (YAML).
    pub qos_yaml: Option<String>,
    /// The recorder's [`super::TIMESTAMP_KEY`], in its own spool's segments.
    pub timestamp_source: Option<String>,
}

impl ChannelInfo {
    pub fn offered(&self) -> Vec<Qos> {
        self.qos_yaml
            .as_deref()
            .map(qos::from_yaml)
            .unwrap_or_default()
    }
}

/// One message of a bag.
#[derive(Debug, Clone)]
pub struct BagMessage {
    pub channel: Arc<ChannelInfo>,
    pub log_time: u64,
    pub data: Bytes,
}

/// Whether a file may still grow: a segment being recorded is followed until it is sealed.
pub trait Tail: Send {
    /// `true` once nothing more will be written to the file.
    fn sealed(&self) -> bool;
    /// Waits a little for more bytes (returns early when some may have arrived).
    fn wait(&self);
}

/// A file nothing writes to any more.
pub struct Sealed;

impl Tail for Sealed {
    fn sealed(&self) -> bool {
        true
    }
    fn wait(&self) {}
}

/// How a segment's reading ended.
#[derive(Debug, Clone, PartialEq)]
pub enum End {
    /// The file is complete (summary and end magic).
    Complete,
    /// The file stops early (a crash or power cut): every complete record before the cut was read
    /// (about `readable_bytes` of the file).
    Cut {
        readable_bytes: u64,
        file_bytes: u64,
        reason: String,
    },
}

impl End {
    /// Where and why the file was cut, `None` when it is complete.
    pub fn cut(&self) -> Option<String> {
        match self {
            End::Complete => None,
            End::Cut {
                readable_bytes,
                file_bytes,
                reason,
            } => Some(format!(
                "cut at about byte {readable_bytes} of {file_bytes}: {reason}"
            )),
        }
    }
}

/// The largest record (or chunk) a segment may hold: 4 GiB, far above any ROS 2 message (CDR
/// counts in u32) or chunk a recorder writes. Without a limit, mcap 0.26 adds the 9-byte record
/// prefix to a torn length near `u64::MAX` and panics slicing the wrapped sum
/// (sans_io/linear_reader.rs:543; fuzz/regressions/mcap/); with one, such a record is an error
/// and the file reads as cut there.
const RECORD_LIMIT: usize = 4 << 30;

fn reader_options() -> LinearReaderOptions {
    LinearReaderOptions::default().with_record_length_limit(RECORD_LIMIT)
}

/// Reads the messages of one segment in file order.
pub struct SegmentReader {
    path: PathBuf,
    file: File,
    reader: MessageReader,
    tail: Box<dyn Tail>,
    channels: HashMap<u16, Arc<ChannelInfo>>,
    /// Bytes handed to the reader.
    consumed: u64,
    /// Bytes fed to the reader when it yielded its last message.
    good: u64,
    end: Option<End>,
}

impl SegmentReader {
    pub fn open(path: &Path, tail: Box<dyn Tail>) -> Result<Self, BagError> {
        let file = File::open(path).map_err(BagError::io(path))?;
        Ok(SegmentReader {
            path: path.to_path_buf(),
            file,
            reader: MessageReader::new_with_options(reader_options()),
            tail,
            channels: HashMap::new(),
            consumed: 0,
            good: 0,
            end: None,
        })
    }

    /// How the file ended, once `next` returned `None`.
    pub fn end(&self) -> Option<&End> {
        self.end.as_ref()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn channel(&mut self, c: &mcap::Channel<'static>) -> Arc<ChannelInfo> {
        self.channels
            .entry(c.id)
            .or_insert_with(|| {
                let schema = c.schema.as_ref();
                Arc::new(ChannelInfo {
                    id: c.id,
                    topic: c.topic.clone(),
                    ros_type: schema.map(|s| s.name.clone()).unwrap_or_default(),
                    definition: schema
                        .filter(|s| s.encoding == SCHEMA_ENCODING)
                        .map(|s| String::from_utf8_lossy(&s.data).into_owned()),
                    qos_yaml: c.metadata.get(QOS_KEY).cloned(),
                    timestamp_source: c.metadata.get(super::TIMESTAMP_KEY).cloned(),
                })
            })
            .clone()
    }

    /// The next message; `None` at the end (see [`Self::end`]). Errors are only I/O errors of the
    /// file itself: a cut or torn file ends the stream.
    pub fn next_message(&mut self) -> Option<Result<BagMessage, BagError>> {
        if self.end.is_some() {
            return None;
        }
        loop {
            match self.reader.next_event() {
                None => {
                    self.end = Some(End::Complete);
                    return None;
                }
                Some(Ok(MessageReadEvent::Message(m))) => {
                    self.good = self.consumed;
                    let channel = self.channel(&m.channel);
                    return Some(Ok(BagMessage {
                        channel,
                        log_time: m.log_time,
                        data: Bytes::from(m.data.into_owned()),
                    }));
                }
                Some(Ok(MessageReadEvent::ReadRequest(n))) => {
                    let n = n.clamp(64 << 10, 8 << 20);
                    loop {
                        let buf = self.reader.insert(n);
                        let got = match self.file.read(buf) {
                            Ok(g) => g,
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                            Err(e) => return Some(Err(BagError::io(&self.path)(e))),
                        };
                        if got > 0 {
                            self.consumed += got as u64;
                            self.reader.notify_read(got);
                            break;
                        }
                        // Nothing more yet: a sealed file is at its end; a growing one is waited for.
                        // Sealed is checked before the read above ran dry again, so no tail is lost.
                        if self.tail.sealed() {
                            let more = {
                                let buf = self.reader.insert(n);
                                self.file.read(buf).unwrap_or(0)
                            };
                            self.consumed += more as u64;
                            self.reader.notify_read(more);
                            break;
                        }
                        self.tail.wait();
                    }
                }
                Some(Err(e)) => {
                    let file_bytes = self.file.metadata().map(|m| m.len()).unwrap_or(0);
                    self.end = Some(End::Cut {
                        readable_bytes: self.good,
                        file_bytes,
                        reason: e.to_string(),
                    });
                    return None;
                }
            }
        }
    }
}

impl Iterator for SegmentReader {
    type Item = Result<BagMessage, BagError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_message()
    }
}

/// The recorder's facts of a segment (its metadata record), read from the file's start; `None`
/// when the file has none (not written by the recorder, or cut before it).
pub fn segment_facts(
    path: &Path,
) -> Result<Option<std::collections::BTreeMap<String, String>>, BagError> {
    use mcap::sans_io::{LinearReadEvent, LinearReader};
    let mut file = File::open(path).map_err(BagError::io(path))?;
    let mut r = LinearReader::new_with_options(reader_options());
    loop {
        match r.next_event() {
            None => return Ok(None),
            Some(Err(_)) => return Ok(None),
            Some(Ok(LinearReadEvent::ReadRequest(n))) => {
                let buf = r.insert(n.clamp(4096, 1 << 20));
                let got = file.read(buf).map_err(BagError::io(path))?;
                r.notify_read(got);
            }
            Some(Ok(LinearReadEvent::Record { opcode, data })) => {
                match mcap::parse_record(opcode, data) {
                    Ok(mcap::records::Record::Metadata(m)) if m.name == SEGMENT_METADATA => {
                        return Ok(Some(m.metadata))
                    }
                    // The metadata record comes right after the header: anything else first means
                    // there is none.
                    Ok(mcap::records::Record::Header(_)) => {}
                    _ => return Ok(None),
                }
            }
        }
    }
}

/// How long a follower sleeps when the file has no new bytes and no wake-up comes.
pub const FOLLOW_POLL: Duration = Duration::from_millis(50);
