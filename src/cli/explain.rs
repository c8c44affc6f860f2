//! The one line a user reads when a command fails: what went wrong in our words and what to do,
//! with the server's or the library's text below it as the cause, never internals as the headline.

use mosaico_bridge::control::channel::ServerAddr;
use mosaico_bridge::{names, Error, Generation};

/// `error: HEADLINE` and, when the headline is ours, `  cause: ...` with the full chain.
pub fn explain(e: &anyhow::Error, server: &str, forced: Option<Generation>) -> String {
    let server = ServerAddr::parse(server)
        .map(|a| a.to_string())
        .unwrap_or_else(|_| server.to_string());
    let full = format!("{e:#}");
    match headline(e, &full, &server, forced) {
        Some((ours, cause)) => format!("error: {ours}\n  cause: {cause}"),
        None => format!("error: {full}"),
    }
}

fn headline(
    e: &anyhow::Error,
    full: &str,
    server: &str,
    forced: Option<Generation>,
) -> Option<(String, String)> {
    for cause in e.chain() {
        if let Some(Error::NotFound { what, message }) = cause.downcast_ref::<Error>() {
            let name = what.trim_matches('`');
            let ours = match names::split_locator(name) {
                Ok((seq, Some(topic))) => format!(
                    "no topic `{topic}` in sequence `{seq}` on {server} (`mosaico-bridge info {seq}` lists its topics)"
                ),
                _ => format!(
                    "no sequence named `{name}` on {server} (`mosaico-bridge ls` lists them)"
                ),
            };
            return Some((ours, format!("the server said: {message}")));
        }
    }
    let lower = full.to_ascii_lowercase();
    let tls_url = server.starts_with("grpc+tls://");
    // rustls reading a plain HTTP/2 answer as a TLS record.
    if tls_url && (lower.contains("invalidcontenttype") || lower.contains("corrupt message")) {
        let plain = server.replacen("grpc+tls://", "grpc://", 1);
        return Some((
            format!(
                "{server} does not speak TLS (it answered in plain gRPC): use --server {plain}"
            ),
            full.to_string(),
        ));
    }
    // A plain HTTP/2 preface sent to a TLS listener: the answer is not HTTP/2 (or a hang-up).
    if !tls_url
        && (lower.contains("h2 protocol error")
            || lower.contains("frame with invalid size")
            || lower.contains("connection reset"))
    {
        let tls = server.replacen("grpc://", "grpc+tls://", 1);
        return Some((
            format!(
                "{server} closed the connection at once: if it expects TLS, use --server {tls} (and --tls-ca FILE for a private CA)"
            ),
            full.to_string(),
        ));
    }
    if forced == Some(Generation::Legacy) && lower.contains("unsupported descriptor type") {
        return Some((
            format!(
                "{server} speaks the current protocol, not the legacy one that --generation legacy forces: drop --generation (the client detects the protocol)"
            ),
            full.to_string(),
        ));
    }
    None
}
