//! [`MosaicoClient`]: the three planes behind one handle.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tracing::{info, instrument, warn};

use super::reader::{SequenceHandler, TopicHandler};
use super::sequence_writer::{OnError, SequenceWriter, WriterOptions};
use crate::control::channel::{ConnectOptions, FlightChannel, Limits, ServerAddr};
use crate::control::{ControlPlane, RetryPolicy};
use crate::data::DataPlane;
use crate::error::{Error, Result};
use crate::names;
use crate::ontology::Ontology;
use crate::processing::ProcessingPool;
use crate::protocol::detect::{detect, legacy_info, protocol_for};
use crate::protocol::{Generation, Notification, Protocol, ServerInfo, Target};
use crate::query::{Query, QueryItem};

pub(crate) struct ClientInner {
    pub addr: ServerAddr,
    pub info: ServerInfo,
    pub protocol: Arc<dyn Protocol>,
    pub control: ControlPlane,
    pub data: DataPlane,
    pub processing: ProcessingPool,
    pub closed: AtomicBool,
}

impl ClientInner {
    pub fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::Closed("client".into()))
        } else {
            Ok(())
        }
    }
}

/// A connection to a Mosaico server. Cheap to clone; connections close when the last clone drops.
#[derive(Clone)]
pub struct MosaicoClient {
    pub(crate) inner: Arc<ClientInner>,
}

impl std::fmt::Debug for MosaicoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MosaicoClient")
            .field("addr", &self.inner.addr.to_string())
            .field("generation", &self.inner.info.generation)
            .field("data_channels", &self.inner.data.len())
            .finish()
    }
}

impl MosaicoClient {
    /// Connects with default options; fails with a clear error within `timeout` if nothing listens.
    pub async fn connect(host: &str, port: u16, timeout: Duration) -> Result<Self> {
        let addr = ServerAddr {
            host: host.to_string(),
            port,
            tls: false,
        };
        Self::connect_with(
            &addr,
            ConnectOptions {
                timeout,
                ..Default::default()
            },
        )
        .await
    }

    #[instrument(skip(addr, opts), fields(server = %addr))]
    pub async fn connect_with(addr: &ServerAddr, opts: ConnectOptions) -> Result<Self> {
        let started = std::time::Instant::now();
        // Detect without compression: a legacy server rejects gzip-encoded requests.
        let plain = ConnectOptions {
            gzip: false,
            ..opts.clone()
        };
        let control_channel = FlightChannel::connect(addr, &plain).await?;
        // The probe's calls are bounded by what is left of the connect timeout.
        let probe = ControlPlane::new(&control_channel, Limits::default(), RetryPolicy::default())
            .with_deadline(opts.timeout);
        // A forced generation is still checked: the other one fails later with texts such as
        // "unsupported descriptor type" that say nothing of the cause.
        let left = opts
            .timeout
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(100));
        let found = detect(&probe, left).await?;
        let info = match (opts.generation, found.generation) {
            (Some(want), got) if want != got => {
                return Err(Error::Unsupported(format!(
                    "{addr} speaks the {got} protocol, not the {want} one: drop --generation \
                     (the protocol is detected)"
                )));
            }
            (Some(Generation::Legacy), _) => legacy_info(),
            _ => found,
        };
        let mut opts = opts;
        if opts.gzip && info.generation == Generation::Legacy {
            warn!("gzip compression requested but the legacy server does not accept it: sending uncompressed");
            opts.gzip = false;
        }
        let limits = Limits {
            max_send: info.max_decode_bytes,
            max_recv: info.max_encode_bytes + (16 << 20),
        };
        let control_channel = if opts.gzip {
            FlightChannel::connect(addr, &opts).await?
        } else {
            control_channel
        };
        let control = ControlPlane::new(&control_channel, limits, RetryPolicy::default())
            .with_deadline(opts.call_timeout);
        let data = DataPlane::connect(addr, &opts, opts.data_channels, limits).await?;
        let processing = ProcessingPool::new(opts.workers);
        info!(
            generation = %info.generation,
            version = info.version.as_deref().unwrap_or("-"),
            data_channels = data.len(),
            workers = processing.workers(),
            "connected"
        );
        Ok(MosaicoClient {
            inner: Arc::new(ClientInner {
                addr: addr.clone(),
                protocol: protocol_for(info.generation),
                info,
                control,
                data,
                processing,
                closed: AtomicBool::new(false),
            }),
        })
    }

    pub fn server_info(&self) -> &ServerInfo {
        &self.inner.info
    }

    pub fn generation(&self) -> Generation {
        self.inner.info.generation
    }

    pub fn addr(&self) -> &ServerAddr {
        &self.inner.addr
    }

    /// The ontology the connected server's readers expect.
    pub fn ontology(&self) -> &'static Ontology {
        self.inner.protocol.ontology()
    }

    pub fn processing(&self) -> &ProcessingPool {
        &self.inner.processing
    }

    pub fn data_channels(&self) -> usize {
        self.inner.data.len()
    }

    /// Refuses further calls through every clone; connections close when the last clone drops.
    pub fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
    }

    /// Creates a sequence and returns its writer. Topics are created lazily through the writer.
    pub async fn sequence_create(
        &self,
        name: &str,
        user_metadata: Value,
        on_error: OnError,
    ) -> Result<SequenceWriter> {
        self.sequence_create_with(name, user_metadata, on_error, WriterOptions::default())
            .await
    }

    pub async fn sequence_create_with(
        &self,
        name: &str,
        user_metadata: Value,
        on_error: OnError,
        options: WriterOptions,
    ) -> Result<SequenceWriter> {
        self.inner.check_open()?;
        let name = names::sequence_name(name)?;
        let session = self
            .inner
            .protocol
            .create_sequence(&self.inner.control, name, &user_metadata)
            .await?;
        Ok(SequenceWriter::new(
            self.inner.clone(),
            session,
            on_error,
            options,
        ))
    }

    /// Opens a new session on an existing sequence to add new topics (current servers only).
    pub async fn sequence_update(
        &self,
        name: &str,
        on_error: OnError,
        options: WriterOptions,
    ) -> Result<SequenceWriter> {
        self.inner.check_open()?;
        let name = names::sequence_name(name)?;
        let session = self
            .inner
            .protocol
            .open_session(&self.inner.control, name)
            .await?;
        Ok(SequenceWriter::new(
            self.inner.clone(),
            session,
            on_error,
            options,
        ))
    }

    pub async fn sequence_handler(&self, name: &str) -> Result<SequenceHandler> {
        self.inner.check_open()?;
        let name = names::sequence_name(name)?;
        let info = self
            .inner
            .protocol
            .sequence_info(&self.inner.control, name)
            .await?;
        Ok(SequenceHandler::new(self.inner.clone(), info))
    }

    pub async fn topic_handler(&self, sequence: &str, topic: &str) -> Result<TopicHandler> {
        self.inner.check_open()?;
        let locator = names::topic_locator(sequence, topic)?;
        let info = self
            .inner
            .protocol
            .topic_info(&self.inner.control, &locator)
            .await?;
        Ok(TopicHandler::new(self.inner.clone(), info))
    }

    pub async fn list_sequences(&self) -> Result<Vec<String>> {
        self.inner.check_open()?;
        self.inner
            .protocol
            .list_sequences(&self.inner.control)
            .await
    }

    /// Deletes an unlocked sequence; a finalized one gives [`Error::Locked`].
    pub async fn sequence_delete(&self, name: &str) -> Result<()> {
        self.inner.check_open()?;
        let name = names::sequence_name(name)?;
        self.inner
            .protocol
            .delete_sequence(&self.inner.control, name)
            .await
    }

    /// Deletes one unlocked session (`seq:<ULID>`) of a sequence (current servers only).
    pub async fn session_delete(&self, locator: &str) -> Result<()> {
        self.inner.check_open()?;
        let (sequence, _) = locator.split_once(':').ok_or_else(|| Error::InvalidName {
            name: locator.to_string(),
            reason: "a session locator is `<sequence>:<ULID>`".into(),
        })?;
        let session = crate::protocol::Session {
            sequence: names::sequence_name(sequence)?.to_string(),
            key: String::new(),
            locator: Some(locator.to_string()),
            created_sequence: false,
        };
        self.inner
            .protocol
            .discard(&self.inner.control, &session)
            .await
    }

    pub async fn notifications(&self, target: Target, locator: &str) -> Result<Vec<Notification>> {
        self.inner.check_open()?;
        let locator = checked_locator(target, locator)?;
        self.inner
            .protocol
            .list_notifications(&self.inner.control, target, &locator)
            .await
    }

    pub async fn notify(&self, target: Target, locator: &str, msg: &str) -> Result<()> {
        self.inner.check_open()?;
        let locator = checked_locator(target, locator)?;
        self.inner
            .protocol
            .notify(&self.inner.control, target, &locator, msg)
            .await
    }

    pub async fn purge_notifications(&self, target: Target, locator: &str) -> Result<()> {
        self.inner.check_open()?;
        let locator = checked_locator(target, locator)?;
        self.inner
            .protocol
            .purge_notifications(&self.inner.control, target, &locator)
            .await
    }

    /// Runs a catalogue query, checked against this server's ontology first
    /// ([`Query::resolve`]); `~` patterns mean the same on both generations.
    pub async fn query(&self, q: &Query) -> Result<Vec<QueryItem>> {
        self.inner.check_open()?;
        let exact = q.resolve(self.generation())?.query;
        let items = self
            .inner
            .protocol
            .query(&self.inner.control, &exact)
            .await?;
        Ok(exact.narrow(items))
    }
}

fn checked_locator(target: Target, locator: &str) -> Result<String> {
    match target {
        Target::Sequence => Ok(names::sequence_name(locator)?.to_string()),
        Target::Topic => {
            let (s, t) = names::split_locator(locator)?;
            let t = t.ok_or_else(|| Error::InvalidName {
                name: locator.into(),
                reason: "expected SEQUENCE/TOPIC".into(),
            })?;
            names::topic_locator(&s, &t)
        }
    }
}
