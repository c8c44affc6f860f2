//! Picks the protocol generation at connect time with the `info` handshake.
//!
//! `info` answered → current. "no available action" → legacy. An authentication error is reported
//! (never a reason to fall back). Unavailable → retried every 25 ms until the timeout, like the SDK.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tracing::debug;

use super::{Generation, Protocol, ServerInfo};
use crate::control::channel::{LEGACY_MAX_MESSAGE_BYTES, LEGACY_TARGET_MESSAGE_BYTES};
use crate::control::ControlPlane;
use crate::error::{Error, Result};

pub fn protocol_for(g: Generation) -> Arc<dyn Protocol> {
    match g {
        Generation::Legacy => Arc::new(super::legacy::Legacy),
        Generation::Current => Arc::new(super::current::Current),
    }
}

/// Parses the `info` reply (`version`, `semver`, `config` with the server's gRPC limits).
pub fn parse_info(v: &Value) -> Result<ServerInfo> {
    let cfg = v
        .get("config")
        .ok_or_else(|| Error::protocol("info", "missing `config`"))?;
    let limit = |k: &str| -> Result<usize> {
        cfg.get(k)
            .and_then(Value::as_u64)
            .map(|n| n as usize)
            .ok_or_else(|| Error::protocol("info", format!("missing `config.{k}`")))
    };
    let max_decode_bytes = limit("grpc_max_decode_message_size")?;
    Ok(ServerInfo {
        generation: Generation::Current,
        version: v.get("version").and_then(Value::as_str).map(str::to_string),
        max_decode_bytes,
        max_encode_bytes: limit("grpc_max_encode_message_size")?,
        max_record_bytes: max_decode_bytes,
    })
}

pub fn legacy_info() -> ServerInfo {
    ServerInfo {
        generation: Generation::Legacy,
        version: None,
        max_decode_bytes: LEGACY_MAX_MESSAGE_BYTES,
        max_encode_bytes: LEGACY_MAX_MESSAGE_BYTES,
        max_record_bytes: LEGACY_TARGET_MESSAGE_BYTES.min(LEGACY_MAX_MESSAGE_BYTES),
    }
}

pub async fn detect(ctrl: &ControlPlane, timeout: Duration) -> Result<ServerInfo> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let probe = ctrl
            .clone()
            .with_deadline(left.max(Duration::from_millis(10)));
        let err = match probe.action("info", &json!({}), "").await {
            Ok(Some(v)) => return parse_info(&v),
            Ok(None) => Error::protocol("info", "empty reply"),
            Err(Error::UnsupportedAction { .. }) => {
                debug!("server has no `info` action: legacy generation");
                return Ok(legacy_info());
            }
            Err(e @ (Error::Unauthenticated { .. } | Error::PermissionDenied { .. })) => {
                return Err(e)
            }
            Err(e) if e.is_transient() => e,
            Err(e) => return Err(e),
        };
        if Instant::now() + Duration::from_millis(25) >= deadline {
            if let e @ Error::Timeout { .. } = err {
                return Err(e);
            }
            return Err(Error::Connect {
                addr: ctrl.addr.clone(),
                reason: format!(
                    "no answer to the `info` handshake within {timeout:?} (last error: {err})"
                ),
            });
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_info() {
        let v = json!({"version": "0.3.1", "semver": {"major": 0, "minor": 3, "patch": 1, "pre": null},
                       "config": {"grpc_max_decode_message_size": 1000, "grpc_max_encode_message_size": 2000,
                                  "grpc_target_encode_message_size": 500}});
        let i = parse_info(&v).unwrap();
        assert_eq!((i.max_decode_bytes, i.max_encode_bytes), (1000, 2000));
        assert_eq!(i.version.as_deref(), Some("0.3.1"));
        assert!(parse_info(&json!({"version": "x"})).is_err());
    }
}
