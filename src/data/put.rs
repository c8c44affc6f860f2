//! One topic's DoPut: a task that owns the RPC and is fed batches through a bounded channel.
//!
//! Ending the request stream normally *commits* the topic (the server writes it and locks it). A
//! reset is no safe way to discard it: tonic hands a server a client's cancelled (RST_STREAM
//! CANCEL) request stream as a normal end of stream, and mosaicod then goes on to write the topic
//! until hyper drops its handler (measured: a cancelled stream's data file and chunk persisted, in
//! an unlocked topic that DoGet reads). So the stream ends cleanly only after the explicit end
//! marker [`Upload::finish`] sends; the input going away without it never ends the stream. To
//! discard, [`Upload::cancel`] sends a message no server accepts (a FlightData without an IPC
//! header): the server fails the DoPut on it, before any end of stream, and answers with an error,
//! which confirms the discard. Only a server that does not answer in time gets a reset.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::{FlightData, FlightDescriptor};
use futures::stream::BoxStream;
use futures::StreamExt;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, info_span, warn, Instrument};

use crate::control::FlightClient;
use crate::error::{Error, Result};

/// What reached the server for one topic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UploadStats {
    pub batches: u64,
    pub rows: u64,
    /// Bytes of Arrow IPC sent (headers and bodies).
    pub wire_bytes: u64,
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    rows: AtomicU64,
    wire_bytes: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> UploadStats {
        UploadStats {
            batches: self.batches.load(Ordering::Relaxed),
            rows: self.rows.load(Ordering::Relaxed),
            wire_bytes: self.wire_bytes.load(Ordering::Relaxed),
        }
    }
}

/// What the DoPut task's input carries.
enum Input {
    Batch(RecordBatch),
    /// The explicit end of the topic: only after it does the request stream end (and commit).
    End,
}

/// How a discarded upload ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discard {
    /// The server refused the stream (on the discard marker, or the stream had already failed,
    /// e.g. with the connection): it saw an error, never an end of stream.
    Confirmed,
    /// The server did not answer the marker in time; the RPC was reset.
    Reset,
    /// Nothing to discard: the upload had finished or was discarded before.
    Nothing,
}

/// How long a discard waits for the server to refuse the stream before resetting it.
pub const DISCARD_WAIT: Duration = Duration::from_secs(10);

/// The discard marker: a FlightData without an IPC message header. Every Flight server decodes
/// the header of each message and fails the stream on this one (mosaicod: `error during data
/// streaming`), before any end of stream could commit what came before.
fn discard_marker() -> FlightData {
    FlightData {
        app_metadata: bytes::Bytes::from_static(b"mosaico_bridge: upload cancelled, discard it"),
        ..Default::default()
    }
}

pub struct Upload {
    topic: String,
    tx: Option<mpsc::Sender<Input>>,
    discard: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<()>>>,
    failure: Arc<Mutex<Option<String>>>,
    counters: Arc<Counters>,
    discarded: bool,
}

/// Largest FlightData message the encoder aims for; a single row larger than this still goes whole.
pub const TARGET_FLIGHT_DATA_BYTES: usize = 8 << 20;

/// The request stream's state: the encoded input, until the discard marker has gone out.
struct Feed {
    encoded: BoxStream<'static, std::result::Result<FlightData, FlightError>>,
    discard: oneshot::Receiver<()>,
    discarded: bool,
    encoding_error: Arc<Mutex<Option<String>>>,
    counters: Arc<Counters>,
}

impl Upload {
    /// Opens the DoPut: the first message carries `descriptor` and `schema` (even if no batch follows).
    pub fn start(
        mut client: FlightClient,
        descriptor: FlightDescriptor,
        schema: SchemaRef,
        topic: String,
        max_in_flight: usize,
    ) -> Upload {
        let (tx, rx) = mpsc::channel::<Input>(max_in_flight.max(1));
        let (discard_tx, discard_rx) = oneshot::channel::<()>();
        let failure = Arc::new(Mutex::new(None::<String>));
        let counters = Arc::new(Counters::default());
        let (fail, count) = (failure.clone(), counters.clone());
        let span = info_span!("do_put", topic = %topic);
        let task = tokio::spawn(
            async move {
                let input = futures::stream::unfold(rx, |mut rx| async move {
                    match rx.recv().await {
                        Some(Input::Batch(b)) => Some((b, rx)),
                        Some(Input::End) => None,
                        // The input went away without the end marker: the stream must not end
                        // (that would commit); the discard marker follows.
                        None => futures::future::pending().await,
                    }
                })
                .map({
                    let count = count.clone();
                    move |b: RecordBatch| {
                        count.batches.fetch_add(1, Ordering::Relaxed);
                        count.rows.fetch_add(b.num_rows() as u64, Ordering::Relaxed);
                        Ok::<_, FlightError>(b)
                    }
                });
                let encoded = FlightDataEncoderBuilder::new()
                    .with_schema(schema)
                    .with_flight_descriptor(Some(descriptor))
                    .with_max_flight_data_size(TARGET_FLIGHT_DATA_BYTES)
                    .build(input)
                    .boxed();
                let encoding_error = Arc::new(Mutex::new(None::<String>));
                let feed = Feed {
                    encoded,
                    discard: discard_rx,
                    discarded: false,
                    encoding_error: encoding_error.clone(),
                    counters: count,
                };
                let request = futures::stream::unfold(feed, next_message);
                let call = async move {
                    let mut replies = client
                        .do_put(request)
                        .await
                        .map_err(|s| Error::from_status(&s, "do_put", ""))?
                        .into_inner();
                    while replies
                        .message()
                        .await
                        .map_err(|s| Error::from_status(&s, "do_put", ""))?
                        .is_some()
                    {}
                    Ok::<(), Error>(())
                };
                let mut r = call.await;
                // An encoding error discarded the stream: it is the cause, not the server's refusal.
                if let Some(msg) = encoding_error.lock().unwrap().take() {
                    r = Err(Error::Protocol {
                        what: "do_put encoding".into(),
                        detail: msg,
                    });
                }
                if let Err(e) = &r {
                    *fail.lock().unwrap() = Some(e.to_string());
                }
                debug!(ok = r.is_ok(), "do_put ended");
                r
            }
            .instrument(span),
        );
        Upload {
            topic,
            tx: Some(tx),
            discard: Some(discard_tx),
            task: Some(task),
            failure,
            counters,
            discarded: false,
        }
    }

    fn failed(&self) -> Error {
        let msg = self
            .failure
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_else(|| "the stream ended early".into());
        Error::Upload {
            topic: self.topic.clone(),
            message: msg,
        }
    }

    /// Queues a batch; waits while `max_in_flight` batches are queued (backpressure).
    pub async fn send(&self, batch: RecordBatch) -> Result<()> {
        let tx = self
            .tx
            .as_ref()
            .ok_or_else(|| Error::Closed(format!("upload of {}", self.topic)))?;
        tx.send(Input::Batch(batch))
            .await
            .map_err(|_| self.failed())
    }

    pub fn stats(&self) -> UploadStats {
        self.counters.snapshot()
    }

    /// Ends the stream with the end marker (commit) and waits for the server's final status.
    pub async fn finish(&mut self) -> Result<UploadStats> {
        if self.discarded {
            return Err(Error::Closed(format!(
                "upload of {} (discarded)",
                self.topic
            )));
        }
        if let Some(tx) = self.tx.take() {
            // A failed task has dropped its input: its own error is the outcome, below.
            let _ = tx.send(Input::End).await;
        }
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(r) => r.map_err(|e| Error::Upload {
                    topic: self.topic.clone(),
                    message: e.to_string(),
                })?,
                Err(e) => {
                    return Err(Error::Upload {
                        topic: self.topic.clone(),
                        message: format!("upload task: {e}"),
                    })
                }
            }
        }
        Ok(self.stats())
    }

    /// Starts the discard (the marker goes out next) and hands back the task to watch.
    fn start_discard(&mut self) -> Option<JoinHandle<Result<()>>> {
        let task = self.task.take()?;
        self.discarded = true;
        if let Some(d) = self.discard.take() {
            let _ = d.send(());
        }
        // Dropping the input is safe now: without the end marker the stream never ends.
        self.tx = None;
        Some(task)
    }

    /// Discards the stream and waits (at most [`DISCARD_WAIT`]) until the server has refused it.
    pub async fn discard(&mut self) -> Discard {
        let Some(task) = self.start_discard() else {
            return Discard::Nothing;
        };
        watch_discard(&self.topic, task).await
    }

    /// Discards the stream without waiting (the server's refusal is awaited in the background).
    pub fn cancel(&mut self) {
        let Some(task) = self.start_discard() else {
            return;
        };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let topic = self.topic.clone();
            rt.spawn(async move {
                watch_discard(&topic, task).await;
            });
        } else {
            // No runtime runs the task any more: nothing can reach the server.
            task.abort();
        }
    }

    pub fn is_open(&self) -> bool {
        self.task.as_ref().is_some_and(|t| !t.is_finished())
    }
}

/// The next message of the request stream: the encoded input, or the discard marker once asked
/// for (or once the input cannot be encoded), after which the stream stays open until the server
/// has answered.
async fn next_message(mut f: Feed) -> Option<(FlightData, Feed)> {
    if f.discarded {
        return futures::future::pending().await;
    }
    let next = tokio::select! {
        biased;
        // Asked for, or the Upload is gone without finish().
        _ = &mut f.discard => None,
        m = f.encoded.next() => Some(m),
    };
    match next {
        Some(Some(Ok(fd))) => {
            f.counters.wire_bytes.fetch_add(
                (fd.data_header.len() + fd.data_body.len()) as u64,
                Ordering::Relaxed,
            );
            Some((fd, f))
        }
        // The end marker came through: the clean end of stream commits the topic.
        Some(None) => None,
        Some(Some(Err(e))) => {
            // A batch that cannot be encoded must not leave a committed partial topic behind.
            *f.encoding_error.lock().unwrap() = Some(e.to_string());
            f.discarded = true;
            Some((discard_marker(), f))
        }
        None => {
            f.discarded = true;
            Some((discard_marker(), f))
        }
    }
}

/// Waits for a discarded stream's task: the server's refusal confirms it; no answer in
/// [`DISCARD_WAIT`] resets the RPC.
async fn watch_discard(topic: &str, mut task: JoinHandle<Result<()>>) -> Discard {
    match tokio::time::timeout(DISCARD_WAIT, &mut task).await {
        Ok(Ok(Err(_))) => Discard::Confirmed,
        Ok(Ok(Ok(()))) => {
            // Only a server that accepts a message without a header gets here.
            warn!(%topic, "the server accepted the discarded stream of the topic");
            Discard::Confirmed
        }
        Ok(Err(_)) => Discard::Reset,
        Err(_) => {
            warn!(%topic, wait = ?DISCARD_WAIT, "the server did not refuse the discarded stream in time; resetting it (mosaicod may still write the data it received into the unlocked topic)");
            task.abort();
            Discard::Reset
        }
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        // An upload dropped without finish() never commits silently.
        self.cancel();
    }
}
