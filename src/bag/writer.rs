//! One MCAP segment of a rosbag2 bag. Chunks are buffered in memory and written whole
//! (`disable_seeking`), so the file on disk is always a readable prefix: a reader following it, or
//! recovery after a crash, sees complete chunks and at most a torn last one.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::{qos, BagError, MESSAGE_ENCODING, PROFILE, QOS_KEY, SCHEMA_ENCODING, TIMESTAMP_KEY};
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
    /// Messages (per channel) and bytes of the open chunk, not yet handed to the OS.
    buffered: BTreeMap<u16, u64>,
    buffered_bytes: u64,
}

/// Messages per topic of a chunk that was written (or lost).
pub type ChunkCounts = BTreeMap<String, u64>;

impl SegmentWriter {
    /// Creates `path` (which must not exist) with the recorder's `facts` as a metadata record.
    pub fn create(path: &Path, facts: &BTreeMap<String, String>) -> Result<Self, BagError> {
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
            // Chunks are closed by `flush` only, so the caller knows what reached the file.
            .chunk_size(None)
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
            buffered: BTreeMap::new(),
            buffered_bytes: 0,
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
        timestamp_source: Option<&str>,
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
        if let Some(t) = timestamp_source {
            meta.insert(TIMESTAMP_KEY.to_string(), t.to_string());
        }
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
        *self.buffered.entry(channel).or_default() += 1;
        self.buffered_bytes += data.len() as u64;
        let s = &mut self.stats;
        s.messages += 1;
        s.bytes += data.len() as u64;
        s.span = Some(match s.span {
            None => (log_time, log_time),
            Some((a, b)) => (a.min(log_time), b.max(log_time)),
        });
        Ok(())
    }

    /// Message bytes in the open chunk.
    pub fn buffered_bytes(&self) -> u64 {
        self.buffered_bytes
    }

    fn take_buffered(&mut self) -> ChunkCounts {
        self.buffered_bytes = 0;
        std::mem::take(&mut self.buffered)
            .into_iter()
            .map(|(id, n)| (self.topics[&id].topic.clone(), n))
            .collect()
    }

    /// Closes the open chunk and hands it to the OS: readers of the file see it now. Returns the
    /// messages of that chunk, per topic; on failure they are in the error's second half (lost:
    /// the file ends at the chunk before).
    pub fn flush(&mut self) -> Result<ChunkCounts, (BagError, ChunkCounts)> {
        let r = self.mcap.flush().map_err(BagError::mcap(&self.path));
        let counts = self.take_buffered();
        match r {
            Ok(()) => Ok(counts),
            Err(e) => Err((e, counts)),
        }
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

    /// Writes the last chunk, the summary and end magic, and hands the file to the OS; the
    /// returned handle syncs it to disk (left to the caller, so sealing never waits for the disk).
    /// Returns the last chunk's messages, or with the error those that were lost.
    pub fn finish(mut self) -> Result<(ChunkCounts, File), (BagError, ChunkCounts)> {
        let last = self.flush()?;
        self.mcap
            .finish()
            .map_err(|e| (BagError::mcap(&self.path)(e), ChunkCounts::new()))?;
        drop(self.mcap);
        Ok((last, self.sync))
    }
}
