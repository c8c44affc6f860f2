//! Sequence and topic name rules, checked before any action leaves the client.
//!
//! mosaicod validates nothing: an empty sequence name was accepted and deleting it wiped the whole
//! store (protocol reference §12a); odd characters make storage paths diverge from catalogue names
//! (§10.1). The rules below are the current SDK's (sequence `[A-Za-z0-9_-]+`, topic segments of the
//! same alphabet), which both generations store safely and which ROS topic names satisfy.

use crate::error::{Error, Result};

fn invalid(name: &str, reason: &str) -> Error {
    Error::InvalidName { name: name.to_string(), reason: reason.to_string() }
}

fn segment_ok(seg: &str) -> bool {
    !seg.is_empty()
        && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && seg.as_bytes()[0].is_ascii_alphanumeric()
}

/// Validates a sequence name and returns it without the one leading `/` the server would strip.
pub fn sequence_name(name: &str) -> Result<&str> {
    let n = name.strip_prefix('/').unwrap_or(name);
    if n.trim().is_empty() {
        return Err(invalid(name, "a sequence name must not be empty (the server would treat it as the whole store)"));
    }
    if n.contains('/') {
        return Err(invalid(name, "a sequence name is one path segment: it must not contain `/`"));
    }
    if !segment_ok(n) {
        return Err(invalid(
            name,
            "use letters, digits, `_` and `-`, starting with a letter or digit",
        ));
    }
    Ok(n)
}

/// Validates a topic name (e.g. a ROS topic `/camera/image_raw`) and returns it without its leading
/// `/`, i.e. the path relative to the sequence.
pub fn topic_name(name: &str) -> Result<&str> {
    let n = name.strip_prefix('/').unwrap_or(name);
    if n.is_empty() {
        return Err(invalid(name, "a topic name must not be empty"));
    }
    if n.ends_with('/') {
        return Err(invalid(name, "a topic name must not end with `/`"));
    }
    for seg in n.split('/') {
        if seg.is_empty() {
            return Err(invalid(name, "a topic name must not contain empty segments (`//`)"));
        }
        if !segment_ok(seg) {
            return Err(invalid(
                name,
                "each `/`-separated segment uses letters, digits, `_` and `-`, starting with a letter or digit",
            ));
        }
    }
    Ok(n)
}

/// The server-side locator of a topic: `<sequence>/<topic path>`, both validated.
pub fn topic_locator(sequence: &str, topic: &str) -> Result<String> {
    Ok(format!("{}/{}", sequence_name(sequence)?, topic_name(topic)?))
}

/// Splits `SEQ/TOPIC/PATH` into a validated sequence and a topic with a leading `/`.
/// A bare `SEQ` gives `None` as the topic.
pub fn split_locator(locator: &str) -> Result<(String, Option<String>)> {
    let l = locator.strip_prefix('/').unwrap_or(locator);
    match l.split_once('/') {
        None => Ok((sequence_name(l)?.to_string(), None)),
        Some((s, t)) => Ok((sequence_name(s)?.to_string(), Some(format!("/{}", topic_name(t)?)))),
    }
}

/// Normalises a topic to the reading convention: a leading `/`, no trailing `/`.
pub fn display_topic(topic: &str) -> String {
    format!("/{}", topic.trim_matches('/'))
}

/// Metadata and query keys are spliced into SQL by mosaicod: only `[A-Za-z0-9_.-]+` is safe.
pub fn query_key(key: &str) -> Result<&str> {
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-') {
        return Err(Error::InvalidQuery(format!(
            "key {key:?} may only contain letters, digits, `_`, `.` and `-` (the server splices keys into SQL)"
        )));
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_names() {
        assert_eq!(sequence_name("run_01").unwrap(), "run_01");
        assert_eq!(sequence_name("/run-1").unwrap(), "run-1");
        for bad in ["", " ", "/", "  /", "a/b", "a b", "_x", "a.b", "../x", "a%b"] {
            assert!(sequence_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn topic_names() {
        assert_eq!(topic_name("/camera/image_raw").unwrap(), "camera/image_raw");
        assert_eq!(topic_name("tf").unwrap(), "tf");
        for bad in ["", "/", "a//b", "a/", "a/../b", "a/./b", "a b", "a#b", "a?b"] {
            assert!(topic_name(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(topic_locator("s", "/a/b").unwrap(), "s/a/b");
        assert_eq!(split_locator("s/a/b").unwrap(), ("s".into(), Some("/a/b".into())));
        assert_eq!(split_locator("s").unwrap(), ("s".into(), None));
        assert!(split_locator("").is_err());
    }

    #[test]
    fn query_keys() {
        assert!(query_key("a.b_c-1").is_ok());
        assert!(query_key("a'b").is_err());
        assert!(query_key("").is_err());
    }
}
