//! Service servers through ros2-client's service support: `std_srvs/srv/Trigger` (the recorder's
//! controls) and the player's `rosbag2_interfaces` services.

use std::sync::Arc;

use ros2_client::{Name, Server, ServiceMapping, ServiceTypeName};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::transport::{PlayerCall, PlayerReply, PlayerRequest, TriggerCall};

/// How requests and replies are matched on the wire: the RPC-over-DDS "enhanced" mapping (request
/// id in the sample's related-sample-identity), as rmw_fastrtps, Jazzy's default RMW, does.
pub const SERVICE_MAPPING: ServiceMapping = ServiceMapping::Enhanced;

/// An empty request or response. IDL has no empty structs, so ROS 2's IDL generator gives it this
/// one `uint8` member (always 0 on the wire).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Empty {
    pub structure_needs_at_least_one_member: u8,
}
impl ros2_client::Message for Empty {}

/// `std_srvs/srv/Trigger` response.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TriggerResponse {
    pub success: bool,
    pub message: String,
}
impl ros2_client::Message for TriggerResponse {}

/// A one-field message: `bool paused`/`success`, `float64 rate`, `uint64 num_messages`/
/// `actually_burst` (CDR carries no field names, only their types in order).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct One<T> {
    pub value: T,
}
impl<T: Serialize + DeserializeOwned> ros2_client::Message for One<T> {}

/// `builtin_interfaces/msg/Time`, the `Seek` request.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Time {
    pub sec: i32,
    pub nanosec: u32,
}
impl ros2_client::Message for Time {}

pub type TriggerServer = Server<Empty, TriggerResponse>;

/// The service type.
pub fn trigger_type() -> ServiceTypeName {
    ServiceTypeName::new("std_srvs", "Trigger")
}

/// A resolved service name (`/rec/start`) as ros2-client wants it.
pub fn service_name(resolved: &str) -> Result<Name, ros2_client::names::NameError> {
    Name::parse(resolved)
}

/// Serves `server` until `calls` is closed: each request becomes a call made by `call` (with the
/// sender of its answer), and the answer becomes the reply through `reply`. Calls are answered
/// concurrently, so a slow answer does not hold up the next request.
pub async fn serve<Q, P, C, A>(
    service: String,
    server: Server<Q, P>,
    calls: mpsc::Sender<C>,
    call: impl Fn(Q, oneshot::Sender<A>) -> C,
    reply: impl Fn(Option<A>) -> P + Clone + 'static,
) where
    Q: ros2_client::Message + 'static,
    P: ros2_client::Message + 'static,
    A: 'static,
{
    let server = Arc::new(server);
    loop {
        let request = tokio::select! {
            r = server.async_receive_request() => r,
            _ = calls.closed() => break,
        };
        let (id, request) = match request {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(service, error = ?e, "unreadable service request");
                continue;
            }
        };
        let (respond, answer) = oneshot::channel();
        if calls.send(call(request, respond)).await.is_err() {
            break;
        }
        let server = server.clone();
        let service = service.clone();
        let reply = reply.clone();
        tokio::task::spawn_local(async move {
            let response = reply(answer.await.ok());
            if let Err(e) = server.async_send_response(id, response).await {
                tracing::warn!(service, error = ?e, "could not send the service reply");
            }
        });
    }
    tracing::debug!(service, "service stopped");
}

/// Serves a Trigger server; a call dropped unanswered replies failure.
pub async fn serve_trigger(
    service: String,
    server: TriggerServer,
    calls: mpsc::Sender<TriggerCall>,
) {
    serve(
        service,
        server,
        calls,
        |_, respond| TriggerCall { respond },
        |answer| {
            let (success, message) =
                answer.unwrap_or_else(|| (false, "the call was dropped unanswered".to_string()));
            TriggerResponse { success, message }
        },
    )
    .await
}

/// The value of a reply of the expected kind, else the type's default (a failure for flags).
fn flag(a: Option<PlayerReply>) -> One<bool> {
    One {
        value: matches!(a, Some(PlayerReply::Flag(true))),
    }
}

/// A served player service, ready to be started on the node's thread (where its future runs).
pub type PlayerTask =
    Box<dyn FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> + Send>;

/// Creates the server of the player service `srv` (a `rosbag2_interfaces/srv` type name from
/// [`PlayerRequest::SERVICES`]) named `name`, and returns the task that serves it.
pub fn player_server(
    node: &mut ros2_client::Node,
    srv: &str,
    name: &Name,
    qos: ros2_client::qos::QosProfile,
    calls: mpsc::Sender<PlayerCall>,
) -> Result<PlayerTask, String> {
    let ty = ServiceTypeName::new("rosbag2_interfaces", srv);
    let service = name.to_string();
    macro_rules! task {
        ($q:ty, $p:ty, $call:expr, $reply:expr) => {{
            let server = node
                .create_server::<$q, $p>(SERVICE_MAPPING, name, &ty, qos.clone(), qos)
                .map_err(|e| format!("cannot create the service server: {e}"))?;
            Box::new(move || {
                Box::pin(serve(
                    service,
                    server,
                    calls,
                    move |q: $q, respond| PlayerCall {
                        request: $call(q),
                        respond,
                    },
                    $reply,
                )) as std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>
            }) as PlayerTask
        }};
    }
    let done = |_: Option<PlayerReply>| Empty::default();
    Ok(match srv {
        "Pause" => task!(Empty, Empty, |_| PlayerRequest::Pause, done),
        "Resume" => task!(Empty, Empty, |_| PlayerRequest::Resume, done),
        "TogglePaused" => task!(Empty, Empty, |_| PlayerRequest::TogglePaused, done),
        "Stop" => task!(Empty, Empty, |_| PlayerRequest::Stop, done),
        "IsPaused" => task!(Empty, One<bool>, |_| PlayerRequest::IsPaused, flag),
        "PlayNext" => task!(Empty, One<bool>, |_| PlayerRequest::PlayNext, flag),
        "GetRate" => task!(Empty, One<f64>, |_| PlayerRequest::GetRate, |a| One {
            value: match a {
                Some(PlayerReply::Rate(r)) => r,
                _ => 0.0,
            }
        }),
        "SetRate" => task!(
            One<f64>,
            One<bool>,
            |q: One<f64>| PlayerRequest::SetRate(q.value),
            flag
        ),
        "Burst" => task!(
            One<u64>,
            One<u64>,
            |q: One<u64>| PlayerRequest::Burst(q.value),
            |a| One {
                value: match a {
                    Some(PlayerReply::Count(n)) => n,
                    _ => 0,
                }
            }
        ),
        "Seek" => task!(
            Time,
            One<bool>,
            |q: Time| PlayerRequest::Seek(q.sec as i64 * 1_000_000_000 + q.nanosec as i64),
            flag
        ),
        other => return Err(format!("no player service of type {other}")),
    })
}
