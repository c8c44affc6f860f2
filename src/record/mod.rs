//! The recorder: ROS messages → byte-budgeted queues → adapters in the worker pool → topic writers.
//!
//! * [`queue`]: the per-topic byte-budgeted queue and its drop policies.
//! * [`pipe`]: one topic's conversion and upload (shared with the bag importer).
//! * [`session`]: a recording written in parts; [`live`]: a session on the live graph.
//! * [`qos`]: reader QoS adapted to the publishers; [`diagnostics`]: status on `/diagnostics`.
//! * [`node`]: the node: services, discovery, splits, faults, shutdown.

pub mod diagnostics;
pub mod live;
pub mod node;
pub mod pipe;
pub mod qos;
pub mod queue;
pub mod session;

pub use live::{LiveSession, SessionOutcome};
pub use node::{NodeReport, RecorderNode};
