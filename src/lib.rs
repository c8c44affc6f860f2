//! mosaico_bridge: a Mosaico client (control, data and processing planes over Arrow Flight), a test
//! server that behaves like mosaicod, and the ROS 2 bridge built on them.

pub mod bag;
pub mod config;
pub mod control;
pub mod data;
pub mod demo;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod handlers;
pub mod import;
pub mod names;
pub mod ontology;
pub mod play;
pub mod processing;
pub mod protocol;
pub mod query;
pub mod record;
pub mod ros;
pub mod server;
pub mod transport;
pub mod upload;

pub use control::{ConnectOptions, ServerAddr, Tls};
pub use error::{Error, Result};
pub use handlers::{
    MergedRow, MosaicoClient, OnError, RawTopic, SequenceHandler, SequenceStream, SequenceSummary,
    SequenceWriter, TopicHandler, TopicOptions, TopicSummary, TopicWriter, WriterOptions,
    WriterState,
};
pub use ontology::{Ontology, SerializationFormat};
pub use protocol::{Generation, TimeRange};
pub use query::{Op, Query, QueryItem, SequenceFilter, TopicFilter};
