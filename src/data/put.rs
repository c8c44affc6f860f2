//! One topic's DoPut: a task that owns the RPC and is fed batches through a bounded channel.
//!
//! Ending the request stream normally *commits* the topic (the server writes it and locks it);
//! cancelling the RPC discards it. So [`Upload::finish`] closes the channel and awaits the server's
//! final status, and [`Upload::cancel`] aborts the task, which resets the HTTP/2 stream.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use arrow_flight::FlightDescriptor;
use futures::StreamExt;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, info_span, Instrument};

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

pub struct Upload {
    topic: String,
    tx: Option<mpsc::Sender<RecordBatch>>,
    task: Option<JoinHandle<Result<()>>>,
    failure: Arc<Mutex<Option<String>>>,
    counters: Arc<Counters>,
}

/// Largest FlightData message the encoder aims for; a single row larger than this still goes whole.
pub const TARGET_FLIGHT_DATA_BYTES: usize = 8 << 20;

impl Upload {
    /// Opens the DoPut: the first message carries `descriptor` and `schema` (even if no batch follows).
    pub fn start(
        mut client: FlightClient,
        descriptor: FlightDescriptor,
        schema: SchemaRef,
        topic: String,
        max_in_flight: usize,
    ) -> Upload {
        let (tx, rx) = mpsc::channel::<RecordBatch>(max_in_flight.max(1));
        let failure = Arc::new(Mutex::new(None::<String>));
        let counters = Arc::new(Counters::default());
        let (fail, count) = (failure.clone(), counters.clone());
        let span = info_span!("do_put", topic = %topic);
        let task = tokio::spawn(
            async move {
                let input = tokio_stream::wrappers::ReceiverStream::new(rx).map({
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
                    .build(input);
                // An encoding error must not end the stream cleanly (that would commit a partial
                // topic): record it and stall the request so the RPC is cancelled below.
                let (enc_err_tx, enc_err_rx) = tokio::sync::oneshot::channel::<String>();
                let mut enc_err_tx = Some(enc_err_tx);
                let request = encoded.filter_map(move |r| {
                    let out = match r {
                        Ok(fd) => {
                            count.wire_bytes.fetch_add((fd.data_header.len() + fd.data_body.len()) as u64, Ordering::Relaxed);
                            Some(fd)
                        }
                        Err(e) => {
                            if let Some(t) = enc_err_tx.take() {
                                let _ = t.send(e.to_string());
                            }
                            None
                        }
                    };
                    futures::future::ready(out)
                });
                let call = async move {
                    let mut replies = client
                        .do_put(request)
                        .await
                        .map_err(|s| Error::from_status(&s, "do_put", ""))?
                        .into_inner();
                    while replies.message().await.map_err(|s| Error::from_status(&s, "do_put", ""))?.is_some() {}
                    Ok::<(), Error>(())
                };
                let r = tokio::select! {
                    r = call => r,
                    Ok(msg) = enc_err_rx => Err(Error::Protocol { what: "do_put encoding".into(), detail: msg }),
                };
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
            task: Some(task),
            failure,
            counters,
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
        tx.send(batch).await.map_err(|_| self.failed())
    }

    pub fn stats(&self) -> UploadStats {
        self.counters.snapshot()
    }

    /// Ends the stream (commit) and waits for the server's final status.
    pub async fn finish(&mut self) -> Result<UploadStats> {
        self.tx = None;
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

    /// Cancels the RPC: the server discards whatever this stream sent.
    pub fn cancel(&mut self) {
        // Closing the input first would end the request stream cleanly, i.e. commit: abort the call,
        // and let the input go only once the task is gone.
        let tx = self.tx.take();
        if let Some(task) = self.task.take() {
            task.abort();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    let _ = task.await;
                    drop(tx);
                });
            }
        }
    }

    pub fn is_open(&self) -> bool {
        self.task.as_ref().is_some_and(|t| !t.is_finished())
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        // An upload dropped without finish() never commits silently.
        self.cancel();
    }
}
