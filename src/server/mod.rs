//! A Flight server that behaves like `mosaicod` as the protocol references document it — the same
//! actions, JSON shapes, error texts and status codes, locking rules and quirks — for either protocol
//! generation, in memory.
//!
//! It is a stand-in for tests and demos (`mosaico-bridge dev-server`), not a production store:
//! nothing is persisted, data is held in RAM, and there is no authorization beyond one optional API
//! key. What it mirrors on purpose, because clients must survive it:
//! * a topic locks when its DoPut ends normally; a broken stream leaves it unlocked, its data gone;
//! * finalize refuses unlocked topics; finalized sequences (sessions) refuse delete;
//! * DoGet answers top-level strings/binaries as `Utf8View`/`BinaryView`;
//! * the current generation accepts gzip-compressed messages; the legacy one refuses them;
//! * legacy: an empty topic has no data file (GetFlightInfo/DoGet fail), `$eq` on data matches only
//!   constant columns, an empty `$in` kills the server, so does a DoGet of a topic whose rows
//!   average more than the target message size (half the message limit), deleting the empty name
//!   wipes every object.

mod actions;
mod flight;
pub(crate) mod query;
mod reset;
pub mod store;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow_flight::flight_service_server::FlightServiceServer;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::protocol::Generation;

pub use flight::API_KEY_HEADER;

/// mosaicod's default gRPC message limit (`MOSAICO_MAX_MESSAGE_SIZE_IN_BYTES`).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 50 << 20;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub generation: Generation,
    /// Current generation: every call must carry this key (`mosaico-api-key-token`).
    pub api_key: Option<String>,
    /// gRPC decode/encode limit, advertised by `info` on the current generation.
    pub max_message_bytes: usize,
    /// Current generation: accept gzip-compressed messages and answer compressed requests in kind,
    /// as today's servers do (the SDK's `compression=Gzip`). A legacy server never does.
    pub accept_gzip: bool,
    /// Serve TLS with this certificate chain and key (PEM) instead of plain HTTP/2.
    pub tls: Option<TlsIdentity>,
}

/// A server certificate chain and its private key, PEM.
#[derive(Debug, Clone)]
pub struct TlsIdentity {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            generation: Generation::Current,
            api_key: None,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            accept_gzip: true,
            tls: None,
        }
    }
}

impl ServerConfig {
    pub fn legacy() -> Self {
        ServerConfig {
            generation: Generation::Legacy,
            ..Default::default()
        }
    }
}

/// Serves until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<()> {
    let limit = config.max_message_bytes;
    let gzip = config.accept_gzip && config.generation == Generation::Current;
    let mut server = tonic::transport::Server::builder();
    if let Some(id) = &config.tls {
        let identity = tonic::transport::Identity::from_pem(&id.cert_pem, &id.key_pem);
        server = server
            .tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))
            .map_err(|e| Error::Config(format!("test server TLS: {e}")))?;
    }
    let service = flight::MosaicoFlight {
        store: Arc::new(Mutex::new(store::Store::new())),
        config: Arc::new(config),
    };
    let mut svc = FlightServiceServer::new(service)
        .max_decoding_message_size(limit)
        .max_encoding_message_size(limit);
    if gzip {
        use tonic::codec::CompressionEncoding::Gzip;
        svc = svc.accept_compressed(Gzip).send_compressed(Gzip);
    }
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    // Windows sized for multi-MB rows: with h2's defaults one DoPut stream waits on a
    // WINDOW_UPDATE every 64 KiB and tops out far below what the client sends.
    server
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .tcp_nodelay(true)
        .initial_stream_window_size(Some(8 << 20))
        .initial_connection_window_size(Some(32 << 20))
        .layer(tower::layer::layer_fn(reset::WatchResets))
        .add_service(svc)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .map_err(|e| Error::Transport {
            what: "test server".into(),
            message: e.to_string(),
        })
}

/// A server on `127.0.0.1:<free port>` for one test; shut down explicitly or on drop.
pub struct TestServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<()>>>,
    pub config: ServerConfig,
}

impl TestServer {
    pub async fn start(config: ServerConfig) -> Result<TestServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(serve(listener, config.clone(), async {
            let _ = rx.await;
        }));
        Ok(TestServer {
            addr,
            stop: Some(tx),
            task: Some(task),
            config,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `127.0.0.1:<port>`, as `--server` takes it.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Stops accepting and waits (up to 5 s) for open calls to end.
    pub async fn shutdown(mut self) -> Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(t) => match tokio::time::timeout(Duration::from_secs(5), t).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => Err(Error::Transport {
                    what: "test server".into(),
                    message: e.to_string(),
                }),
                Err(_) => Err(Error::Timeout {
                    after: Duration::from_secs(5),
                    what: "test server shutdown".into(),
                }),
            },
            None => Ok(()),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}
