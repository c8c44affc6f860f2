//! `std_srvs/srv/Trigger` servers through ros2-client's service support.

use std::sync::Arc;

use ros2_client::{Name, Server, ServiceMapping, ServiceTypeName};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::transport::TriggerCall;

/// How requests and replies are matched on the wire: the RPC-over-DDS "enhanced" mapping (request
/// id in the sample's related-sample-identity), as rmw_fastrtps, Jazzy's default RMW, does.
pub const SERVICE_MAPPING: ServiceMapping = ServiceMapping::Enhanced;

/// `std_srvs/srv/Trigger` request. IDL has no empty structs, so ROS 2's IDL generator gives the
/// empty request this one `uint8` member (always 0 on the wire).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TriggerRequest {
    pub structure_needs_at_least_one_member: u8,
}
impl ros2_client::Message for TriggerRequest {}

/// `std_srvs/srv/Trigger` response.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TriggerResponse {
    pub success: bool,
    pub message: String,
}
impl ros2_client::Message for TriggerResponse {}

pub type TriggerServer = Server<TriggerRequest, TriggerResponse>;

/// The service type.
pub fn trigger_type() -> ServiceTypeName {
    ServiceTypeName::new("std_srvs", "Trigger")
}

/// A resolved service name (`/rec/start`) as ros2-client wants it.
pub fn service_name(resolved: &str) -> Result<Name, ros2_client::names::NameError> {
    Name::parse(resolved)
}

/// Serves `server` until `calls` is closed (the receiver returned by `trigger_service` dropped):
/// each request becomes a [`TriggerCall`], and its answer the reply. Calls are answered
/// concurrently, so a slow answer does not hold up the next request.
pub async fn serve(service: String, server: TriggerServer, calls: mpsc::Sender<TriggerCall>) {
    let server = Arc::new(server);
    loop {
        let request = tokio::select! {
            r = server.async_receive_request() => r,
            _ = calls.closed() => break,
        };
        let (id, _request) = match request {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(service, error = ?e, "unreadable service request");
                continue;
            }
        };
        let (respond, answer) = oneshot::channel();
        if calls.send(TriggerCall { respond }).await.is_err() {
            break;
        }
        let server = server.clone();
        let service = service.clone();
        tokio::task::spawn_local(async move {
            let (success, message) = answer
                .await
                .unwrap_or_else(|_| (false, "the call was dropped unanswered".to_string()));
            let reply = TriggerResponse { success, message };
            if let Err(e) = server.async_send_response(id, reply).await {
                tracing::warn!(service, error = ?e, "could not send the service reply");
            }
        });
    }
    tracing::debug!(service, "service stopped");
}
