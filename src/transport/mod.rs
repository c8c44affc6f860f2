//! The ROS 2 boundary: subscribe and publish raw CDR (encapsulation header included), discover the
//! graph, and serve the node's Trigger services. Decoding lives in [`crate::ros`], once, for every
//! backend.
//!
//! * [`dds`]: pure-Rust DDS (ros2-client on RustDDS), the default; no ROS installation needed.
//! * `r2r` (cargo feature `r2r`): rcl through r2r, for robots with a sourced ROS 2.
//! * [`memory`]: an in-process graph with no network at all, for the embedded demo and for tests of
//!   the recorder's logic.

pub mod dds;
pub mod memory;
#[cfg(feature = "r2r")]
pub mod r2r;

use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

pub use crate::config::{Durability, Reliability};

/// Nanoseconds since the Unix epoch, the recorder's clock (`timestamp_ns`).
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// The QoS of a reader or writer, as far as recording needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Qos {
    pub reliability: Reliability,
    pub durability: Durability,
    /// Keep-last history depth.
    pub depth: u32,
}

impl Qos {
    /// ROS 2's default for subscriptions: reliable, volatile, keep last 10.
    pub const DEFAULT: Qos = Qos {
        reliability: Reliability::Reliable,
        durability: Durability::Volatile,
        depth: 10,
    };
    /// ROS 2's sensor-data profile: best effort, volatile, keep last 5.
    pub const SENSOR_DATA: Qos = Qos {
        reliability: Reliability::BestEffort,
        durability: Durability::Volatile,
        depth: 5,
    };
    /// `/tf_static`'s profile: reliable, transient local, keep last 1 (latched).
    pub const LATCHED: Qos = Qos {
        reliability: Reliability::Reliable,
        durability: Durability::TransientLocal,
        depth: 1,
    };
}

/// A publisher seen in the graph.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Publisher {
    /// The middleware's id of the writer (GUID as hex), unique in the graph.
    pub gid: String,
    /// Fully qualified name of the node that owns it, when the middleware says.
    pub node: Option<String>,
    pub qos: Qos,
}

/// A ROS topic that has at least one publisher.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphTopic {
    /// ROS name (`/camera/image_raw`), not the DDS name.
    pub name: String,
    /// ROS type name (`sensor_msgs/msg/Image`).
    pub ros_type: String,
    pub publishers: Vec<Publisher>,
}

/// One received message.
#[derive(Debug, Clone)]
pub struct RawMessage {
    /// Serialized CDR, 4-byte encapsulation header included.
    pub cdr: Bytes,
    /// When it was received, [`now_ns`] clock.
    pub received_ns: i64,
    /// The writer's gid, when known.
    pub publisher: Option<String>,
}

/// Called for each message of a subscription, on a thread of the backend. It may block (the
/// recorder's `block` queue policy): that is backpressure into the middleware, whose own history
/// then decides what is lost, so backends give each subscription its own delivery thread or task.
pub type OnMessage = Arc<dyn Fn(RawMessage) + Send + Sync>;

/// A live subscription; dropping it unsubscribes.
pub trait Subscription: Send + Sync {
    /// Messages the backend knows it lost before delivery (e.g. a full rcl channel), if it can tell.
    fn lost(&self) -> u64 {
        0
    }
}

/// A raw-CDR publisher; dropping it removes the writer.
pub trait RawPublisher: Send + Sync {
    /// Publishes serialized CDR with its encapsulation header.
    fn publish(&self, cdr: &[u8]) -> Result<(), TransportError>;
}

/// A call of a `std_srvs/srv/Trigger` service: answer with `(success, message)`.
#[derive(Debug)]
pub struct TriggerCall {
    pub respond: oneshot::Sender<(bool, String)>,
}

/// A request to the player's control services (`rosbag2_interfaces/srv/*`, as `ros2 bag play`
/// serves them, Jazzy's layouts; Humble's are the same without `Stop`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PlayerRequest {
    Pause,
    Resume,
    TogglePaused,
    IsPaused,
    GetRate,
    SetRate(f64),
    PlayNext,
    /// Messages to publish at once (0: the rest of the recording).
    Burst(u64),
    /// Recording time to go to (ns since the epoch).
    Seek(i64),
    Stop,
}

impl PlayerRequest {
    /// Every service, by its name under the node and its `rosbag2_interfaces/srv` type, with the
    /// request it makes when its request carries no value.
    pub const SERVICES: [(&'static str, &'static str); 10] = [
        ("pause", "Pause"),
        ("resume", "Resume"),
        ("toggle_paused", "TogglePaused"),
        ("is_paused", "IsPaused"),
        ("get_rate", "GetRate"),
        ("set_rate", "SetRate"),
        ("play_next", "PlayNext"),
        ("burst", "Burst"),
        ("seek", "Seek"),
        ("stop", "Stop"),
    ];
}

/// The answer to a [`PlayerRequest`]: `Done` for the services whose response is empty, the value
/// for the others (`is_paused`: `Flag`; `get_rate`: `Rate`; `set_rate`, `play_next`, `seek`:
/// `Flag` = success; `burst`: `Count`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PlayerReply {
    Done,
    Flag(bool),
    Rate(f64),
    Count(u64),
}

/// A call of a player service.
#[derive(Debug)]
pub struct PlayerCall {
    pub request: PlayerRequest,
    pub respond: oneshot::Sender<PlayerReply>,
}

/// What a backend must provide to record and replay.
pub trait Transport: Send + Sync {
    /// `dds`, `r2r` or `memory`.
    fn backend(&self) -> &'static str;

    /// The node's fully qualified name (`/ns/mosaico_bridge`).
    fn node_name(&self) -> String;

    /// Topics that currently have publishers, with each publisher's QoS. Topics of this node's own
    /// writers are included; the caller filters.
    fn graph(&self) -> Vec<GraphTopic>;

    /// Subscribes to `topic` (ROS name) of `ros_type`, delivering every message to `on_message`.
    fn subscribe(
        &self,
        topic: &str,
        ros_type: &str,
        qos: Qos,
        on_message: OnMessage,
    ) -> Result<Box<dyn Subscription>, TransportError>;

    /// A raw publisher on `topic` of `ros_type`.
    fn publisher(
        &self,
        topic: &str,
        ros_type: &str,
        qos: Qos,
    ) -> Result<Box<dyn RawPublisher>, TransportError>;

    /// Serves the `std_srvs/srv/Trigger` service `name` (relative names such as `~/start` resolve
    /// under the node); each call arrives on the returned channel.
    fn trigger_service(&self, name: &str) -> Result<mpsc::Receiver<TriggerCall>, TransportError>;

    /// Serves the player's `rosbag2_interfaces` services ([`PlayerRequest::SERVICES`]) under the
    /// node (`~/pause`, ...); every call arrives on `calls`.
    fn player_services(&self, calls: mpsc::Sender<PlayerCall>) -> Result<(), TransportError> {
        drop(calls);
        Err(TransportError::Service {
            service: format!("{}/pause", self.node_name()),
            reason: format!(
                "the {} backend does not serve rosbag2_interfaces services yet (the dds backend does)",
                self.backend()
            ),
        })
    }
}

/// Why the ROS side failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("the {backend} ROS backend could not start: {reason}")]
    Start {
        backend: &'static str,
        reason: String,
    },

    #[error("cannot subscribe to {topic} ({ros_type}): {reason}")]
    Subscribe {
        topic: String,
        ros_type: String,
        reason: String,
    },

    #[error("cannot publish on {topic}: {reason}")]
    Publish { topic: String, reason: String },

    #[error("cannot serve {service}: {reason}")]
    Service { service: String, reason: String },

    #[error("invalid ROS name {name:?}: {reason}")]
    InvalidName { name: String, reason: String },

    #[error("the {0} backend is not built into this binary: rebuild with `--features {0}`")]
    NotBuilt(&'static str),
}

impl From<TransportError> for crate::error::Error {
    fn from(e: TransportError) -> Self {
        crate::error::Error::Ros(e.to_string())
    }
}

/// Resolves a topic or service name against the node's namespace and name (ROS 2 rules): `~/x` is
/// under the node, `x` under the namespace, `/x` is absolute.
pub fn resolve_name(namespace: &str, node: &str, name: &str) -> Result<String, TransportError> {
    let bad = |reason: &str| TransportError::InvalidName {
        name: name.to_string(),
        reason: reason.to_string(),
    };
    let ns = namespace.trim_end_matches('/');
    let full = if let Some(rest) = name.strip_prefix("~/") {
        format!("{ns}/{node}/{rest}")
    } else if name == "~" {
        format!("{ns}/{node}")
    } else if name.starts_with('/') {
        name.to_string()
    } else {
        format!("{ns}/{name}")
    };
    if full.len() < 2 || full.ends_with('/') || full.contains("//") {
        return Err(bad("empty segment"));
    }
    for seg in full[1..].split('/') {
        if seg.starts_with(|c: char| c.is_ascii_digit())
            || !seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(bad(
                "each segment needs letters, digits or '_' and must not start with a digit",
            ));
        }
    }
    Ok(full)
}

/// Opens the configured backend.
pub fn open(
    backend: crate::config::Backend,
    namespace: &str,
    node_name: &str,
) -> Result<Arc<dyn Transport>, TransportError> {
    match backend {
        crate::config::Backend::Dds => Ok(Arc::new(dds::DdsTransport::new(namespace, node_name)?)),
        #[cfg(feature = "r2r")]
        crate::config::Backend::R2r => Ok(Arc::new(r2r::R2rTransport::new(namespace, node_name)?)),
        #[cfg(not(feature = "r2r"))]
        crate::config::Backend::R2r => Err(TransportError::NotBuilt("r2r")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_like_ros() {
        assert_eq!(resolve_name("", "rec", "~/start").unwrap(), "/rec/start");
        assert_eq!(
            resolve_name("/r1", "rec", "~/start").unwrap(),
            "/r1/rec/start"
        );
        assert_eq!(resolve_name("/r1", "rec", "imu").unwrap(), "/r1/imu");
        assert_eq!(resolve_name("/r1", "rec", "/tf").unwrap(), "/tf");
        assert!(resolve_name("", "rec", "/a//b").is_err());
        assert!(resolve_name("", "rec", "/1abc").is_err());
        assert!(resolve_name("", "rec", "/a-b").is_err());
    }
}
