//! The recorder's configuration: one serde struct with named defaults, read from YAML in ROS
//! parameter form (`mosaico_bridge: ros__parameters: ...`) or plain, then overridden from the CLI.
//! A user's file is merged over the shipped config/record.yaml key by key (`merge`). Unknown keys
//! and bad values are errors that name the key.

mod load;
mod merge;
mod selection;
mod template;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::handlers::OnError;
use crate::ontology::SerializationFormat;

pub use load::{ConfigError, Overrides};
pub use selection::TopicMatcher;
pub use template::SequenceTemplate;

/// The shipped defaults, every key documented: what a user's file is merged over.
pub const SHIPPED_YAML: &str = include_str!("../../config/record.yaml");
pub const DEFAULT_SERVER: &str = "localhost:6726";
pub const DEFAULT_NODE_NAME: &str = "mosaico_bridge";
pub const DEFAULT_ROBOT_NAME: &str = "robot";
pub const DEFAULT_SEQUENCE_TEMPLATE: &str = "{robot}_{date}_{time}";
/// Per-topic queue between the ROS callback and the spool writer: it absorbs a stall of the disk
/// (about 1 s of 1080p at 30 Hz), not an outage, which the spool holds. Measured at the live
/// benchmark load: a 1 GiB total let the recorder grow by ~600 MB under CPU starvation; 256 MiB
/// dropped nothing.
pub const DEFAULT_QUEUE_BYTES_PER_TOPIC: u64 = 256 << 20;
pub const DEFAULT_QUEUE_BYTES_TOTAL: u64 = 512 << 20;
/// The server holds a topic in memory until its stream ends, and a part is the unit that is
/// retried after a fault: parts (one spool segment each) stay short.
pub const DEFAULT_SPLIT_MAX_DURATION_S: u64 = 300;
pub const DEFAULT_SPLIT_MAX_BYTES: u64 = 2 << 30;
/// A SIGKILL or power cut loses at most this much of what was received.
pub const DEFAULT_SPOOL_SYNC_INTERVAL_S: f64 = 1.0;
pub const DEFAULT_SPOOL_CHUNK_BYTES: u64 = 4 << 20;
/// Left free on the spool's filesystem for the rest of the robot.
pub const DEFAULT_SPOOL_MIN_FREE_BYTES: u64 = 1 << 30;
pub const DEFAULT_STOP_TIMEOUT_S: f64 = 20.0;
pub const DEFAULT_DIAGNOSTICS_PERIOD_S: f64 = 1.0;
pub const DEFAULT_JPEG_QUALITY: u8 = 90;
pub const DEFAULT_CONNECT_TIMEOUT_S: f64 = 10.0;
pub const DEFAULT_CALL_TIMEOUT_S: f64 = 60.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// Pure-Rust DDS (ros2-client): no ROS installation needed.
    #[default]
    Dds,
    /// rcl through r2r: needs a sourced ROS 2 and the `r2r` cargo feature.
    R2r,
}

/// What happens to a message that arrives when its topic's queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DropPolicy {
    /// Wait for room (backpressure into the middleware, which may then drop on its side).
    Block,
    /// Make room by discarding the oldest queued message.
    #[default]
    DropOldest,
    /// Discard the arriving message.
    DropNewest,
}

/// What the spool does when its quota or the disk is full. Segments already uploaded and kept
/// (`keep: keep`) are always deleted first, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// Refuse new messages (counted per topic as `spool_full`) until uploads free room.
    #[default]
    Stop,
    /// Delete the oldest segments not yet uploaded (their messages counted as lost) to keep
    /// recording the newest data.
    DeleteOldest,
}

/// What happens to a segment once the server confirmed its part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Keep {
    #[default]
    Delete,
    /// Keep the bag on the robot (deleted only to make room, oldest first).
    Keep,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SpoolConfig {
    /// `false`: no disk at all; parts live in memory until committed and a crash or an outage
    /// loses the current part (diskless robots only).
    pub enabled: bool,
    /// Empty: `$XDG_DATA_HOME/mosaico_bridge/spool` (`~/.local/share/mosaico_bridge/spool`).
    pub dir: String,
    /// Chunks are closed and the segment synced to disk at least this often.
    pub sync_interval_s: f64,
    /// MCAP chunk size (a chunk is also closed when it reaches this).
    pub chunk_bytes: u64,
    /// Quota for the whole spool directory; 0: none (only `min_free_bytes` applies).
    pub max_bytes: u64,
    /// Stop writing before the filesystem has less than this free.
    pub min_free_bytes: u64,
    pub when_full: WhenFull,
    pub keep: Keep,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            enabled: true,
            dir: String::new(),
            sync_interval_s: DEFAULT_SPOOL_SYNC_INTERVAL_S,
            chunk_bytes: DEFAULT_SPOOL_CHUNK_BYTES,
            max_bytes: 0,
            min_free_bytes: DEFAULT_SPOOL_MIN_FREE_BYTES,
            when_full: WhenFull::default(),
            keep: Keep::default(),
        }
    }
}

impl SpoolConfig {
    /// The spool directory.
    pub fn root(&self) -> PathBuf {
        if self.dir.is_empty() {
            crate::upload::spool_dir::default_root()
        } else {
            PathBuf::from(&self.dir)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    #[default]
    None,
    Png,
    Jpeg,
}

/// What a message's `timestamp_ns` is: its receive time (ROS time: simulated with
/// `use_sim_time`), or the stamp of its `std_msgs/Header`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Timestamp {
    #[default]
    Receive,
    Header,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reliability {
    Reliable,
    BestEffort,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    Volatile,
    TransientLocal,
}

/// `generation`: what the server says (`detect`), or one generation whatever it says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GenerationChoice {
    #[default]
    Detect,
    Legacy,
    Current,
}

impl GenerationChoice {
    /// The generation to force, if any.
    pub fn fixed(self) -> Option<crate::Generation> {
        match self {
            GenerationChoice::Detect => None,
            GenerationChoice::Legacy => Some(crate::Generation::Legacy),
            GenerationChoice::Current => Some(crate::Generation::Current),
        }
    }
}

impl From<Option<crate::Generation>> for GenerationChoice {
    fn from(g: Option<crate::Generation>) -> Self {
        match g {
            None => GenerationChoice::Detect,
            Some(crate::Generation::Legacy) => GenerationChoice::Legacy,
            Some(crate::Generation::Current) => GenerationChoice::Current,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RecordConfig {
    /// `HOST[:PORT]` or `grpc[+tls]://HOST[:PORT]`.
    pub server: String,
    /// Empty: no key (ROS parameters cannot be null).
    pub api_key: String,
    /// PEM file of a private CA; empty: system roots (for `grpc+tls://`).
    pub tls_ca: String,
    pub connect_timeout_s: f64,
    /// Longest one control call may take once connected.
    pub call_timeout_s: f64,
    /// gzip-compress requests (current-generation servers).
    pub gzip: bool,
    /// The protocol generation to speak, or `detect` it from the server.
    pub generation: GenerationChoice,
    pub backend: Backend,
    pub node_name: String,
    pub namespace: String,
    pub robot_name: String,
    pub sequence: SequenceConfig,
    pub topics: TopicSelection,
    /// Per-topic settings, keyed by any label (ROS parameter names cannot hold `/`).
    pub overrides: BTreeMap<String, TopicOverride>,
    pub images: ImageConfig,
    /// ROS simulated time (the standard ROS parameter): receive times are the last `/clock`
    /// received, as rosbag2's `--use-sim-time`; zero until the first one.
    pub use_sim_time: bool,
    /// Every topic's `timestamp_ns` without an override.
    pub timestamp: Timestamp,
    pub batch: BatchConfig,
    pub pool: PoolConfig,
    pub queue: QueueConfig,
    pub split: SplitConfig,
    pub spool: SpoolConfig,
    /// Diskless mode only (`spool.enabled: false`): what happens to a part a fault broke. With the
    /// spool, a broken part is uploaded again from disk.
    pub on_error: OnError,
    /// Start recording as soon as the node is up (else wait for `~/start`).
    pub autostart: bool,
    /// Longest a stop (service or signal) may take to flush and finalize.
    pub stop_timeout_s: f64,
    pub diagnostics_period_s: f64,
}

impl Default for RecordConfig {
    fn default() -> Self {
        RecordConfig {
            server: DEFAULT_SERVER.into(),
            api_key: String::new(),
            tls_ca: String::new(),
            connect_timeout_s: DEFAULT_CONNECT_TIMEOUT_S,
            call_timeout_s: DEFAULT_CALL_TIMEOUT_S,
            gzip: false,
            generation: GenerationChoice::Detect,
            backend: Backend::default(),
            node_name: DEFAULT_NODE_NAME.into(),
            namespace: String::new(),
            robot_name: DEFAULT_ROBOT_NAME.into(),
            sequence: SequenceConfig::default(),
            topics: TopicSelection::default(),
            overrides: BTreeMap::new(),
            images: ImageConfig::default(),
            use_sim_time: false,
            timestamp: Timestamp::Receive,
            batch: BatchConfig::default(),
            pool: PoolConfig::default(),
            queue: QueueConfig::default(),
            split: SplitConfig::default(),
            spool: SpoolConfig::default(),
            on_error: OnError::default(),
            autostart: true,
            stop_timeout_s: DEFAULT_STOP_TIMEOUT_S,
            diagnostics_period_s: DEFAULT_DIAGNOSTICS_PERIOD_S,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SequenceConfig {
    /// Placeholders: `{robot}`, `{host}`, `{date}` (YYYYMMDD, UTC), `{time}` (HHMMSS, UTC),
    /// `{counter}` (sessions since the node started, from 1).
    pub template: String,
    /// A fixed name instead of the template (one session only: a name is used once).
    pub name: String,
    /// User metadata of every sequence; host, bridge version, ROS distro and session id are added.
    pub metadata: Map<String, Value>,
}

impl Default for SequenceConfig {
    fn default() -> Self {
        SequenceConfig {
            template: DEFAULT_SEQUENCE_TEMPLATE.into(),
            name: String::new(),
            metadata: Map::new(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopicSelection {
    /// Record every topic in the graph (minus `exclude`), including ones that appear later.
    pub all: bool,
    /// Exact topic names.
    pub names: Vec<String>,
    /// Regular expressions matched against whole topic names.
    pub include: Vec<String>,
    /// Regular expressions of topics never recorded (applies to all three above).
    pub exclude: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopicOverride {
    /// The topic these settings apply to.
    pub topic: String,
    pub compression: Option<Compression>,
    pub jpeg_quality: Option<u8>,
    /// Forces the subscription's reliability instead of adapting to the publishers.
    pub reliability: Option<Reliability>,
    pub durability: Option<Durability>,
    /// Reader history depth.
    pub depth: Option<u32>,
    pub queue_bytes: Option<u64>,
    /// `header`: store at the header stamp (types that start with a `std_msgs/Header`).
    pub timestamp: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImageConfig {
    /// Compression of every image topic without an override.
    pub compression: Compression,
    pub jpeg_quality: u8,
    /// How image topics are stored. `default` is the fast choice on the legacy server, which
    /// ZSTD-22-compresses `image`-format topics at a few MB/s; readers do not care which.
    pub serialization_format: SerializationFormat,
}

impl Default for ImageConfig {
    fn default() -> Self {
        ImageConfig {
            compression: Compression::None,
            jpeg_quality: DEFAULT_JPEG_QUALITY,
            serialization_format: SerializationFormat::Default,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    /// Bytes per record batch; 0: the client's default (from the server's message limit).
    pub max_bytes: u64,
    /// Batches waiting for the network per topic; 0: the client's default.
    pub max_in_flight: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PoolConfig {
    /// Processing-plane workers; 0: one per core.
    pub workers: u32,
    /// Data-plane channels; 0: one per core.
    pub data_channels: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    pub max_bytes_per_topic: u64,
    pub max_bytes_total: u64,
    pub policy: DropPolicy,
}

impl Default for QueueConfig {
    fn default() -> Self {
        QueueConfig {
            max_bytes_per_topic: DEFAULT_QUEUE_BYTES_PER_TOPIC,
            max_bytes_total: DEFAULT_QUEUE_BYTES_TOTAL,
            policy: DropPolicy::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SplitConfig {
    /// Start a new part (and spool segment) after this long; 0: never.
    pub max_duration_s: u64,
    /// Start a new part after this many message bytes; 0: never.
    pub max_bytes: u64,
}

impl Default for SplitConfig {
    fn default() -> Self {
        SplitConfig {
            max_duration_s: DEFAULT_SPLIT_MAX_DURATION_S,
            max_bytes: DEFAULT_SPLIT_MAX_BYTES,
        }
    }
}

impl RecordConfig {
    /// The override for `topic`, if any.
    pub fn override_for(&self, topic: &str) -> Option<&TopicOverride> {
        self.overrides.values().find(|o| o.topic == topic)
    }

    pub fn api_key(&self) -> Option<&str> {
        Some(self.api_key.as_str()).filter(|k| !k.is_empty())
    }

    pub fn tls_ca(&self) -> Option<PathBuf> {
        Some(&self.tls_ca)
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    }
}
