//! The library's one error type. Server failures arrive as gRPC statuses whose *text* carries the
//! meaning (mosaicod answers INTERNAL for nearly everything), so [`Error::from_status`] maps texts.

use std::time::Duration;

use tonic::Code;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach a Mosaico server at {addr}: {reason}")]
    Connect { addr: String, reason: String },

    #[error("timed out after {after:?} while {what}")]
    Timeout { after: Duration, what: String },

    #[error("{what} already exists (server said: {message})")]
    AlreadyExists { what: String, message: String },

    #[error("{what} not found (server said: {message})")]
    NotFound { what: String, message: String },

    #[error(
        "{what} is locked: finalized data cannot be modified or deleted (server said: {message})"
    )]
    Locked { what: String, message: String },

    #[error(
        "{what} cannot be finalized: a topic's upload never completed (server said: {message})"
    )]
    TopicUnlocked { what: String, message: String },

    #[error("the server refused the resource key for {what} (server said: {message})")]
    BadKey { what: String, message: String },

    #[error("invalid name {name:?}: {reason}")]
    InvalidName { name: String, reason: String },

    #[error("invalid query: {0}")]
    InvalidQuery(String),

    #[error("the server rejected the API key: {message}. Check --api-key / MOSAICO_API_KEY")]
    Unauthenticated { message: String },

    #[error("the API key lacks the permission for {what}: {message}")]
    PermissionDenied { what: String, message: String },

    #[error("the server does not implement `{action}`: {message}")]
    UnsupportedAction { action: String, message: String },

    #[error("{0}")]
    Unsupported(String),

    /// A request that cannot be carried out as asked (the text says what to change).
    #[error("{0}")]
    Invalid(String),

    #[error("transport error during {what}: {message}")]
    Transport { what: String, message: String },

    #[error("server error during {what} ({code:?}): {message}")]
    Server {
        what: String,
        code: Code,
        message: String,
    },

    #[error("unexpected reply to {what}: {detail}")]
    Protocol { what: String, detail: String },

    #[error("upload of topic {topic} failed: {message}")]
    Upload { topic: String, message: String },

    #[error("record of {bytes} bytes on topic {topic} exceeds the server's message limit of {limit} bytes")]
    RecordTooLarge {
        topic: String,
        bytes: usize,
        limit: usize,
    },

    #[error("schema mismatch on topic {topic}: {detail}")]
    SchemaMismatch { topic: String, detail: String },

    #[error("{0} is closed")]
    Closed(String),

    #[error("configuration error: {0}")]
    Config(String),

    #[error("ROS: {0}")]
    Ros(String),

    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),

    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),

    #[error(transparent)]
    Io(#[from] std::io::Error),

    #[error(transparent)]
    Bag(#[from] crate::bag::BagError),
}

impl Error {
    pub fn invalid(why: impl Into<String>) -> Self {
        Error::Invalid(why.into())
    }

    /// Maps a gRPC status from the server for the operation `what` on resource `resource`.
    pub fn from_status(status: &tonic::Status, what: &str, resource: &str) -> Self {
        let message = status.message().to_string();
        let what_s = what.to_string();
        let res = if resource.is_empty() {
            what_s.clone()
        } else {
            format!("`{resource}`")
        };
        match status.code() {
            Code::Unauthenticated => return Error::Unauthenticated { message },
            Code::PermissionDenied => {
                return Error::PermissionDenied {
                    what: what_s,
                    message,
                }
            }
            Code::Unavailable | Code::Cancelled | Code::Aborted => {
                return Error::Transport {
                    what: what_s,
                    message,
                }
            }
            Code::DeadlineExceeded => {
                return Error::Timeout {
                    after: Duration::ZERO,
                    what: format!("{what}: {message}"),
                }
            }
            Code::Unimplemented => {
                return Error::UnsupportedAction {
                    action: what_s,
                    message,
                }
            }
            Code::NotFound => return Error::NotFound { what: res, message },
            Code::AlreadyExists => return Error::AlreadyExists { what: res, message },
            _ => {}
        }
        let m = message.to_ascii_lowercase();
        if m.contains("no available action") {
            Error::UnsupportedAction {
                action: what_s,
                message,
            }
        } else if m.contains("already exists") {
            Error::AlreadyExists { what: res, message }
        } else if m.contains("topic unlocked") {
            Error::TopicUnlocked { what: res, message }
        } else if m.contains("is locked")
            || m.contains("sequence locked")
            || m.contains("session locked")
        {
            Error::Locked { what: res, message }
        } else if m.contains("bad key") || m.contains("malformed key") {
            Error::BadKey { what: res, message }
        } else if m.contains("not found") || m.contains("no rows returned") {
            Error::NotFound { what: res, message }
        } else if m.contains("transport error") || m.contains("connection") && m.contains("refused")
        {
            Error::Transport {
                what: what_s,
                message,
            }
        } else {
            Error::Server {
                what: what_s,
                code: status.code(),
                message,
            }
        }
    }

    /// Whether retrying the same idempotent call may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Transport { .. } | Error::Timeout { .. } | Error::Connect { .. }
        )
    }

    pub(crate) fn protocol(what: &str, detail: impl Into<String>) -> Self {
        Error::Protocol {
            what: what.to_string(),
            detail: detail.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn internal(msg: &str) -> tonic::Status {
        tonic::Status::internal(msg)
    }

    #[test]
    fn maps_mosaicod_texts() {
        let e = Error::from_status(
            &internal("sequence `a` already exists"),
            "sequence_create",
            "a",
        );
        assert!(matches!(e, Error::AlreadyExists { .. }), "{e}");
        let e = Error::from_status(&internal("sequence is locked"), "sequence_delete", "a");
        assert!(matches!(e, Error::Locked { .. }), "{e}");
        let e = Error::from_status(
            &internal("facade error :: sequence locked, unable to perform modifications"),
            "sequence_finalize",
            "a",
        );
        assert!(matches!(e, Error::Locked { .. }), "{e}");
        let e = Error::from_status(
            &internal("facade error :: topic unlocked, unable to perform the requested operation over an unlocked topic"),
            "sequence_finalize",
            "a",
        );
        assert!(matches!(e, Error::TopicUnlocked { .. }), "{e}");
        let e = Error::from_status(&internal("bad key"), "topic_create", "a/b");
        assert!(matches!(e, Error::BadKey { .. }));
        let e = Error::from_status(
            &internal("facade error :: repository error :: backend error :: no rows returned by a query that expected to return at least one row"),
            "sequence_system_info",
            "a",
        );
        assert!(matches!(e, Error::NotFound { .. }));
        let e = Error::from_status(
            &internal("action error :: no available action for string `info`"),
            "info",
            "",
        );
        assert!(matches!(e, Error::UnsupportedAction { .. }));
        let e = Error::from_status(&tonic::Status::unauthenticated("bad token"), "info", "");
        assert!(matches!(e, Error::Unauthenticated { .. }));
        let e = Error::from_status(&internal("rw error :: boom"), "x", "");
        assert!(matches!(
            e,
            Error::Server {
                code: Code::Internal,
                ..
            }
        ));
    }
}
