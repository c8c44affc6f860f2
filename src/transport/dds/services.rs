//! Service servers through ros2-client's service support: `std_srvs/srv/Trigger` (the recorder's
//! controls) and the player's `rosbag2_interfaces` services.
//!
//! One server answers clients of both ROS 2 service mappings on the same `rq/<name>Request` /
//! `rr/<name>Reply` topics: rmw_fastrtps (and ros2-client's "Enhanced" mapping) sends the request's
//! fields alone and correlates by the sample identities DDS carries beside the payload;
//! rmw_cyclonedds puts a 16-byte request header in front of the fields and expects it back in
//! front of the reply. Requests are therefore taken as raw bytes and unframed here.

use std::sync::Arc;

use ros2_client::{Name, Server, ServiceMapping, ServiceTypeName};
use rustdds::RepresentationIdentifier;
use serde::de::{DeserializeOwned, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tokio::sync::{mpsc, oneshot};

use crate::transport::{PlayerCall, PlayerReply, PlayerRequest, TriggerCall};

/// The RPC-over-DDS "enhanced" mapping (request id in the sample's related-sample-identity), as
/// rmw_fastrtps, the default RMW, does; requests framed as rmw_cyclonedds frames them are
/// recognised on top of it (see [`Framing`]).
pub const SERVICE_MAPPING: ServiceMapping = ServiceMapping::Enhanced;

/// rmw_cyclonedds's request header (`cdds_request_header_t` in its serdata.hpp): the client's
/// 64-bit id and a 64-bit sequence number, in front of the request's fields and of the reply's.
pub const CYCLONE_HEADER_BYTES: usize = 16;

/// Longest request body read: every request served here is a few bytes.
const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// A request's CDR body (after the encapsulation header) as it arrived, whatever the client's RMW
/// put in front of the fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestBytes(pub Vec<u8>);

impl<'de> Deserialize<'de> for RequestBytes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Rest;
        impl<'de> Visitor<'de> for Rest {
            type Value = RequestBytes;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("the bytes of a service request")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RequestBytes, A::Error> {
                // CDR does not carry the body's length: take bytes until the payload ends (the
                // deserializer then reports end of input, which is where the body ends).
                let mut bytes = Vec::new();
                while let Ok(Some(b)) = seq.next_element::<u8>() {
                    bytes.push(b);
                }
                Ok(RequestBytes(bytes))
            }
        }
        d.deserialize_tuple(MAX_REQUEST_BYTES, Rest)
    }
}

impl Serialize for RequestBytes {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(self.0.len())?;
        for b in &self.0 {
            t.serialize_element(b)?;
        }
        t.end()
    }
}
impl ros2_client::Message for RequestBytes {}

/// How a request was framed; its reply is framed the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// rmw_fastrtps, ros2-client: the fields alone.
    Enhanced,
    /// rmw_cyclonedds: this header first, copied into the reply.
    Cyclone([u8; CYCLONE_HEADER_BYTES]),
}

/// Why a request could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("cannot encode the request type's default value")]
    Size(#[source] rustdds::serialization::Error),
    #[error("the request's fields do not decode")]
    Fields(#[source] rustdds::serialization::Error),
}

/// Splits a request body into its framing and its decoded fields. Every request type served here
/// is fixed-size and shorter than the header, so a body at least a header longer than the type's
/// own encoding is framed by rmw_cyclonedds; any shorter one is the fields alone (up to 3 bytes of
/// zero padding to a multiple of 4, as some writers add). Bodies are read as little endian, the
/// byte order of every ROS 2 platform.
pub fn unframe<Q: Serialize + DeserializeOwned + Default>(
    body: &[u8],
) -> Result<(Framing, Q), RequestError> {
    let mut plain = Vec::new();
    rustdds::serialization::to_writer_with_rep_id(
        &mut plain,
        &Q::default(),
        RepresentationIdentifier::CDR_LE,
    )
    .map_err(RequestError::Size)?;
    let plain_len = plain.len();
    let (framing, fields) = if body.len() >= CYCLONE_HEADER_BYTES + plain_len {
        let mut header = [0u8; CYCLONE_HEADER_BYTES];
        header.copy_from_slice(&body[..CYCLONE_HEADER_BYTES]);
        (Framing::Cyclone(header), &body[CYCLONE_HEADER_BYTES..])
    } else {
        (Framing::Enhanced, body)
    };
    // The header is 16 bytes, a multiple of every CDR alignment: the fields decode from where
    // they start as from the start of the body.
    let (q, _) = rustdds::serialization::deserialize_from_cdr_with_rep_id::<Q>(
        fields,
        RepresentationIdentifier::CDR_LE,
    )
    .map_err(RequestError::Fields)?;
    Ok((framing, q))
}

/// A reply framed as its request was.
#[derive(Debug, Clone)]
pub struct Reply<P> {
    pub header: Option<[u8; CYCLONE_HEADER_BYTES]>,
    pub body: P,
}

impl<P> Reply<P> {
    pub fn new(framing: Framing, body: P) -> Self {
        Reply {
            header: match framing {
                Framing::Enhanced => None,
                Framing::Cyclone(h) => Some(h),
            },
            body,
        }
    }
}

impl<P: Serialize> Serialize for Reply<P> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(1 + usize::from(self.header.is_some()))?;
        if let Some(h) = &self.header {
            t.serialize_element(h)?;
        }
        t.serialize_element(&self.body)?;
        t.end()
    }
}

/// Reads a reply framed for the enhanced mapping (the fields alone).
impl<'de, P: Deserialize<'de>> Deserialize<'de> for Reply<P> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Reply {
            header: None,
            body: P::deserialize(d)?,
        })
    }
}
impl<P: Serialize + DeserializeOwned> ros2_client::Message for Reply<P> {}

/// The server of a service whose replies are `P`, for either framing.
pub type ServerOf<P> = Server<RequestBytes, Reply<P>>;

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

pub type TriggerServer = ServerOf<TriggerResponse>;

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
    server: ServerOf<P>,
    calls: mpsc::Sender<C>,
    call: impl Fn(Q, oneshot::Sender<A>) -> C,
    reply: impl Fn(Option<A>) -> P + Clone + 'static,
) where
    Q: Serialize + DeserializeOwned + Default + 'static,
    P: ros2_client::Message + 'static,
    A: 'static,
{
    let server = Arc::new(server);
    loop {
        let request = tokio::select! {
            r = server.async_receive_request() => r,
            _ = calls.closed() => break,
        };
        let (id, framing, request) = match request {
            Ok((id, body)) => match unframe::<Q>(&body.0) {
                Ok((framing, q)) => (id, framing, q),
                Err(e) => {
                    tracing::warn!(service, error = %e, len = body.0.len(), "unreadable service request");
                    continue;
                }
            },
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
            let response = Reply::new(framing, reply(answer.await.ok()));
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
        |_: Empty, respond| TriggerCall { respond },
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
                .create_server::<RequestBytes, Reply<$p>>(
                    SERVICE_MAPPING,
                    name,
                    &ty,
                    qos.clone(),
                    qos,
                )
                .map_err(|e| format!("cannot create the service server: {e}"))?;
            Box::new(move || {
                Box::pin(serve::<$q, _, _, _>(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn cdr<T: Serialize>(v: &T) -> Vec<u8> {
        let mut b = Vec::new();
        rustdds::serialization::to_writer_with_rep_id(&mut b, v, RepresentationIdentifier::CDR_LE)
            .unwrap();
        b
    }

    #[test]
    fn requests_are_unframed_by_length() {
        // rmw_fastrtps: the one uint8 field alone.
        let (f, _) = unframe::<Empty>(&[0]).unwrap();
        assert_eq!(f, Framing::Enhanced);
        // rmw_cyclonedds: guid (8), seq (8), the field, zero padding to 4.
        let mut body = 0x1122_3344_5566_7788u64.to_le_bytes().to_vec();
        body.extend(7i64.to_le_bytes());
        body.extend([0, 0, 0, 0]);
        let (f, _) = unframe::<Empty>(&body).unwrap();
        assert_eq!(f, Framing::Cyclone(body[..16].try_into().unwrap()));
        // An 8-byte request (Seek's Time) either way.
        let t = Time {
            sec: 12,
            nanosec: 34,
        };
        let (f, q) = unframe::<Time>(&cdr(&t)).unwrap();
        assert_eq!((f, q.sec, q.nanosec), (Framing::Enhanced, 12, 34));
        let mut framed = body[..16].to_vec();
        framed.extend(cdr(&t));
        let (f, q) = unframe::<Time>(&framed).unwrap();
        assert_eq!(f, Framing::Cyclone(body[..16].try_into().unwrap()));
        assert_eq!((q.sec, q.nanosec), (12, 34));
    }

    #[test]
    fn a_cyclone_reply_carries_the_request_header_first() {
        let header: [u8; 16] = std::array::from_fn(|i| i as u8);
        let body = TriggerResponse {
            success: true,
            message: "ok".into(),
        };
        let framed = cdr(&Reply::new(Framing::Cyclone(header), body.clone()));
        assert_eq!(&framed[..16], &header);
        assert_eq!(&framed[16..], &cdr(&body)[..]);
        assert_eq!(
            cdr(&Reply::new(Framing::Enhanced, body.clone())),
            cdr(&body)
        );
    }

    #[test]
    fn request_bytes_take_the_whole_body() {
        let body = vec![
            1u8, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0, 0, 0, 0,
        ];
        let (r, n) = rustdds::serialization::deserialize_from_cdr_with_rep_id::<RequestBytes>(
            &body,
            RepresentationIdentifier::CDR_LE,
        )
        .unwrap();
        assert_eq!((r.0, n), (body.clone(), body.len()));
    }
}
