//! What `import` reads: one storage file (rosbag2 MCAP, rosbag2 sqlite3 `.db3`, ROS 1 `.bag`,
//! told apart by their first bytes, not their names) or a rosbag2 bag directory (its
//! `metadata.yaml`'s files in order, a split bag becoming one sequence), as one stream of CDR
//! messages for the upload engine.
//!
//! Channels are keyed by topic across files and connections (split bags number them per file; a
//! ROS 1 bag has a connection per publisher), so each topic is one Mosaico topic.

use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use crate::bag::reader::{End, Sealed};
use crate::bag::ros1::{self, Ros1Reader};
use crate::bag::sqlite::{self, Db3Reader};
use crate::bag::{metadata, BagError, BagMessage, ChannelInfo, SegmentReader};
use crate::error::{Error, Result};
use crate::upload::engine::Source;

/// MCAP's magic, at the start and (once the file is complete) the end of every MCAP file.
pub(crate) const MCAP_MAGIC: &[u8] = b"\x89MCAP0\r\n";
/// zstd's frame magic (rosbag2's file compression).
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// What `import` accepts, for error messages.
pub const ACCEPTED: &str = "a rosbag2 bag directory (with or without metadata.yaml), a rosbag2 \
     .mcap or sqlite3 .db3 file, or a ROS 1 .bag file (format 2.0)";

/// The storage format of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Mcap,
    Db3,
    Ros1,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Mcap => "rosbag2 MCAP",
            Format::Db3 => "rosbag2 sqlite3",
            Format::Ros1 => "ROS 1 bag",
        }
    }
}

/// One storage file of the bag.
#[derive(Debug, Clone)]
pub struct BagFile {
    pub path: PathBuf,
    pub format: Format,
    /// The file is zstd-compressed as a whole (rosbag2 `compression_mode: file`).
    pub zstd_file: bool,
}

/// The files of a bag and what was noticed opening it.
#[derive(Debug, Clone)]
pub struct BagPlan {
    pub files: Vec<BagFile>,
    /// Each message is zstd-compressed (rosbag2 `compression_mode: message`).
    pub zstd_messages: bool,
    /// The message count `metadata.yaml` gives, when it does.
    pub listed_messages: Option<u64>,
    /// Things the user should know (files taken in name order, definitions missing, ...).
    pub notes: Vec<String>,
}

fn not_a_bag(path: &Path, why: &str) -> Error {
    Error::Config(format!(
        "{} is not a bag this tool reads ({why}); accepted: {ACCEPTED}",
        path.display()
    ))
}

/// The format of a storage file, from its first bytes.
pub fn detect(path: &Path) -> Result<(Format, bool)> {
    let mut head = [0u8; 16];
    let mut f = std::fs::File::open(path)
        .map_err(|e| Error::Config(format!("cannot open {}: {e}", path.display())))?;
    let mut n = 0;
    while n < head.len() {
        match f.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) => {
                return Err(Error::Config(format!(
                    "cannot read {}: {e}",
                    path.display()
                )))
            }
        }
    }
    let head = &head[..n];
    if head.starts_with(ZSTD_MAGIC) {
        // rosbag2's file compression: the format is the name's before `.zstd`.
        let inner = path.file_stem().map(Path::new).and_then(|p| p.extension());
        let format = match inner.and_then(|e| e.to_str()) {
            Some("mcap") => Format::Mcap,
            Some("db3") => Format::Db3,
            _ => {
                return Err(not_a_bag(
                    path,
                    "a zstd file whose name is not *.mcap.zstd or *.db3.zstd",
                ))
            }
        };
        return Ok((format, true));
    }
    let format = if head.starts_with(MCAP_MAGIC) {
        Format::Mcap
    } else if head.starts_with(sqlite::MAGIC) {
        Format::Db3
    } else if head.starts_with(ros1::MAGIC) {
        Format::Ros1
    } else if head.starts_with(b"#ROSBAG V") {
        return Err(not_a_bag(
            path,
            "a ROS 1 bag of a format older than 2.0: migrate it with `rosbag fix`",
        ));
    } else if n == 0 {
        return Err(not_a_bag(path, "an empty file"));
    } else {
        return Err(not_a_bag(
            path,
            "not MCAP, SQLite or a ROS 1 bag by its first bytes",
        ));
    };
    Ok((format, false))
}

/// The files of the bag at `path` (a file or a bag directory), in the order to read them.
pub fn plan(path: &Path) -> Result<BagPlan> {
    let mut notes = Vec::new();
    if !path.is_dir() {
        let (format, zstd_file) = detect(path)?;
        return Ok(BagPlan {
            files: vec![BagFile {
                path: path.to_path_buf(),
                format,
                zstd_file,
            }],
            zstd_messages: false,
            listed_messages: None,
            notes,
        });
    }
    let meta_path = path.join(metadata::FILE_NAME);
    let (names, listed, mode, compression) = if meta_path.exists() {
        let m = crate::bag::BagMetadata::read_files(path)?;
        if m.relative_file_paths.is_empty() {
            return Err(Error::Config(format!(
                "{}: metadata.yaml lists no storage files (relative_file_paths is empty)",
                path.display()
            )));
        }
        let mut files = Vec::new();
        for rel in &m.relative_file_paths {
            // Old rosbag2 releases wrote paths with the bag directory in front.
            let direct = path.join(rel);
            let by_name = Path::new(rel).file_name().map(|n| path.join(n));
            let found = if direct.is_file() {
                direct
            } else if let Some(p) = by_name.filter(|p| p.is_file()) {
                p
            } else {
                return Err(Error::Config(format!(
                    "{}: metadata.yaml lists {rel}, which is not in the directory",
                    path.display()
                )));
            };
            files.push(found);
        }
        let listed = (m.message_count > 0).then_some(m.message_count);
        (
            files,
            listed,
            m.compression_mode.to_ascii_lowercase(),
            m.compression_format,
        )
    } else {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| Error::Config(format!("cannot list {}: {e}", path.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && matches!(p.extension().and_then(|e| e.to_str()), Some("mcap" | "db3"))
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(not_a_bag(
                path,
                "a directory without metadata.yaml, .mcap or .db3 files",
            ));
        }
        let names: Vec<String> = files
            .iter()
            .map(|p| {
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        notes.push(format!(
            "{} has no metadata.yaml: importing its {} storage file(s) in name order: {}",
            path.display(),
            files.len(),
            names.join(", ")
        ));
        (files, None, String::new(), String::new())
    };
    let zstd_messages = mode == "message";
    if matches!(mode.as_str(), "message" | "file") && compression != "zstd" {
        return Err(Error::Config(format!(
            "{}: metadata.yaml says compression_format `{compression}` (mode {mode}): only zstd is read",
            path.display()
        )));
    }
    let mut files = Vec::new();
    for p in names {
        let (format, zstd_file) = detect(&p)?;
        if format == Format::Ros1 {
            return Err(Error::Config(format!(
                "{} is a ROS 1 bag inside a rosbag2 directory: import it on its own",
                p.display()
            )));
        }
        files.push(BagFile {
            path: p,
            format,
            zstd_file,
        });
    }
    Ok(BagPlan {
        files,
        zstd_messages,
        listed_messages: listed,
        notes,
    })
}

impl BagPlan {
    /// The bag's message count: metadata.yaml's, else each file's own (MCAP summary, sqlite
    /// count, ROS 1 index); `None` when a file does not say.
    pub fn count_messages(&self) -> Result<Option<u64>> {
        if let Some(n) = self.listed_messages {
            return Ok(Some(n));
        }
        let mut total = 0;
        for f in &self.files {
            if f.zstd_file {
                return Ok(None);
            }
            let n = match f.format {
                Format::Mcap => mcap_count(&f.path)?,
                Format::Db3 => Some(sqlite::message_count(&f.path)?),
                Format::Ros1 => ros1::message_count(&f.path)?,
            };
            match n {
                Some(n) => total += n,
                None => return Ok(None),
            }
        }
        Ok(Some(total))
    }

    /// Checks every file can be opened as its format says, before anything is created; adds
    /// what the files lack to the notes.
    pub fn check(&mut self) -> Result<()> {
        for f in self.files.clone() {
            if f.zstd_file {
                continue; // checked once decompressed
            }
            match f.format {
                Format::Mcap => {
                    mcap_count(&f.path)?;
                }
                Format::Db3 => {
                    if sqlite::info(&f.path)?.definitions_missing {
                        self.notes.push(format!(
                            "{} holds no message definitions (rosbag2 before Iron): topics stored as raw CDR get the built-in ROS 2 definition of their type if there is one, else none",
                            f.path.display()
                        ));
                    }
                }
                Format::Ros1 => {
                    Ros1Reader::open(&f.path)?;
                }
            }
        }
        Ok(())
    }
}

fn mcap_count(path: &Path) -> Result<Option<u64>> {
    let f = std::fs::File::open(path)
        .map_err(|e| Error::Config(format!("cannot open bag {}: {e}", path.display())))?;
    // SAFETY: the map is read-only and the bag is not expected to change while it is imported.
    let map = unsafe { memmap2::Mmap::map(&f) }
        .map_err(|e| Error::Config(format!("cannot map bag {}: {e}", path.display())))?;
    let summary = mcap::read::Summary::read(&map).map_err(|e| {
        Error::Config(format!(
            "{} is not a readable MCAP bag: {e}",
            path.display()
        ))
    })?;
    Ok(summary.and_then(|s| s.stats).map(|s| s.message_count))
}

enum Reader {
    Mcap(Box<SegmentReader>),
    Db3(Db3Reader),
    Ros1(Ros1Reader),
}

impl Reader {
    fn next(&mut self) -> Option<std::result::Result<BagMessage, BagError>> {
        match self {
            Reader::Mcap(r) => r.next(),
            Reader::Db3(r) => r.next(),
            Reader::Ros1(r) => r.next(),
        }
    }
    fn end(&self) -> Option<&End> {
        match self {
            Reader::Mcap(r) => r.end(),
            Reader::Db3(_) => None,
            Reader::Ros1(r) => r.end(),
        }
    }
}

/// A zstd-compressed storage file decompressed beside the temporary directory; removed on drop.
struct Decompressed(PathBuf);

impl Drop for Decompressed {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn decompress(path: &Path) -> std::result::Result<Decompressed, BagError> {
    let name = path.file_stem().unwrap_or_default().to_string_lossy();
    let out = std::env::temp_dir().join(format!("mosaico-import-{}-{name}", ulid::Ulid::new()));
    let guard = Decompressed(out.clone());
    let input = std::fs::File::open(path).map_err(BagError::io(path))?;
    let mut dec = zstd::stream::read::Decoder::new(input).map_err(BagError::io(path))?;
    let mut file = std::fs::File::create(&out).map_err(BagError::io(&out))?;
    std::io::copy(&mut dec, &mut file).map_err(BagError::io(path))?;
    Ok(guard)
}

/// The messages of every file of a bag, in order, one channel per topic.
pub struct BagSource {
    files: VecDeque<BagFile>,
    /// Index of the current file, for channel keys.
    file_no: usize,
    current: Option<(Reader, Option<Decompressed>)>,
    zstd_messages: bool,
    by_topic: HashMap<String, Arc<ChannelInfo>>,
    by_channel: HashMap<(usize, u16), Arc<ChannelInfo>>,
    cuts: Vec<String>,
}

impl BagSource {
    pub fn new(plan: &BagPlan) -> Self {
        BagSource {
            files: plan.files.iter().cloned().collect(),
            file_no: 0,
            current: None,
            zstd_messages: plan.zstd_messages,
            by_topic: HashMap::new(),
            by_channel: HashMap::new(),
            cuts: Vec::new(),
        }
    }

    fn open_next(&mut self) -> Option<std::result::Result<(), BagError>> {
        let f = self.files.pop_front()?;
        self.file_no += 1;
        let open = || -> std::result::Result<(Reader, Option<Decompressed>), BagError> {
            let temp = if f.zstd_file {
                Some(decompress(&f.path)?)
            } else {
                None
            };
            let path = temp
                .as_ref()
                .map(|t| t.0.clone())
                .unwrap_or_else(|| f.path.clone());
            let reader = match f.format {
                Format::Mcap => {
                    Reader::Mcap(Box::new(SegmentReader::open(&path, Box::new(Sealed))?))
                }
                Format::Db3 => Reader::Db3(Db3Reader::open(&path, &sqlite::info(&path)?)?),
                Format::Ros1 => Reader::Ros1(Ros1Reader::open(&path)?),
            };
            Ok((reader, temp))
        };
        Some(open().map(|r| self.current = Some(r)))
    }

    /// The channel `c` of the current file stands for: one per topic across files.
    fn channel(&mut self, c: &Arc<ChannelInfo>) -> std::result::Result<Arc<ChannelInfo>, BagError> {
        if let Some(x) = self.by_channel.get(&(self.file_no, c.id)) {
            return Ok(x.clone());
        }
        let next_id = self.by_topic.len() as u16;
        let canon = self
            .by_topic
            .entry(c.topic.clone())
            .or_insert_with(|| {
                Arc::new(ChannelInfo {
                    id: next_id,
                    ..(**c).clone()
                })
            })
            .clone();
        if canon.ros_type != c.ros_type {
            return Err(BagError::Invalid {
                path: self.current_path(),
                reason: format!(
                    "topic {} has two types, {} and {}: a Mosaico topic holds one type",
                    c.topic, canon.ros_type, c.ros_type
                ),
            });
        }
        self.by_channel.insert((self.file_no, c.id), canon.clone());
        Ok(canon)
    }

    fn current_path(&self) -> PathBuf {
        match &self.current {
            Some((Reader::Mcap(r), _)) => r.path().to_path_buf(),
            Some((Reader::Db3(r), _)) => r.path().to_path_buf(),
            Some((Reader::Ros1(r), _)) => r.path().to_path_buf(),
            None => PathBuf::new(),
        }
    }
}

impl Iterator for BagSource {
    type Item = std::result::Result<BagMessage, BagError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.current.is_none() {
                if let Err(e) = self.open_next()? {
                    return Some(Err(e));
                }
            }
            let (reader, _) = self.current.as_mut().expect("a file is open");
            match reader.next() {
                Some(Ok(mut m)) => {
                    m.channel = match self.channel(&m.channel) {
                        Ok(c) => c,
                        Err(e) => return Some(Err(e)),
                    };
                    if self.zstd_messages {
                        match zstd::stream::decode_all(&m.data[..]) {
                            Ok(d) => m.data = Bytes::from(d),
                            Err(e) => {
                                return Some(Err(BagError::Invalid {
                                    path: self.current_path(),
                                    reason: format!(
                                        "a zstd-compressed message of {} at {} ns does not decompress: {e}",
                                        m.channel.topic, m.log_time
                                    ),
                                }))
                            }
                        }
                    }
                    return Some(Ok(m));
                }
                Some(Err(e)) => return Some(Err(e)),
                None => {
                    let cut = reader.end().and_then(End::cut);
                    if let Some(cut) = cut {
                        let path = self.current_path();
                        self.cuts.push(format!("{}: {cut}", path.display()));
                    }
                    self.current = None;
                }
            }
        }
    }
}

impl Source for BagSource {
    fn cut(&self) -> Option<String> {
        (!self.cuts.is_empty()).then(|| self.cuts.join("; "))
    }
}
