//! One MCAP segment of a rosbag2 bag. Chunks are buffered in memory and written whole
//! (`disable_seeking`), so the file on disk is always a readable prefix: a reader following it, or
//! recovery after a crash, sees complete chunks and at most a torn last one.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::{qos, BagError, MESSAGE_ENCODING, PROFILE, QOS_KEY, SCHEMA_ENCODING};
use crate::transport::Qos;

/// Name of the MCAP metadata record that carries the recorder's own facts about a segment.
pub const SEGMENT_METADATA: &str = "mosaico_bridge";

/// A topic of a segment, with its counts so far.
#[derive(Debug, Clone)]
pub struct SegmentTopic {
    pub topic: String,
    pub ros_type: String,
    pub offered: Vec<Qos>,
    pub messages: u64,
}

/// What a segment holds.
#[derive(Debug, Clone, Default)]
pub struct SegmentStats {
    pub messages: u64,
    /// Message bytes written (payloads, not the file size).
    pub bytes: u64,
    /// `[first, last]` log time in ns.
    pub span: Option<(u64, u64)>,
}

/// An MCAP file being written.
pub struct SegmentWriter {
    path: PathBuf,
    mcap: mcap::Writer<BufWriter<File>>,
    /// The same file, for `fsync` from another thread while writing goes on.
    sync: File,
    channels: HashMap<String, u16>,
    topics: BTreeMap<u16, SegmentTopic>,
    sequence: HashMap<u16, u32>,
    stats: SegmentStats,
}

impl SegmentWriter {
    /// Creates `path` (which must not exist) with the recorder's `facts` as a metadata record.
    pub fn create(
        path: &Path,
        chunk_bytes: u64,
        facts: &BTreeMap<String, String>,
    ) -> Result<Self, BagError> {
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(BagError::io(path))?;
        let sync = file.try_clone().map_err(BagError::io(path))?;
        let mut mcap = mcap::WriteOptions::new()
            .profile(PROFILE)
            .library(concat!("mosaico_bridge ", env!("CARGO_PKG_VERSION")))
            .compression(None)
            .chunk_size(Some(chunk_bytes))
            .disable_seeking(true)
            .create(BufWriter::with_capacity(1 << 20, file))
            .map_err(BagError::mcap(path))?;
        mcap.write_metadata(&mcap::records::Metadata {
            name: SEGMENT_METADATA.into(),
            metadata: facts.clone(),
        })
        .map_err(BagError::mcap(path))?;
        Ok(SegmentWriter {
            path: path.to_path_buf(),
            mcap,
            sync,
            channels: HashMap::new(),
            topics: BTreeMap::new(),
            sequence: HashMap::new(),
            stats: SegmentStats::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The channel of `topic`, added with its schema (the `ros2msg` definition) on first use.
    pub fn channel(
        &mut self,
        topic: &str,
        ros_type: &str,
        definition: &str,
        offered: &[Qos],
    ) -> Result<u16, BagError> {
        if let Some(id) = self.channels.get(topic) {
            return Ok(*id);
        }
        let schema = self
            .mcap
            .add_schema(ros_type, SCHEMA_ENCODING, definition.as_bytes())
            .map_err(BagError::mcap(&self.path))?;
        let mut meta = BTreeMap::new();
        meta.insert(QOS_KEY.to_string(), qos::to_yaml(offered));
        let id = self
            .mcap
            .add_channel(schema, topic, MESSAGE_ENCODING, &meta)
            .map_err(BagError::mcap(&self.path))?;
        self.channels.insert(topic.to_string(), id);
        self.topics.insert(
            id,
            SegmentTopic {
                topic: topic.to_string(),
                ros_type: ros_type.to_string(),
                offered: offered.to_vec(),
                messages: 0,
            },
        );
        Ok(id)
    }

    /// Appends one message (CDR with its encapsulation header) received at `log_time` ns.
    pub fn write(&mut self, channel: u16, log_time: u64, data: &[u8]) -> Result<(), BagError> {
        let seq = self.sequence.entry(channel).or_insert(0);
        *seq = seq.wrapping_add(1);
        self.mcap
            .write_to_known_channel(
                &mcap::records::MessageHeader {
                    channel_id: channel,
                    sequence: *seq,
                    log_time,
                    publish_time: log_time,
                },
                data,
            )
            .map_err(BagError::mcap(&self.path))?;
        if let Some(t) = self.topics.get_mut(&channel) {
            t.messages += 1;
        }
        let s = &mut self.stats;
        s.messages += 1;
        s.bytes += data.len() as u64;
        s.span = Some(match s.span {
            None => (log_time, log_time),
            Some((a, b)) => (a.min(log_time), b.max(log_time)),
        });
        Ok(())
    }

    /// Closes the open chunk and hands everything to the OS: readers of the file see it now.
    pub fn flush(&mut self) -> Result<(), BagError> {
        self.mcap.flush().map_err(BagError::mcap(&self.path))
    }

    /// A handle to `fsync` the file from another thread.
    pub fn sync_handle(&self) -> Result<File, BagError> {
        self.sync.try_clone().map_err(BagError::io(&self.path))
    }

    pub fn stats(&self) -> &SegmentStats {
        &self.stats
    }

    pub fn topics(&self) -> impl Iterator<Item = &SegmentTopic> {
        self.topics.values()
    }

    /// Writes the summary and end magic and hands the file to the OS; the returned handle syncs
    /// it to disk (left to the caller, so sealing never waits for the disk).
    pub fn finish(mut self) -> Result<(SegmentStats, File), BagError> {
        self.mcap.finish().map_err(BagError::mcap(&self.path))?;
        drop(self.mcap);
        Ok((self.stats, self.sync))
    }
}
