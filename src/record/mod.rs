//! The recorder: ROS messages → byte-budgeted queues → adapters in the worker pool → topic writers.

pub mod pipe;
pub mod queue;
pub mod session;
