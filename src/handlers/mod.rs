//! The user-facing handles: the client, writers and readers.

pub mod client;
pub mod reader;
pub mod sequence_writer;
pub mod topic_writer;

pub use client::MosaicoClient;
pub use reader::{MergedRow, SequenceHandler, SequenceStream, TopicHandler};
pub use sequence_writer::{
    OnError, RawTopic, SequenceSummary, SequenceWriter, WriterOptions, WriterState,
};
pub use topic_writer::{TopicOptions, TopicSummary, TopicWriter};
