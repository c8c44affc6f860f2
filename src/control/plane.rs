//! The control plane: one dedicated connection for metadata calls, so actions never queue behind
//! data streams. Idempotent calls are retried with exponential backoff and jitter.

use std::time::Duration;

use arrow_flight::{Action, Criteria, FlightDescriptor, FlightInfo, SchemaAsIpc};
use futures::TryStreamExt;
use rand::Rng;
use serde_json::Value;
use tracing::{debug, instrument, warn};

use super::channel::{FlightChannel, FlightClient, Limits};
use crate::error::{Error, Result};

/// Exponential backoff with full jitter, for idempotent calls that met a transient failure.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub base: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 4,
            base: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    pub fn none() -> Self {
        RetryPolicy {
            attempts: 1,
            ..Default::default()
        }
    }

    fn delay(&self, attempt: u32) -> Duration {
        let cap = self
            .base
            .saturating_mul(1 << attempt.min(16))
            .min(self.max_delay);
        let ms = cap.as_millis().max(1) as u64;
        Duration::from_millis(rand::rng().random_range(ms / 2..=ms))
    }

    /// Runs `op` until it succeeds, fails permanently, or attempts run out.
    pub async fn run<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut attempt = 0;
        loop {
            match op().await {
                Err(e) if e.is_transient() && attempt + 1 < self.attempts => {
                    let d = self.delay(attempt);
                    warn!(%what, error = %e, retry_in = ?d, "transient failure, retrying");
                    tokio::time::sleep(d).await;
                    attempt += 1;
                }
                r => return r,
            }
        }
    }
}

/// Parses the JSON replies of a DoAction: every Result body concatenated, then
/// `{"action": name, "response": {...}}` or `{"action": "empty"}`.
pub fn parse_action_reply(kind: &str, bodies: &[bytes::Bytes]) -> Result<Option<Value>> {
    let joined: Vec<u8> = bodies.iter().flat_map(|b| b.iter().copied()).collect();
    if joined.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(None);
    }
    let v: Value = serde_json::from_slice(&joined)
        .map_err(|e| Error::protocol(kind, format!("reply is not JSON: {e}")))?;
    match v.get("action").and_then(Value::as_str) {
        None | Some("empty") => Ok(None),
        Some(a) if a == kind => Ok(v.get("response").cloned()),
        Some(a) => Err(Error::protocol(kind, format!("reply is for action `{a}`"))),
    }
}

/// Parses a paged DoAction reply: one complete envelope per Result.
pub fn parse_paged_reply(kind: &str, bodies: &[bytes::Bytes]) -> Result<Vec<Value>> {
    bodies
        .iter()
        .map(|b| {
            parse_action_reply(kind, std::slice::from_ref(b))?
                .ok_or_else(|| Error::protocol(kind, "a page carries no response"))
        })
        .collect()
}

#[derive(Clone)]
pub struct ControlPlane {
    client: FlightClient,
    pub retry: RetryPolicy,
    pub addr: String,
    /// Longest one call may take: a server that accepts and never answers cannot hang a command.
    pub deadline: std::time::Duration,
}

impl ControlPlane {
    pub fn new(channel: &FlightChannel, limits: Limits, retry: RetryPolicy) -> Self {
        ControlPlane {
            client: channel.client(limits),
            retry,
            addr: channel.addr.to_string(),
            deadline: crate::control::channel::DEFAULT_CALL_TIMEOUT,
        }
    }

    /// The same plane with another per-call deadline.
    pub fn with_deadline(mut self, deadline: std::time::Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Runs one call under the deadline; a timeout names the call and the server.
    async fn bounded<T>(
        &self,
        what: &str,
        call: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        match tokio::time::timeout(self.deadline, call).await {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout {
                after: self.deadline,
                what: format!("`{what}` on {} (no answer)", self.addr),
            }),
        }
    }

    pub fn set_limits(&mut self, channel: &FlightChannel, limits: Limits) {
        self.client = channel.client(limits);
    }

    async fn action_once(
        &self,
        kind: &str,
        body: &[u8],
        resource: &str,
    ) -> Result<Vec<bytes::Bytes>> {
        let mut client = self.client.clone();
        let req = Action {
            r#type: kind.to_string(),
            body: body.to_vec().into(),
        };
        self.bounded(kind, async {
            let stream = client
                .do_action(req)
                .await
                .map_err(|s| Error::from_status(&s, kind, resource))?
                .into_inner();
            let results: Vec<arrow_flight::Result> = stream
                .try_collect()
                .await
                .map_err(|s| Error::from_status(&s, kind, resource))?;
            Ok(results.into_iter().map(|r| r.body).collect())
        })
        .await
    }

    /// A state-changing action: sent once, never retried.
    #[instrument(level = "debug", skip(self, body), fields(server = %self.addr))]
    pub async fn action(&self, kind: &str, body: &Value, resource: &str) -> Result<Option<Value>> {
        let bytes = serde_json::to_vec(body)?;
        debug!(body = %body, "action");
        let bodies = self.action_once(kind, &bytes, resource).await?;
        parse_action_reply(kind, &bodies)
    }

    /// A read-only action: retried on transient failures.
    #[instrument(level = "debug", skip(self, body), fields(server = %self.addr))]
    pub async fn action_idempotent(
        &self,
        kind: &str,
        body: &Value,
        resource: &str,
    ) -> Result<Option<Value>> {
        let bytes = serde_json::to_vec(body)?;
        let bodies = self
            .retry
            .run(kind, || self.action_once(kind, &bytes, resource))
            .await?;
        parse_action_reply(kind, &bodies)
    }

    /// A read-only action whose reply is paged (one envelope per Result).
    pub async fn action_paged(
        &self,
        kind: &str,
        body: &Value,
        resource: &str,
    ) -> Result<Vec<Value>> {
        let bytes = serde_json::to_vec(body)?;
        let bodies = self
            .retry
            .run(kind, || self.action_once(kind, &bytes, resource))
            .await?;
        parse_paged_reply(kind, &bodies)
    }

    #[instrument(level = "debug", skip(self, desc), fields(server = %self.addr))]
    pub async fn flight_info(&self, desc: FlightDescriptor, resource: &str) -> Result<FlightInfo> {
        self.retry
            .run("get_flight_info", || {
                self.bounded("get_flight_info", async {
                    let mut c = self.client.clone();
                    c.get_flight_info(desc.clone())
                        .await
                        .map(|r| r.into_inner())
                        .map_err(|s| Error::from_status(&s, "get_flight_info", resource))
                })
            })
            .await
    }

    pub async fn schema(
        &self,
        desc: FlightDescriptor,
        resource: &str,
    ) -> Result<arrow::datatypes::Schema> {
        let res = self
            .retry
            .run("get_schema", || {
                self.bounded("get_schema", async {
                    let mut c = self.client.clone();
                    c.get_schema(desc.clone())
                        .await
                        .map(|r| r.into_inner())
                        .map_err(|s| Error::from_status(&s, "get_schema", resource))
                })
            })
            .await?;
        Ok(arrow::datatypes::Schema::try_from(&res)?)
    }

    #[instrument(level = "debug", skip(self), fields(server = %self.addr))]
    pub async fn list_flights(&self) -> Result<Vec<FlightInfo>> {
        self.retry
            .run("list_flights", || {
                self.bounded("list_flights", async {
                    let mut c = self.client.clone();
                    let s = c
                        .list_flights(Criteria {
                            expression: Default::default(),
                        })
                        .await
                        .map_err(|s| Error::from_status(&s, "list_flights", ""))?
                        .into_inner();
                    s.try_collect()
                        .await
                        .map_err(|s| Error::from_status(&s, "list_flights", ""))
                })
            })
            .await
    }

    pub fn client(&self) -> FlightClient {
        self.client.clone()
    }
}

/// Encodes a schema as a FlightData-free IPC message (for servers answering GetSchema).
pub fn schema_result(schema: &arrow::datatypes::Schema) -> Result<arrow_flight::SchemaResult> {
    let opts = arrow::ipc::writer::IpcWriteOptions::default();
    Ok(SchemaAsIpc::new(schema, &opts).try_into()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn action_replies() {
        let r = parse_action_reply("x", &[Bytes::from_static(br#"{"action":"empty"}"#)]).unwrap();
        assert!(r.is_none());
        let split = [
            Bytes::from_static(br#"{"action":"x","res"#),
            Bytes::from_static(br#"ponse":{"key":"k"}}"#),
        ];
        assert_eq!(
            parse_action_reply("x", &split).unwrap().unwrap()["key"],
            "k"
        );
        assert!(parse_action_reply(
            "x",
            &[Bytes::from_static(br#"{"action":"y","response":{}}"#)]
        )
        .is_err());
        assert!(parse_action_reply("x", &[Bytes::from_static(b"nope")]).is_err());
        assert!(parse_action_reply("x", &[]).unwrap().is_none());
        let pages = [
            Bytes::from_static(br#"{"action":"p","response":{"id":1}}"#),
            Bytes::from_static(br#"{"action":"p","response":{"id":2}}"#),
        ];
        assert_eq!(parse_paged_reply("p", &pages).unwrap().len(), 2);
    }

    #[tokio::test]
    async fn retry_stops_on_permanent_errors() {
        let p = RetryPolicy {
            attempts: 5,
            base: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        };
        let mut n = 0;
        let r: Result<()> = p
            .run("t", || {
                n += 1;
                async { Err(Error::InvalidQuery("x".into())) }
            })
            .await;
        assert!(r.is_err());
        assert_eq!(n, 1);
        let mut n = 0;
        let r: Result<()> = p
            .run("t", || {
                n += 1;
                async {
                    Err(Error::Transport {
                        what: "t".into(),
                        message: "down".into(),
                    })
                }
            })
            .await;
        assert!(r.is_err());
        assert_eq!(n, 5);
    }
}
