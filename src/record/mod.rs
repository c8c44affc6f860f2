//! The recorder: live ROS intake into the spool, uploaded from there.
//!
//! ```text
//! ROS callback → queue (byte budget, drop policy) → spool segment on disk ─→ uploader → server
//! ```
//!
//! * [`queue`]: the per-topic byte-budgeted queue and its drop policies.
//! * [`spool`]: the live session's segments on disk (synced, split on clean time boundaries).
//! * [`spooled`]: a session on the live graph that records into the spool; the uploader
//!   ([`crate::upload`]) takes it from there.
//! * [`live`] and [`session`]: diskless mode (`spool.enabled: false`): messages go straight into
//!   parts held by the server until they are committed.
//! * [`qos`]: reader QoS adapted to the publishers; [`diagnostics`]: status on `/diagnostics`.
//! * [`node`]: the node: services, discovery, splits, faults, shutdown; [`notify`]: readiness for
//!   the service manager.

pub mod clock;
pub mod diagnostics;
pub mod live;
pub mod node;
pub mod notify;
pub mod qos;
pub mod queue;
pub mod session;
pub mod spool;
pub mod spooled;

pub use live::{LiveSession, SessionOutcome};
pub use node::{Ending, NodeReport, RecorderNode};
