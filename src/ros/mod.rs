//! ROS 2 messages into the Mosaico ontology.
//!
//! * [`cdr`]: the CDR (XCDR1) reader and writer every message goes through.
//! * [`msgs`]: Rust structs for the supported ROS 2 types, each with its type name and message
//!   definition, decoded from / encoded to raw CDR (encapsulation header included).
//! * [`adapters`]: one adapter per ROS type family, appending messages into column builders and
//!   finishing them into one Arrow batch in exactly the ontology schema of the generation in use;
//!   any other type is stored as a raw-CDR topic, never skipped.

pub mod adapters;
pub mod cdr;
pub mod msgs;

pub use adapters::{
    adapter_for, adapter_or_raw, adapter_with, raw_adapter, topic_metadata, Adapter,
    AdapterOptions, ImageCompression, RosTopicInfo, RAW_CLASS,
};
pub use cdr::{CdrCodec, CdrReader, CdrWriter, Endian};
pub use msgs::RosMessage;

/// Why a message could not be decoded or converted. The caller counts these per topic and goes on;
/// nothing here panics.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RosError {
    #[error("message of {len} bytes has no 4-byte CDR encapsulation header")]
    MissingHeader { len: usize },

    #[error(
        "unsupported CDR encapsulation kind {kind:#06x} (only plain CDR, little or big endian)"
    )]
    UnsupportedEncapsulation { kind: u16 },

    #[error("truncated CDR: {needed} bytes needed at offset {offset}, {remaining} left")]
    Truncated {
        offset: usize,
        needed: usize,
        remaining: usize,
    },

    #[error("CDR sequence of {len} elements at offset {offset} cannot fit in the {remaining} bytes left")]
    LengthOverflow {
        offset: usize,
        len: usize,
        remaining: usize,
    },

    #[error("invalid CDR string at offset {offset}: {reason}")]
    InvalidString { offset: usize, reason: &'static str },

    #[error("invalid {ros_type}: {detail}")]
    InvalidMessage {
        ros_type: &'static str,
        detail: String,
    },

    #[error("image compression failed: {0}")]
    Image(String),

    #[error("building the Arrow batch failed: {0}")]
    Arrow(String),
}

impl From<arrow::error::ArrowError> for RosError {
    fn from(e: arrow::error::ArrowError) -> Self {
        RosError::Arrow(e.to_string())
    }
}

impl From<RosError> for crate::error::Error {
    fn from(e: RosError) -> Self {
        crate::error::Error::Protocol {
            what: "ROS message conversion".into(),
            detail: e.to_string(),
        }
    }
}
