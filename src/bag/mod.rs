//! rosbag2 bags, the on-disk format of the recorder's spool and of exported recordings: a bag
//! directory of MCAP segment files (profile `ros2`, `ros2msg` schemas, CDR messages, each channel's
//! `offered_qos_profiles`) with a `metadata.yaml`, so `ros2 bag`, Foxglove, rosbags and our own
//! `import` open it.
//!
//! * [`writer`]: one segment file, chunks closed on demand so a reader (or a crash) sees whole
//!   ones.
//! * [`reader`]: reads a segment front to back, following it while it grows, and stops cleanly at
//!   the last complete record of a cut file.
//! * [`metadata`]: `metadata.yaml`; [`qos`]: `offered_qos_profiles`.
//! * [`sqlite`]: rosbag2's sqlite3 storage (`.db3`), and [`ros1`]: ROS 1 bags (`.bag`, messages
//!   transcoded to CDR), read for `import`.

pub mod metadata;
pub mod qos;
pub mod reader;
pub mod ros1;
pub mod sqlite;
pub mod writer;

use std::path::PathBuf;

pub use metadata::{BagMetadata, FileInfo, TopicWithCount};
pub use reader::{BagMessage, ChannelInfo, SegmentReader, Tail};
pub use writer::SegmentWriter;

/// Why a bag could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum BagError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a readable MCAP file: {source}")]
    Mcap {
        path: PathBuf,
        #[source]
        source: mcap::McapError,
    },
    #[error("{path}: bad metadata.yaml: {source}")]
    Metadata {
        path: PathBuf,
        #[source]
        source: serde_yaml_ng::Error,
    },
    #[error("{path}: not a readable rosbag2 sqlite3 (.db3) file: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

impl BagError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> BagError {
        let path = path.into();
        move |source| BagError::Io { path, source }
    }
    pub(crate) fn mcap(path: impl Into<PathBuf>) -> impl FnOnce(mcap::McapError) -> BagError {
        let path = path.into();
        move |source| BagError::Mcap { path, source }
    }
}

/// The encoding of every message in a ROS 2 bag.
pub const MESSAGE_ENCODING: &str = "cdr";
/// The encoding of ROS 2 message definitions as schemas.
pub const SCHEMA_ENCODING: &str = "ros2msg";
/// MCAP profile of ROS 2 bags.
pub const PROFILE: &str = "ros2";
/// Channel metadata key holding the publishers' QoS as rosbag2's YAML.
pub const QOS_KEY: &str = "offered_qos_profiles";
/// Channel metadata key of the recorder's spool: what the topic's `timestamp_ns` is to be
/// (`sim_time`: log times are ROS simulated time; `header_stamp`), so whoever uploads the segment
/// applies the choice it was recorded with. ROS tools ignore it.
pub const TIMESTAMP_KEY: &str = "mosaico_bridge.timestamp_source";
