//! Out of Mosaico: a stored sequence read back as ROS 2 messages.
//!
//! [`source`] resolves each stored topic to its ROS type, definition, recorded QoS and encoder, and
//! reads the sequence as one stream of CDR messages merged by time; [`export`] writes that stream to
//! a rosbag2 bag with the same segment writer the recorder's spool uses.

pub mod export;
pub mod source;

pub use export::{export, ExportOptions, ExportReport};
pub use source::{resolve_topic, ReplayTopic, TopicKind};
