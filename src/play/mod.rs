//! Out of Mosaico: a stored sequence read back as ROS 2 messages.
//!
//! [`source`] resolves each stored topic to its ROS type, definition, recorded QoS and encoder, and
//! reads the sequence as one stream of CDR messages merged by time. [`export`] writes that stream
//! to a rosbag2 bag with the same segment writer the recorder's spool uses; the [`player`]
//! publishes it into ROS 2 on the recording's timing ([`timeline`]), fed by a byte-bounded
//! [`readahead`], with `ros2 bag play`'s [`options`].

pub mod export;
pub mod options;
pub mod player;
pub mod readahead;
pub mod source;
pub mod timeline;

pub use export::{export, ExportOptions, ExportReport};
pub use options::{PlayOptions, Selection};
pub use player::{PlayReport, Player, PlayerControl, Status};
pub use source::{resolve_topic, ReplayTopic, TopicKind};
pub use timeline::Rate;
