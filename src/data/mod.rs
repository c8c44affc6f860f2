//! The data plane: a pool of Flight connections; each topic's DoPut (and each DoGet) takes the
//! next connection round-robin, so large streams spread over several TCP connections.

pub mod get;
pub mod put;

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::control::channel::{ConnectOptions, FlightChannel, FlightClient, Limits, ServerAddr};
use crate::error::Result;

pub struct DataPlane {
    channels: Vec<FlightChannel>,
    limits: Limits,
    next: AtomicUsize,
}

impl DataPlane {
    /// Opens `n` connections (0 = one per core) in parallel.
    pub async fn connect(addr: &ServerAddr, opts: &ConnectOptions, n: usize, limits: Limits) -> Result<Self> {
        let n = if n == 0 { crate::control::channel::available_cores() } else { n };
        let channels = futures::future::try_join_all((0..n).map(|_| FlightChannel::connect(addr, opts))).await?;
        Ok(DataPlane { channels, limits, next: AtomicUsize::new(0) })
    }

    pub fn len(&self) -> usize {
        self.channels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }

    /// A client on the next connection of the round-robin.
    pub fn next_client(&self) -> FlightClient {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.channels.len();
        self.channels[i].client(self.limits)
    }
}
