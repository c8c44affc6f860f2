//! The control plane: connection set-up and metadata actions on their own channel.

pub mod channel;
pub mod plane;

pub use channel::{ConnectOptions, FlightChannel, FlightClient, Limits, ServerAddr, Tls};
pub use plane::{ControlPlane, RetryPolicy};
