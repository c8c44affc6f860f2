//! Raw subscriptions and publishers on plain DDS readers and writers (see [`super::raw`]).
//!
//! Each subscription has its own delivery thread: `on_message` may block (the recorder's
//! backpressure), and then only that reader's history fills, while discovery, other topics and
//! the node's services carry on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::thread::{self, ThreadId};
use std::time::Duration;

use futures::future::{select, Either};
use futures::StreamExt;
use rustdds::no_key::{DataWriter, SimpleDataReader};
use rustdds::{policy, QosPolicies, QosPolicyBuilder, RTPSEntity};

use super::graph::{Gid, GraphState};
use super::raw::{split_header, CdrBody, CdrLeWriterAdapter, RawCdr, RawCdrAdapter};
use crate::transport::{
    now_ns, Durability, OnMessage, Qos, RawMessage, RawPublisher, Reliability, Subscription,
    TransportError,
};

/// How long a reliable `publish` may wait for room in the writer's send window before failing
/// (rmw's default `max_blocking_time`).
const MAX_BLOCKING: rustdds::Duration = rustdds::Duration::from_millis(100);

/// How long dropping a subscription waits for its delivery thread (it finishes the message in
/// hand first, which may block on the consumer).
const STOP_WAIT: Duration = Duration::from_secs(2);

/// The DDS policies of a ROS QoS profile.
pub fn dds_qos(qos: Qos) -> QosPolicies {
    QosPolicyBuilder::new()
        .reliability(match qos.reliability {
            Reliability::Reliable => policy::Reliability::Reliable {
                max_blocking_time: MAX_BLOCKING,
            },
            Reliability::BestEffort => policy::Reliability::BestEffort,
        })
        .durability(match qos.durability {
            Durability::Volatile => policy::Durability::Volatile,
            Durability::TransientLocal => policy::Durability::TransientLocal,
        })
        .history(policy::History::KeepLast {
            depth: qos.depth.clamp(1, i32::MAX as u32) as i32,
        })
        .build()
}

/// The policies of a reader (and of its topic): [`dds_qos`], and for a volatile topic the history's
/// depth as the resource limit. Without one RustDDS keeps up to 64 samples of a topic in its cache
/// whatever the depth, taken ones too: 64 frames of 1080p rgb8 are ~400 MB (measured with heaptrack
/// at 1080p@30 + 128×2048 points@10: ~0.6 GB of the recorder's peak). Latched topics keep the
/// default, so every publisher's latched samples still fit.
pub fn reader_qos(qos: Qos) -> QosPolicies {
    let policies = dds_qos(qos);
    if qos.durability == Durability::TransientLocal {
        return policies;
    }
    let depth = qos.depth.clamp(1, i32::MAX as u32) as i32;
    let limits = QosPolicyBuilder::new()
        .resource_limits(policy::ResourceLimits {
            max_samples: depth,
            max_instances: 1,
            max_samples_per_instance: depth,
        })
        .build();
    policies.modify_by(&limits)
}

pub type RawReader = SimpleDataReader<RawCdr, RawCdrAdapter>;
pub type RawWriter = DataWriter<CdrBody, CdrLeWriterAdapter>;

/// A subscription: its delivery thread owns the DDS reader and deletes it on exit.
pub struct DdsSubscription {
    topic: String,
    stopped: Arc<AtomicBool>,
    stop: Option<futures::channel::oneshot::Sender<()>>,
    done: crossbeam_channel::Receiver<()>,
    thread: ThreadId,
    /// Samples the writers sent that never reached this reader (sequence-number gaps).
    lost: Arc<AtomicU64>,
}

impl DdsSubscription {
    /// Starts delivering the samples of `reader` to `on_message`; with `since`, only those the
    /// participant received from then on.
    pub fn start(
        topic: String,
        reader: RawReader,
        on_message: OnMessage,
        since: Option<rustdds::Timestamp>,
    ) -> Result<Self, std::io::Error> {
        let stopped = Arc::new(AtomicBool::new(false));
        let (stop_tx, stop_rx) = futures::channel::oneshot::channel::<()>();
        let (done_tx, done_rx) = crossbeam_channel::bounded(1);
        let flag = stopped.clone();
        let name = topic.clone();
        let lost = Arc::new(AtomicU64::new(0));
        let gaps = lost.clone();
        let handle = thread::Builder::new()
            .name(format!("dds-sub {topic}"))
            .spawn(move || {
                deliver(&name, &reader, &on_message, &flag, &gaps, since, stop_rx);
                // The reader is deleted (and un-announced) here, before saying we are done.
                drop(reader);
                let _ = done_tx.send(());
            })?;
        Ok(DdsSubscription {
            thread: handle.thread().id(),
            topic,
            stopped,
            stop: Some(stop_tx),
            done: done_rx,
            lost,
        })
    }
}

/// Samples the middleware lost, from each writer's sequence numbers (1, 2, 3...): RustDDS reports
/// no SAMPLE_LOST status. A jump counts the numbers skipped (network, or a full reader history); a
/// sample older than the last one seen arrived late, after it was counted, so it is taken back;
/// a writer's first sample is its baseline.
#[derive(Default)]
struct Gaps(HashMap<rustdds::GUID, i64>);

impl Gaps {
    /// The change in the lost count for sample `seq` of `writer`.
    fn seen(&mut self, writer: rustdds::GUID, seq: i64) -> i64 {
        match self.0.get_mut(&writer) {
            None => {
                self.0.insert(writer, seq);
                0
            }
            Some(last) if seq > *last => {
                let skipped = seq - *last - 1;
                *last = seq;
                skipped
            }
            Some(last) if seq < *last => -1,
            Some(_) => 0,
        }
    }
}

/// Delivers samples until stopped; samples the participant received before `since` are skipped.
fn deliver(
    topic: &str,
    reader: &RawReader,
    on_message: &OnMessage,
    stopped: &AtomicBool,
    lost: &AtomicU64,
    since: Option<rustdds::Timestamp>,
    mut stop: futures::channel::oneshot::Receiver<()>,
) {
    let mut gaps = Gaps::default();
    let stream = reader.as_async_stream();
    futures::pin_mut!(stream);
    futures::executor::block_on(async {
        loop {
            match select(stream.next(), &mut stop).await {
                Either::Left((Some(Ok(change)), _)) => {
                    if stopped.load(Ordering::Acquire) {
                        break;
                    }
                    if since.is_some_and(|t| change.receive_instant < t) {
                        continue;
                    }
                    let (writer, seq) = (change.writer_guid(), i64::from(change.sequence_number));
                    match gaps.seen(writer, seq) {
                        d if d > 0 => {
                            lost.fetch_add(d as u64, Ordering::Relaxed);
                        }
                        d if d < 0 => {
                            let _ = lost.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                                Some(n.saturating_sub(1))
                            });
                        }
                        _ => {}
                    }
                    let publisher = Some(hex::encode(change.writer_guid().to_bytes()));
                    let RawCdr(cdr) = change.into_value();
                    on_message(RawMessage {
                        cdr,
                        received_ns: now_ns(),
                        publisher,
                    });
                }
                Either::Left((Some(Err(e)), _)) => {
                    tracing::warn!(topic, error = %e, "dropped a sample that could not be read");
                }
                Either::Left((None, _)) | Either::Right(_) => break,
            }
        }
    });
    tracing::debug!(topic, "subscription delivery stopped");
}

impl Subscription for DdsSubscription {
    fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }
}

impl Drop for DdsSubscription {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::Release);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Dropped from inside `on_message`: the thread ends after it returns.
        if thread::current().id() == self.thread {
            return;
        }
        // `Disconnected`: the thread is gone already (a panicking `on_message`).
        if let Err(crossbeam_channel::RecvTimeoutError::Timeout) = self.done.recv_timeout(STOP_WAIT)
        {
            tracing::warn!(topic = %self.topic,
                "the subscription's consumer is still busy; its DDS reader is deleted once it returns");
        }
    }
}

/// A raw publisher; its writer is listed in the graph while it lives.
pub struct DdsPublisher {
    topic: String,
    writer: RawWriter,
    gid: Gid,
    graph: Weak<GraphState>,
}

impl DdsPublisher {
    pub fn new(topic: String, writer: RawWriter, graph: &Arc<GraphState>) -> Self {
        DdsPublisher {
            gid: writer.guid().to_bytes(),
            topic,
            writer,
            graph: Arc::downgrade(graph),
        }
    }

    pub fn gid(&self) -> Gid {
        self.gid
    }
}

impl RawPublisher for DdsPublisher {
    fn publish(&self, cdr: &[u8]) -> Result<(), TransportError> {
        let failed = |reason: String| TransportError::Publish {
            topic: self.topic.clone(),
            reason,
        };
        let body = split_header(cdr).map_err(|e| failed(e.to_string()))?;
        self.writer.write(body, None).map_err(|e| {
            failed(match e {
                rustdds::dds::WriteError::WouldBlock { .. } => {
                    "the reliable send window stayed full (subscribers are not keeping up)".into()
                }
                other => other.forget_data().to_string(),
            })
        })
    }
}

impl Drop for DdsPublisher {
    fn drop(&mut self) {
        if let Some(graph) = self.graph.upgrade() {
            graph.remove_local(&self.gid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qos_maps_to_dds_policies() {
        let q = dds_qos(Qos::LATCHED);
        assert!(q.is_reliable());
        assert_eq!(q.durability(), Some(policy::Durability::TransientLocal));
        assert_eq!(q.history(), Some(policy::History::KeepLast { depth: 1 }));
        let q = dds_qos(Qos {
            depth: 0,
            ..Qos::SENSOR_DATA
        });
        assert!(!q.is_reliable());
        assert!(q.is_volatile());
        assert_eq!(q.history(), Some(policy::History::KeepLast { depth: 1 }));
    }

    #[test]
    fn sequence_gaps_count_what_never_came_and_take_back_late_samples() {
        let (a, b) = (
            rustdds::GUID::from_bytes([1; 16]),
            rustdds::GUID::from_bytes([2; 16]),
        );
        let mut g = Gaps::default();
        assert_eq!(g.seen(a, 40), 0, "the first sample is the baseline");
        assert_eq!(g.seen(a, 41), 0);
        assert_eq!(g.seen(a, 45), 3, "42, 43, 44 skipped");
        assert_eq!(g.seen(a, 43), -1, "43 came late");
        assert_eq!(
            g.seen(a, 46),
            0,
            "a late sample does not move the baseline back"
        );
        assert_eq!(g.seen(a, 46), 0, "a duplicate");
        assert_eq!(g.seen(b, 7), 0, "writers are counted apart");
        assert_eq!(g.seen(b, 9), 1);
    }

    #[test]
    fn reader_cache_is_bounded_by_its_depth() {
        let q = reader_qos(Qos {
            depth: 10,
            ..Qos::SENSOR_DATA
        });
        assert!(!q.is_reliable());
        assert_eq!(q.history(), Some(policy::History::KeepLast { depth: 10 }));
        assert_eq!(q.resource_limits().map(|r| r.max_samples), Some(10));
        assert_eq!(dds_qos(Qos::SENSOR_DATA).resource_limits(), None);
        assert_eq!(reader_qos(Qos::LATCHED).resource_limits(), None);
    }
}
