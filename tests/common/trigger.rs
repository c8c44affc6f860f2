//! A ROS 2 caller of `std_srvs/srv/Trigger` services over ros2-client, as another node would call
//! the recorder's `~/start`, `~/stop`, `~/split`. The message types are declared here,
//! independently of the backend's own, so the tests check the wire format rather than assume it.
//! Open it only inside a loopback-only namespace (see `netns.rs`).
#![allow(dead_code)]

use std::time::Duration;

use ros2_client::qos::{History, QosProfile};
use ros2_client::{
    Client, Context, Name, Node, NodeName, NodeOptions, ServiceMapping, ServiceTypeName,
};
use serde::{Deserialize, Serialize};

/// How long discovery and a reply may take.
pub const PATIENCE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TriggerRequest {
    structure_needs_at_least_one_member: u8,
}
impl ros2_client::Message for TriggerRequest {}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TriggerResponse {
    pub success: bool,
    pub message: String,
}
impl ros2_client::Message for TriggerResponse {}

pub type TriggerClient = Client<TriggerRequest, TriggerResponse>;

/// A node that calls Trigger services (Enhanced mapping, as rmw_fastrtps).
pub struct Caller {
    pub node: Node,
    _context: Context,
}

impl Caller {
    /// A node `/<name>`, spun on its own thread.
    pub fn new(name: &str) -> Caller {
        let context = Context::new().unwrap();
        let mut node = context
            .new_node(NodeName::new("/", name).unwrap(), NodeOptions::new())
            .unwrap();
        let spinner = node.spinner().unwrap();
        std::thread::spawn(move || futures::executor::block_on(spinner.spin()));
        Caller {
            node,
            _context: context,
        }
    }

    /// A client of the service `service` (a resolved name such as `/r1/rec/start`).
    pub fn client(&mut self, service: &str) -> TriggerClient {
        let qos = QosProfile::publisher_default().history(History::KeepLast { depth: 10 });
        self.node
            .create_client::<TriggerRequest, TriggerResponse>(
                ServiceMapping::Enhanced,
                &Name::parse(service).unwrap(),
                &ServiceTypeName::new("std_srvs", "Trigger"),
                qos.clone(),
                qos,
            )
            .unwrap()
    }

    /// Waits until `client`'s service is discovered.
    pub async fn wait_for(&self, client: &TriggerClient) {
        discovered(&self.node, client).await;
    }
}

/// Waits (at most [`PATIENCE`]) until `client`'s service is discovered. ros2-client's wait ends on
/// a match event, which can be missed when many endpoints match at once (seen: the player's ten
/// services never resolving within 30 s); each new wait first reads the match state, so the
/// wait is started again every second.
pub async fn discovered<Q: ros2_client::Message + 'static, P: ros2_client::Message + 'static>(
    node: &Node,
    client: &Client<Q, P>,
) {
    let t = tokio::time::Instant::now();
    while tokio::time::timeout(Duration::from_secs(1), client.wait_for_service(node))
        .await
        .is_err()
    {
        assert!(
            t.elapsed() < PATIENCE,
            "the service was not discovered within {PATIENCE:?}"
        );
    }
}

/// One call, answered within [`PATIENCE`].
pub async fn call(client: &TriggerClient) -> TriggerResponse {
    tokio::time::timeout(
        PATIENCE,
        client.async_call_service(TriggerRequest {
            structure_needs_at_least_one_member: 0,
        }),
    )
    .await
    .expect("a reply in time")
    .expect("a reply")
}
