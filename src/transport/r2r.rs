//! rcl through [r2r](https://docs.rs/r2r) (cargo feature `r2r`), for robots built with colcon in a
//! sourced ROS 2. Messages cross as serialized CDR (`subscribe_raw` / `publish_raw`), so decoding
//! stays in [`crate::ros`] as for every backend.
//!
//! # Threads
//!
//! r2r's [`r2r::Node`] is `Send` but not `Sync`, and nothing reaches the application unless
//! `spin_once` is called repeatedly. The node therefore lives on one dedicated thread, created
//! there and never shared: that thread creates and destroys every rcl entity, spins, drains the
//! subscription streams and answers service calls. Other threads talk to it by sending it closures
//! (`Command::Run`) and waiting for their result. An `Arc<Mutex<Node>>` would also be sound, but
//! the spinning thread would hold the lock for the whole `spin_once` wait, so every control call
//! would contend with it, and draining would still have to happen under that lock; owning the node
//! on one thread gives the same safety without the contention. Publishing is the exception:
//! r2r's `PublisherUntyped` is `Send` and only holds a weak handle, and `rcl_publish` is thread-safe,
//! so callers publish from their own threads (a mutex provides the `Sync` the trait requires).
//!
//! # Losses
//!
//! r2r hands each raw subscription's messages to a 10-deep channel that silently drops when full.
//! `spin_once` takes at most one message per subscription, and the node thread drains every
//! channel right after each `spin_once`, so that channel never holds more than one message and
//! never drops. Messages then wait in a per-subscription `Inbox` (keep-last, at least as deep as
//! r2r's channel) for a delivery thread that calls `on_message`; a slow or blocking consumer never
//! holds up spinning. When the inbox overflows its oldest message is discarded, as a keep-last
//! reader history would, and counted in [`Subscription::lost`]. Losses before rcl hands a message
//! over (the middleware's own history, the network) are not visible through r2r.
//!
//! # Trigger services
//!
//! r2r serves only typed services (`create_service::<S>`), so `std_srvs/srv/Trigger` must be among
//! the message packages r2r generated bindings for: a robot build with a sourced ROS 2 has it (it
//! is in `package.xml`; if `IDL_PACKAGE_FILTER` is set it must list `std_srvs`). The bindings
//! bundled in r2r's `doc-only` feature cover 18 packages without `std_srvs`, so under this crate's
//! `r2r-doc-only` feature (type-checking only: there is no rcl to link against) the service
//! plumbing is checked generically and `trigger_service` reports that it is unavailable.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use bytes::Bytes;
use futures::{FutureExt, Stream, StreamExt};
use r2r::qos::{DurabilityPolicy, HistoryPolicy, ReliabilityPolicy};
use r2r::QosProfile;
use tokio::sync::{mpsc, oneshot};

use super::{
    now_ns, resolve_name, Durability, GraphTopic, OnMessage, Publisher, Qos, RawMessage,
    RawPublisher, Reliability, Subscription, Transport, TransportError, TriggerCall,
};

/// How long one `spin_once` waits for work. It bounds the latency of control calls (subscribe,
/// publisher, graph) and of service answers; incoming messages wake the wait at once.
const SPIN_TIMEOUT: Duration = Duration::from_millis(5);

/// The depth of the channel behind r2r's `subscribe_raw`; inboxes are never shallower.
const R2R_CHANNEL_DEPTH: usize = 10;

/// Trigger calls queued towards the application before new ones are refused.
const TRIGGER_QUEUE: usize = 8;

const STOPPED: &str = "the r2r node thread has stopped";

/// Work for the node thread.
enum Command {
    Run(Box<dyn FnOnce(&mut NodeState) + Send>),
    Shutdown,
}

/// Everything owned by the node thread.
struct NodeState {
    node: r2r::Node,
    subscriptions: Vec<Drain>,
    services: Vec<Box<dyn ServicePump>>,
}

impl NodeState {
    fn run(&mut self, commands: &std_mpsc::Receiver<Command>) {
        loop {
            loop {
                match commands.try_recv() {
                    Ok(Command::Run(job)) => job(self),
                    Ok(Command::Shutdown) | Err(std_mpsc::TryRecvError::Disconnected) => return,
                    Err(std_mpsc::TryRecvError::Empty) => break,
                }
            }
            self.node.spin_once(SPIN_TIMEOUT);
            self.subscriptions.retain_mut(Drain::drain);
            self.services.retain_mut(|s| s.pump());
        }
    }

    fn graph(&self) -> Vec<GraphTopic> {
        // Only the names are taken from this list: r2r 0.9.7 reads the type list of a topic with
        // several types wrongly, so types come from each publisher's own endpoint info instead.
        let names = match self.node.get_topic_names_and_types() {
            Ok(names) => names,
            Err(e) => {
                tracing::warn!("r2r: cannot list topics: {e}");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for name in names.into_keys() {
            // rcl reports each publisher with its type and QoS as the middleware discovered them.
            let infos = match self.node.get_publishers_info_by_topic(&name, false) {
                Ok(infos) => infos,
                Err(e) => {
                    tracing::warn!("r2r: cannot list the publishers of {name}: {e}");
                    continue;
                }
            };
            let mut by_type: BTreeMap<String, Vec<Publisher>> = BTreeMap::new();
            for info in &infos {
                by_type
                    .entry(info.topic_type.clone())
                    .or_default()
                    .push(Publisher {
                        gid: hex::encode(info.endpoint_gid),
                        node: node_path(&info.node_namespace, &info.node_name),
                        qos: qos_of(&info.qos_profile),
                    });
            }
            out.extend(
                by_type
                    .into_iter()
                    .map(|(ros_type, publishers)| GraphTopic {
                        name: name.clone(),
                        ros_type,
                        publishers,
                    }),
            );
        }
        out.sort_by(|a, b| (&a.name, &a.ros_type).cmp(&(&b.name, &b.ros_type)));
        out
    }
}

/// A node's fully qualified name, unless the middleware does not know it (a plain DDS participant).
fn node_path(namespace: &str, name: &str) -> Option<String> {
    if name.is_empty() || name == "_NODE_NAME_UNKNOWN_" {
        return None;
    }
    Some(format!("{}/{name}", namespace.trim_end_matches('/')))
}

/// The rcl profile for a reader or writer: keep last `depth`, the rest as ROS 2's default.
fn profile(qos: Qos) -> QosProfile {
    let p = QosProfile::default().keep_last(qos.depth.max(1) as usize);
    let p = match qos.reliability {
        Reliability::Reliable => p.reliable(),
        Reliability::BestEffort => p.best_effort(),
    };
    match qos.durability {
        Durability::Volatile => p.volatile(),
        Durability::TransientLocal => p.transient_local(),
    }
}

/// A discovered endpoint's QoS. rmw reports concrete reliability and durability for discovered
/// endpoints; anything else (system default, unknown, best available) is taken as ROS 2's default
/// (reliable, volatile). DDS discovery does not carry the history, so rmw reports it as unknown
/// (depth 0) for remote writers: the ROS 2 default depth stands in for it then.
fn qos_of(p: &QosProfile) -> Qos {
    Qos {
        reliability: match p.reliability {
            ReliabilityPolicy::BestEffort => Reliability::BestEffort,
            _ => Reliability::Reliable,
        },
        durability: match p.durability {
            DurabilityPolicy::TransientLocal => Durability::TransientLocal,
            _ => Durability::Volatile,
        },
        depth: match p.history {
            HistoryPolicy::KeepLast if p.depth > 0 => u32::try_from(p.depth).unwrap_or(u32::MAX),
            _ => Qos::DEFAULT.depth,
        },
    }
}

/// One subscription's r2r stream, drained by the node thread into its inbox.
struct Drain {
    stream: Box<dyn Stream<Item = Vec<u8>> + Unpin>,
    inbox: Arc<Inbox>,
}

impl Drain {
    /// Moves everything r2r has queued into the inbox without waiting; false once the
    /// subscription is finished. Dropping the stream makes r2r destroy the rcl subscription when
    /// its next message arrives (r2r notices the closed channel only then).
    fn drain(&mut self) -> bool {
        if self.inbox.is_closed() {
            return false;
        }
        loop {
            match self.stream.next().now_or_never() {
                Some(Some(cdr)) => self.inbox.push(RawMessage {
                    cdr: Bytes::from(cdr),
                    received_ns: now_ns(),
                    publisher: None,
                }),
                Some(None) => return false,
                None => return true,
            }
        }
    }
}

/// A keep-last buffer between the node thread and a subscription's delivery thread.
struct Inbox {
    state: Mutex<InboxState>,
    ready: Condvar,
    capacity: usize,
    lost: AtomicU64,
}

struct InboxState {
    queue: VecDeque<RawMessage>,
    closed: bool,
}

impl Inbox {
    fn new(capacity: usize) -> Self {
        Inbox {
            state: Mutex::new(InboxState {
                queue: VecDeque::with_capacity(capacity),
                closed: false,
            }),
            ready: Condvar::new(),
            capacity,
            lost: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, InboxState> {
        // Nothing panics while holding the lock; recover the data if something ever did.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Never blocks: when full, the oldest message makes room and is counted as lost.
    fn push(&self, message: RawMessage) {
        let mut st = self.lock();
        if st.closed {
            return;
        }
        if st.queue.len() >= self.capacity {
            st.queue.pop_front();
            self.lost.fetch_add(1, Ordering::Relaxed);
        }
        st.queue.push_back(message);
        drop(st);
        self.ready.notify_one();
    }

    /// Waits for the next message; `None` once closed.
    fn pop(&self) -> Option<RawMessage> {
        let mut st = self.lock();
        loop {
            if st.closed {
                return None;
            }
            if let Some(message) = st.queue.pop_front() {
                return Some(message);
            }
            st = self.ready.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        st.queue.clear();
        drop(st);
        self.ready.notify_all();
    }

    fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

struct R2rSubscription {
    inbox: Arc<Inbox>,
}

impl Subscription for R2rSubscription {
    fn lost(&self) -> u64 {
        self.inbox.lost.load(Ordering::Relaxed)
    }
}

impl Drop for R2rSubscription {
    /// Stops delivery at once (a call of `on_message` in progress finishes); the node thread then
    /// drops r2r's stream.
    fn drop(&mut self) {
        self.inbox.close();
    }
}

struct R2rPublisher {
    topic: String,
    /// `None` only while dropping.
    publisher: Mutex<Option<r2r::PublisherUntyped>>,
    commands: std_mpsc::Sender<Command>,
}

impl RawPublisher for R2rPublisher {
    fn publish(&self, cdr: &[u8]) -> Result<(), TransportError> {
        let guard = self
            .publisher
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let publisher = guard.as_ref().ok_or_else(|| TransportError::Publish {
            topic: self.topic.clone(),
            reason: "the publisher is closed".into(),
        })?;
        publisher
            .publish_raw(cdr)
            .map_err(|e| TransportError::Publish {
                topic: self.topic.clone(),
                reason: e.to_string(),
            })
    }
}

impl Drop for R2rPublisher {
    /// The rcl publisher belongs to the node: only the node thread can destroy it. If that thread
    /// is gone, the node was dropped and destroyed it already.
    fn drop(&mut self) {
        let taken = self
            .publisher
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(publisher) = taken {
            let _ = self.commands.send(Command::Run(Box::new(move |st| {
                st.node.destroy_publisher_untyped(publisher)
            })));
        }
    }
}

/// A served service, pumped by the node thread after each spin.
trait ServicePump {
    /// Forwards new calls and sends finished answers; false once the service is finished.
    fn pump(&mut self) -> bool;
}

// In `r2r-doc-only` builds no concrete Trigger service type exists (see the module docs), so the
// generic server below is type-checked but never instantiated.
#[cfg_attr(feature = "r2r-doc-only", allow(dead_code))]
mod trigger {
    use super::*;

    /// `std_srvs/srv/Trigger` as r2r generates it: an empty request, a `{success, message}`
    /// response.
    pub(super) trait TriggerService: r2r::WrappedServiceTypeSupport + 'static {
        fn response(success: bool, message: String) -> Self::Response;
    }

    #[cfg(not(feature = "r2r-doc-only"))]
    impl TriggerService for r2r::std_srvs::srv::Trigger::Service {
        fn response(success: bool, message: String) -> Self::Response {
            r2r::std_srvs::srv::Trigger::Response { success, message }
        }
    }

    type Pending<S> = (r2r::ServiceRequest<S>, oneshot::Receiver<(bool, String)>);

    /// One served Trigger service: calls go out on `calls`, answers come back per call.
    struct TriggerServer<S: TriggerService> {
        service: String,
        requests: Box<dyn Stream<Item = r2r::ServiceRequest<S>> + Unpin>,
        calls: mpsc::Sender<TriggerCall>,
        pending: Vec<Pending<S>>,
    }

    fn answer<S: TriggerService>(
        service: &str,
        request: r2r::ServiceRequest<S>,
        success: bool,
        message: String,
    ) {
        if let Err(e) = request.respond(S::response(success, message)) {
            tracing::warn!("r2r: cannot answer a call of {service}: {e}");
        }
    }

    impl<S: TriggerService> ServicePump for TriggerServer<S> {
        fn pump(&mut self) -> bool {
            let mut waiting = Vec::with_capacity(self.pending.len());
            for (request, mut reply) in self.pending.drain(..) {
                match reply.try_recv() {
                    Ok((success, message)) => answer(&self.service, request, success, message),
                    Err(oneshot::error::TryRecvError::Empty) => waiting.push((request, reply)),
                    Err(oneshot::error::TryRecvError::Closed) => answer(
                        &self.service,
                        request,
                        false,
                        "the bridge dropped the call".into(),
                    ),
                }
            }
            self.pending = waiting;

            loop {
                match self.requests.next().now_or_never() {
                    Some(Some(request)) => {
                        let (respond, reply) = oneshot::channel();
                        match self.calls.try_send(TriggerCall { respond }) {
                            Ok(()) => self.pending.push((request, reply)),
                            Err(mpsc::error::TrySendError::Full(_)) => answer(
                                &self.service,
                                request,
                                false,
                                "busy: too many calls in flight".into(),
                            ),
                            Err(mpsc::error::TrySendError::Closed(_)) => answer(
                                &self.service,
                                request,
                                false,
                                "the service is shutting down".into(),
                            ),
                        }
                    }
                    Some(None) => return false,
                    None => break,
                }
            }
            // Once the application dropped its receiver, finish the calls in flight, then stop
            // (dropping the stream makes r2r destroy the service on its next request).
            !(self.calls.is_closed() && self.pending.is_empty())
        }
    }

    /// Creates the service on the node thread.
    pub(super) fn serve<S: TriggerService>(
        transport: &R2rTransport,
        service: String,
    ) -> Result<mpsc::Receiver<TriggerCall>, TransportError> {
        let (calls, rx) = mpsc::channel(TRIGGER_QUEUE);
        let name = service.clone();
        transport
            .on_node(move |st| {
                let requests = st
                    .node
                    .create_service::<S>(&name, QosProfile::services_default())
                    .map_err(|e| e.to_string())?;
                st.services.push(Box::new(TriggerServer::<S> {
                    service: name,
                    requests: Box::new(requests),
                    calls,
                    pending: Vec::new(),
                }));
                Ok(())
            })
            .and_then(|created| created)
            .map_err(|reason| TransportError::Service { service, reason })?;
        Ok(rx)
    }
}

/// The node's names as rcl settled them: `--ros-args -r __ns:=… -r __node:=…` on the command line
/// (as `ros2 launch` passes them) override the ones asked for, and relative names resolve
/// against these.
struct NodeNames {
    namespace: String,
    name: String,
    fully_qualified: String,
}

/// The rcl backend: one r2r node, spun on its own thread.
pub struct R2rTransport {
    namespace: String,
    name: String,
    fully_qualified: String,
    commands: std_mpsc::Sender<Command>,
    thread: Option<JoinHandle<()>>,
}

impl R2rTransport {
    /// Creates the r2r context (process-wide in r2r, initialised from the command line) and the
    /// node `namespace/node_name` on a new node thread.
    pub fn new(namespace: &str, node_name: &str) -> Result<Self, TransportError> {
        let start = |reason: String| TransportError::Start {
            backend: "r2r",
            reason,
        };
        let namespace = namespace.trim_end_matches('/');
        resolve_name(namespace, node_name, "~").map_err(|e| start(e.to_string()))?;
        let rcl_namespace = if namespace.is_empty() {
            "/".to_string()
        } else {
            namespace.to_string()
        };
        let name = node_name.to_string();
        let (commands, command_rx) = std_mpsc::channel::<Command>();
        let (ready_tx, ready_rx) = std_mpsc::sync_channel::<Result<NodeNames, String>>(1);
        let thread = thread::Builder::new()
            .name("r2r-node".into())
            .spawn(move || {
                let created = r2r::Context::create()
                    .and_then(|ctx| r2r::Node::create(ctx, &name, &rcl_namespace))
                    .and_then(|node| {
                        let names = NodeNames {
                            namespace: node.namespace()?,
                            name: node.name()?,
                            fully_qualified: node.fully_qualified_name()?,
                        };
                        Ok((node, names))
                    });
                match created {
                    Ok((node, names)) => {
                        let _ = ready_tx.send(Ok(names));
                        NodeState {
                            node,
                            subscriptions: Vec::new(),
                            services: Vec::new(),
                        }
                        .run(&command_rx);
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.to_string()));
                    }
                }
            })
            .map_err(|e| start(format!("cannot start the node thread: {e}")))?;
        let names = match ready_rx.recv() {
            Ok(Ok(names)) => names,
            Ok(Err(reason)) => {
                let _ = thread.join();
                return Err(start(reason));
            }
            Err(_) => {
                let _ = thread.join();
                return Err(start("the node thread ended while starting".into()));
            }
        };
        Ok(R2rTransport {
            namespace: names.namespace.trim_end_matches('/').to_string(),
            name: names.name,
            fully_qualified: names.fully_qualified,
            commands,
            thread: Some(thread),
        })
    }

    fn resolve(&self, name: &str) -> Result<String, TransportError> {
        resolve_name(&self.namespace, &self.name, name)
    }

    /// Runs `job` on the node thread and waits for its result (at most about one spin timeout
    /// plus the job itself): control-plane calls only.
    fn on_node<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut NodeState) -> T + Send + 'static,
    ) -> Result<T, String> {
        let (tx, rx) = std_mpsc::sync_channel(1);
        self.commands
            .send(Command::Run(Box::new(move |st| {
                let _ = tx.send(job(st));
            })))
            .map_err(|_| STOPPED.to_string())?;
        rx.recv().map_err(|_| STOPPED.to_string())
    }

    #[cfg(not(feature = "r2r-doc-only"))]
    fn serve_trigger(
        &self,
        service: String,
    ) -> Result<mpsc::Receiver<TriggerCall>, TransportError> {
        trigger::serve::<r2r::std_srvs::srv::Trigger::Service>(self, service)
    }

    #[cfg(feature = "r2r-doc-only")]
    fn serve_trigger(
        &self,
        service: String,
    ) -> Result<mpsc::Receiver<TriggerCall>, TransportError> {
        Err(TransportError::Service {
            service,
            reason: "built with r2r's doc-only bindings, which lack std_srvs; \
                     build with `--features r2r` in a sourced ROS 2"
                .into(),
        })
    }
}

impl Drop for R2rTransport {
    /// Stops the node thread; dropping the node there destroys every rcl entity it still owns.
    fn drop(&mut self) {
        let _ = self.commands.send(Command::Shutdown);
        if let Some(thread) = self.thread.take() {
            if thread.thread().id() != thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

impl Transport for R2rTransport {
    fn backend(&self) -> &'static str {
        "r2r"
    }

    fn node_name(&self) -> String {
        self.fully_qualified.clone()
    }

    fn graph(&self) -> Vec<GraphTopic> {
        self.on_node(|st| st.graph()).unwrap_or_else(|reason| {
            tracing::warn!("r2r: no graph: {reason}");
            Vec::new()
        })
    }

    fn subscribe(
        &self,
        topic: &str,
        ros_type: &str,
        qos: Qos,
        on_message: OnMessage,
    ) -> Result<Box<dyn Subscription>, TransportError> {
        let topic = self.resolve(topic)?;
        let failed = |reason: String| TransportError::Subscribe {
            topic: topic.clone(),
            ros_type: ros_type.to_string(),
            reason,
        };
        let inbox = Arc::new(Inbox::new((qos.depth as usize).max(R2R_CHANNEL_DEPTH)));
        let (name, ty, drained) = (topic.clone(), ros_type.to_string(), inbox.clone());
        self.on_node(move |st| {
            let stream = st
                .node
                .subscribe_raw(&name, &ty, profile(qos))
                .map_err(|e| e.to_string())?;
            st.subscriptions.push(Drain {
                stream: Box::new(stream),
                inbox: drained,
            });
            Ok(())
        })
        .and_then(|created| created)
        .map_err(failed)?;
        let delivered = inbox.clone();
        let subscription = R2rSubscription { inbox };
        // On failure `subscription` drops here, closing the inbox: the node thread lets go.
        thread::Builder::new()
            .name("r2r-deliver".into())
            .spawn(move || {
                while let Some(message) = delivered.pop() {
                    on_message(message);
                }
            })
            .map_err(|e| failed(format!("cannot start a delivery thread: {e}")))?;
        Ok(Box::new(subscription))
    }

    fn publisher(
        &self,
        topic: &str,
        ros_type: &str,
        qos: Qos,
    ) -> Result<Box<dyn RawPublisher>, TransportError> {
        let topic = self.resolve(topic)?;
        let (name, ty) = (topic.clone(), ros_type.to_string());
        let publisher = self
            .on_node(move |st| {
                st.node
                    .create_publisher_untyped(&name, &ty, profile(qos))
                    .map_err(|e| e.to_string())
            })
            .and_then(|created| created)
            .map_err(|reason| TransportError::Publish {
                topic: topic.clone(),
                reason,
            })?;
        Ok(Box::new(R2rPublisher {
            topic,
            publisher: Mutex::new(Some(publisher)),
            commands: self.commands.clone(),
        }))
    }

    fn trigger_service(&self, name: &str) -> Result<mpsc::Receiver<TriggerCall>, TransportError> {
        let service = self.resolve(name)?;
        self.serve_trigger(service)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(n: u8) -> RawMessage {
        RawMessage {
            cdr: Bytes::from(vec![0, 1, 0, 0, n]),
            received_ns: now_ns(),
            publisher: None,
        }
    }

    #[test]
    fn inbox_keeps_the_newest_and_counts_what_it_drops() {
        let inbox = Inbox::new(2);
        for n in 0..5 {
            inbox.push(message(n));
        }
        assert_eq!(inbox.lost.load(Ordering::Relaxed), 3);
        assert_eq!(inbox.pop().unwrap().cdr[4], 3);
        assert_eq!(inbox.pop().unwrap().cdr[4], 4);
        inbox.close();
        inbox.push(message(9));
        assert!(inbox.pop().is_none());
        assert!(inbox.is_closed());
    }

    #[test]
    fn qos_maps_both_ways() {
        for qos in [Qos::DEFAULT, Qos::SENSOR_DATA, Qos::LATCHED] {
            assert_eq!(qos_of(&profile(qos)), qos);
        }
        let unknown_history = QosProfile::default().history(HistoryPolicy::Unknown);
        assert_eq!(qos_of(&unknown_history).depth, Qos::DEFAULT.depth);
    }

    #[test]
    fn node_paths() {
        assert_eq!(node_path("/", "rec").as_deref(), Some("/rec"));
        assert_eq!(node_path("/r1", "rec").as_deref(), Some("/r1/rec"));
        assert_eq!(node_path("/", "_NODE_NAME_UNKNOWN_"), None);
    }
}
