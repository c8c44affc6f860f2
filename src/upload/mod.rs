//! Everything that turns recorded bytes into committed parts on a Mosaico server.
//!
//! * [`pipe`]: one topic's conversion (adapters in the worker pool) and upload.
//! * [`engine`]: a source of bag messages → per-topic pipes → one part. Import, the live uploader,
//!   crash recovery and `spool upload` all run it.
//! * [`parts`]: how parts are named, and whether one is already on the server (idempotency).
//! * [`spool_dir`]: the spool's layout on disk; [`follow`]: following a segment being written.
//! * [`uploader`]: the background loop that uploads the spool, oldest first, through outages.

pub mod engine;
pub mod follow;
pub mod latency;
pub mod parts;
pub mod pipe;
pub mod spool_dir;
pub mod uploader;

pub use engine::{is_fault, Abort, EngineReport, Selection, Target};
pub use uploader::{UplinkStatus, UploadConfig, Uploader};
