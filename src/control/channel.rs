//! Connecting to a server: address parsing, TLS, the API-key header, gRPC limits and compression.
//! One [`FlightChannel`] is one HTTP/2 connection; the control plane owns one, the data plane many.

use std::path::PathBuf;
use std::time::Duration;

use arrow_flight::flight_service_client::FlightServiceClient;
use tonic::codec::CompressionEncoding;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::error::{Error, Result};

pub const DEFAULT_PORT: u16 = 6726;
/// mosaicod's gRPC limit both ways (`MOSAICO_MAX_MESSAGE_SIZE_IN_BYTES`).
pub const LEGACY_MAX_MESSAGE_BYTES: usize = 50 * 1024 * 1024;
/// mosaicod's DoGet target message size (`MOSAICO_TARGET_MESSAGE_SIZE_IN_BYTES`). It reads a topic
/// back in batches of `target × rows / bytes` rows: when the rows average more than this, that is
/// 0 rows and the server process aborts (DataFusion asserts a non-zero batch size). So no record
/// larger than this is ever sent to a legacy server: it could be stored, but never read back.
pub const LEGACY_TARGET_MESSAGE_BYTES: usize = 25 * 1024 * 1024;
pub const API_KEY_HEADER: &str = "mosaico-api-key-token";
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a control call (an action, FlightInfo, a schema) may take once connected.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// `host:port`, `grpc://host:port` or `grpc+tls://host:port` (port defaults to 6726).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerAddr {
    pub host: String,
    pub port: u16,
    pub tls: bool,
}

impl ServerAddr {
    pub fn parse(s: &str) -> Result<Self> {
        let (tls, rest) = if let Some(r) = s.strip_prefix("grpc+tls://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("grpc://") {
            (false, r)
        } else if let Some(r) = s.strip_prefix("https://") {
            (true, r)
        } else if let Some(r) = s.strip_prefix("http://") {
            (false, r)
        } else {
            (false, s)
        };
        let rest = rest.trim_end_matches('/');
        let bad = || {
            Error::Config(format!(
                "bad server address {s:?}: expected HOST[:PORT] or grpc[+tls]://HOST[:PORT]"
            ))
        };
        if rest.is_empty() {
            return Err(bad());
        }
        // [v6]:port, host:port, host
        let (host, port) = if let Some(r) = rest.strip_prefix('[') {
            let (h, p) = r.split_once(']').ok_or_else(bad)?;
            (h.to_string(), p.strip_prefix(':').map(str::to_string))
        } else {
            match rest.rsplit_once(':') {
                Some((h, p)) if !h.contains(':') => (h.to_string(), Some(p.to_string())),
                _ => (rest.to_string(), None),
            }
        };
        let port = match port {
            Some(p) => p.parse().map_err(|_| bad())?,
            None => DEFAULT_PORT,
        };
        if host.is_empty() {
            return Err(bad());
        }
        Ok(ServerAddr { host, port, tls })
    }

    fn uri(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}

impl std::fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "grpc+tls" } else { "grpc" };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

/// How a connection authenticates the server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Tls {
    /// Follow the address: `grpc+tls://` uses the system roots, otherwise plaintext.
    #[default]
    Auto,
    /// TLS verified against the system's root store.
    SystemRoots,
    /// TLS verified against this CA (PEM file): a private CA or a self-signed server certificate.
    CustomCa(PathBuf),
}

/// Everything that shapes a connection. Defaults suit a robot on a local network.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Connecting and the `info` handshake.
    pub timeout: Duration,
    /// Each control call after that.
    pub call_timeout: Duration,
    pub api_key: Option<String>,
    pub tls: Tls,
    /// gzip every outgoing message (current-generation servers only).
    pub gzip: bool,
    /// Data-plane channels; 0 = one per available core.
    pub data_channels: usize,
    /// Processing-plane workers; 0 = one per available core.
    pub workers: usize,
    /// Skip detection and speak this generation.
    pub generation: Option<crate::protocol::Generation>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            timeout: DEFAULT_CONNECT_TIMEOUT,
            call_timeout: DEFAULT_CALL_TIMEOUT,
            api_key: None,
            tls: Tls::Auto,
            gzip: false,
            data_channels: 0,
            workers: 0,
            generation: None,
        }
    }
}

pub fn available_cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// Adds the API key to every call; the legacy server ignores unknown metadata.
#[derive(Clone, Debug)]
pub struct ApiKey(Option<AsciiMetadataValue>);

impl tonic::service::Interceptor for ApiKey {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert(API_KEY_HEADER, v.clone());
        }
        Ok(req)
    }
}

pub type FlightClient = FlightServiceClient<InterceptedService<Channel, ApiKey>>;

/// Message-size limits in force on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message we may send (the server's decode limit).
    pub max_send: usize,
    /// Largest message we accept.
    pub max_recv: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_send: LEGACY_MAX_MESSAGE_BYTES,
            max_recv: LEGACY_MAX_MESSAGE_BYTES + (16 << 20),
        }
    }
}

/// One HTTP/2 connection to the server, ready to make Flight calls.
#[derive(Clone)]
pub struct FlightChannel {
    pub addr: ServerAddr,
    channel: Channel,
    key: ApiKey,
    gzip: bool,
}

impl FlightChannel {
    pub async fn connect(addr: &ServerAddr, opts: &ConnectOptions) -> Result<Self> {
        let key = match &opts.api_key {
            Some(k) => Some(MetadataValue::try_from(k.as_str()).map_err(|_| {
                Error::Config(
                    "the API key must be printable ASCII (expected msco_<payload>_<fingerprint>)"
                        .into(),
                )
            })?),
            None => None,
        };
        let tls = match (&opts.tls, addr.tls) {
            (Tls::CustomCa(path), _) => {
                let pem = std::fs::read(path).map_err(|e| {
                    Error::Config(format!(
                        "cannot read the CA certificate {}: {e}",
                        path.display()
                    ))
                })?;
                Some(
                    ClientTlsConfig::new()
                        .ca_certificate(Certificate::from_pem(pem))
                        .domain_name(addr.host.clone()),
                )
            }
            (Tls::SystemRoots, _) | (Tls::Auto, true) => Some(
                ClientTlsConfig::new()
                    .with_native_roots()
                    .domain_name(addr.host.clone()),
            ),
            (Tls::Auto, false) => None,
        };
        let uri = ServerAddr {
            tls: tls.is_some(),
            ..addr.clone()
        }
        .uri();
        let mut ep = Endpoint::from_shared(uri)
            .map_err(|e| Error::Config(format!("bad server address {addr}: {e}")))?
            .connect_timeout(opts.timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(20))
            .keep_alive_timeout(Duration::from_secs(20))
            .keep_alive_while_idle(true)
            .initial_stream_window_size(Some(8 << 20))
            .initial_connection_window_size(Some(32 << 20));
        if let Some(tls) = tls {
            ep = ep
                .tls_config(tls)
                .map_err(|e| Error::Config(format!("TLS configuration for {addr}: {e}")))?;
        }
        let channel = match tokio::time::timeout(opts.timeout, ep.connect()).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                return Err(Error::Connect {
                    addr: addr.to_string(),
                    reason: transport_reason(&e),
                })
            }
            Err(_) => {
                return Err(Error::Timeout {
                    after: opts.timeout,
                    what: format!("connecting to {addr}"),
                })
            }
        };
        Ok(FlightChannel {
            addr: addr.clone(),
            channel,
            key: ApiKey(key),
            gzip: opts.gzip,
        })
    }

    /// A Flight client on this connection with the given limits.
    pub fn client(&self, limits: Limits) -> FlightClient {
        let mut c = FlightServiceClient::with_interceptor(self.channel.clone(), self.key.clone())
            .max_decoding_message_size(limits.max_recv)
            .max_encoding_message_size(limits.max_send);
        if self.gzip {
            c = c
                .send_compressed(CompressionEncoding::Gzip)
                .accept_compressed(CompressionEncoding::Gzip);
        }
        c
    }
}

fn transport_reason(e: &tonic::transport::Error) -> String {
    use std::error::Error as _;
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s = format!("{s}: {inner}");
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_addresses() {
        let a = ServerAddr::parse("localhost").unwrap();
        assert_eq!((a.host.as_str(), a.port, a.tls), ("localhost", 6726, false));
        let a = ServerAddr::parse("grpc+tls://fleet.example:443").unwrap();
        assert_eq!(
            (a.host.as_str(), a.port, a.tls),
            ("fleet.example", 443, true)
        );
        let a = ServerAddr::parse("127.0.0.1:6276").unwrap();
        assert_eq!(a.port, 6276);
        let a = ServerAddr::parse("[::1]:7000").unwrap();
        assert_eq!((a.host.as_str(), a.port), ("::1", 7000));
        assert_eq!(a.to_string(), "grpc://::1:7000");
        assert!(ServerAddr::parse("").is_err());
        assert!(ServerAddr::parse("host:notaport").is_err());
    }
}
