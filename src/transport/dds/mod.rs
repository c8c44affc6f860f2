//! Pure-Rust DDS backend: ros2-client on RustDDS, no ROS installation needed.
//!
//! The node itself is a ros2-client [`Node`] (listed in `ros_discovery_info`, so `ros2 node list`
//! shows it; it serves parameters and the Trigger services). Topic data takes the fast raw path:
//! plain DDS readers and writers on the node's participant with raw-CDR adapters ([`raw`]), which
//! skip serde entirely. Those endpoints are not listed under the node in `ros_discovery_info`
//! (ros2-client keeps that registration private), so `ros2 node info` does not show them, though
//! `ros2 topic info` does.
//!
//! * [`env`]: the ROS 2 environment: domain and discovery range.
//! * [`names`]: ROS ↔ DDS topic and type names.
//! * [`raw`]: the raw-CDR reader and writer adapters.
//! * [`pubsub`]: subscriptions (one delivery thread each) and publishers.
//! * [`graph`]: publishers discovered in the domain, with their nodes.
//! * [`services`]: `std_srvs/srv/Trigger` servers.
//!
//! Background work (ros2-client's spinner, `ros_discovery_info`, service servers) runs on one
//! thread of the transport's own with a single-threaded tokio runtime, so the transport works the
//! same from a tokio runtime of any flavour and from plain threads.

pub mod env;
pub mod graph;
pub mod names;
pub mod pubsub;
pub mod raw;
pub mod services;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Once};
use std::thread::{self, JoinHandle};

use ros2_client::qos::{History, QosProfile};
use ros2_client::{Context, Node, NodeName, NodeOptions};
use rustdds::{DomainParticipant, QosPolicyBuilder, RTPSEntity, TopicKind};
use tokio::sync::mpsc;

use self::env::RosEnv;
use self::graph::{GraphState, LocalWriter};
use self::pubsub::{DdsPublisher, DdsSubscription};
use self::raw::{CdrBody, CdrLeWriterAdapter, RawCdr, RawCdrAdapter};
use super::{
    resolve_name, GraphTopic, OnMessage, PlayerCall, PlayerRequest, Qos, RawPublisher,
    Subscription, Transport, TransportError, TriggerCall,
};

const BACKEND: &str = "dds";

/// Pending Trigger calls per service before a caller waits.
const SERVICE_QUEUE: usize = 8;

/// A ROS 2 node on DDS.
pub struct DdsTransport {
    namespace: String,
    name: String,
    fully_qualified: String,
    // Field order is drop order: the node first (its drop tells the spinner to stop while the
    // background thread still runs), then the background thread with every task on it, then the
    // participant's remaining handles.
    node: Mutex<Node>,
    background: Background,
    services: Mutex<BTreeMap<String, mpsc::Sender<TriggerCall>>>,
    graph: Arc<GraphState>,
    participant: DomainParticipant,
    dds_publisher: rustdds::Publisher,
    dds_subscriber: rustdds::Subscriber,
    _context: Context,
}

fn start_error(reason: impl std::fmt::Display) -> TransportError {
    TransportError::Start {
        backend: BACKEND,
        reason: reason.to_string(),
    }
}

/// ros2-client warns at the first context when `ROS_DISTRO` is unset, as it is wherever no ROS is
/// sourced (the normal case for this backend). Unset, it is set to the distribution ros2-client
/// was built for; a value set by the user is kept and checked by ros2-client.
fn default_ros_distro() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("ROS_DISTRO").is_none() {
            std::env::set_var("ROS_DISTRO", ros2_client::COMPILED_ROS_DISTRO.as_str());
        }
    });
}

impl DdsTransport {
    /// Joins the DDS domain (`ROS_DOMAIN_ID`) as node `node_name` in `namespace`.
    pub fn new(namespace: &str, node_name: &str) -> Result<Self, TransportError> {
        default_ros_distro();
        let namespace = namespace.trim_end_matches('/').to_string();
        let ros_namespace = if namespace.is_empty() {
            "/"
        } else {
            &namespace
        };
        let ros_name =
            NodeName::new(ros_namespace, node_name).map_err(|e| TransportError::InvalidName {
                name: format!("{namespace}/{node_name}"),
                reason: format!("not a valid node name ({e})"),
            })?;
        let fully_qualified = ros_name.fully_qualified_name();
        let env = RosEnv::from_env().map_err(start_error)?;
        for note in &env.notes {
            tracing::warn!("{note}");
        }
        let domain = env.domain;
        let context = env
            .participant()
            .build()
            .map_err(|e| e.to_string())
            .and_then(|p| Context::from_domain_participant(p).map_err(|e| e.to_string()))
            .map_err(|e| start_error(format!("cannot join DDS domain {domain}: {e}")))?;
        let mut node = context
            .new_node(ros_name, NodeOptions::new())
            .map_err(|e| start_error(format!("cannot create node {fully_qualified}: {e}")))?;
        let spinner = node
            .spinner()
            .map_err(|e| start_error(format!("cannot start the node's spinner: {e}")))?;

        let participant = context.domain_participant();
        // Entity-level QoS are only defaults; every reader and writer gets its own explicitly.
        let defaults = QosPolicyBuilder::new().build();
        let dds_publisher = participant
            .create_publisher(&defaults)
            .map_err(|e| start_error(format!("cannot create a DDS publisher: {e}")))?;
        let dds_subscriber = participant
            .create_subscriber(&defaults)
            .map_err(|e| start_error(format!("cannot create a DDS subscriber: {e}")))?;

        let graph = GraphState::new(participant.clone(), fully_qualified.clone());
        let discovery = graph::discovery_reader(&participant, &dds_subscriber)
            .map_err(|e| start_error(format!("cannot read ros_discovery_info: {e}")))?;

        let background = Background::start(&fully_qualified)
            .map_err(|e| start_error(format!("cannot start the node's thread: {e}")))?;
        let name = fully_qualified.clone();
        background.spawn(move || async move {
            if let Err(e) = spinner.spin().await {
                tracing::error!(node = %name, error = %e, "the ROS node's spinner stopped");
            }
        });
        let watched = graph.clone();
        background.spawn(move || graph::watch_ros_discovery(discovery, watched));

        tracing::info!(node = %fully_qualified, domain, range = ?env.range, "joined the ROS 2 graph (DDS)");
        Ok(DdsTransport {
            namespace,
            name: node_name.to_string(),
            fully_qualified,
            node: Mutex::new(node),
            background,
            services: Mutex::new(BTreeMap::new()),
            graph,
            participant,
            dds_publisher,
            dds_subscriber,
            _context: context,
        })
    }

    fn resolve(&self, name: &str) -> Result<String, TransportError> {
        resolve_name(&self.namespace, &self.name, name)
    }

    /// The DDS topic of a resolved ROS topic, created with the `policies` of an endpoint on it
    /// (returned for the endpoint); the error says why, for the caller's own error.
    fn endpoint_topic(
        &self,
        topic: &str,
        ros_type: &str,
        policies: rustdds::QosPolicies,
    ) -> Result<(rustdds::Topic, rustdds::QosPolicies), String> {
        let dds_type = names::dds_type(ros_type).map_err(|e| e.to_string())?;
        let dds_topic = self
            .participant
            .create_topic(
                names::dds_topic(topic),
                dds_type,
                &policies,
                TopicKind::NoKey,
            )
            .map_err(|e| format!("cannot create the DDS topic: {e}"))?;
        Ok((dds_topic, policies))
    }
}

impl Transport for DdsTransport {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    fn node_name(&self) -> String {
        self.fully_qualified.clone()
    }

    fn graph(&self) -> Vec<GraphTopic> {
        self.graph.topics()
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
        // RustDDS keeps a topic's samples in a cache its readers share, and a new reader starts at
        // its beginning: a volatile one skips what the participant received before it existed (an
        // earlier session's samples, and those that came while nobody was subscribed). A
        // transient-local one is meant to get the latched history again (each session's /tf_static).
        let since = match qos.durability {
            crate::config::Durability::TransientLocal => None,
            crate::config::Durability::Volatile => Some(rustdds::Timestamp::now()),
        };
        let (dds_topic, policies) = self
            .endpoint_topic(&topic, ros_type, pubsub::reader_qos(qos))
            .map_err(failed)?;
        let reader = self
            .dds_subscriber
            .create_simple_datareader_no_key::<RawCdr, RawCdrAdapter>(&dds_topic, Some(policies))
            .map_err(|e| failed(format!("cannot create the DDS reader: {e}")))?;
        let subscription = DdsSubscription::start(topic.clone(), reader, on_message, since)
            .map_err(|e| failed(format!("cannot start its delivery thread: {e}")))?;
        tracing::debug!(topic, ros_type, ?qos, "subscribed");
        Ok(Box::new(subscription))
    }

    fn publisher(
        &self,
        topic: &str,
        ros_type: &str,
        qos: Qos,
    ) -> Result<Box<dyn RawPublisher>, TransportError> {
        let topic = self.resolve(topic)?;
        let failed = |reason: String| TransportError::Publish {
            topic: topic.clone(),
            reason,
        };
        let (dds_topic, policies) = self
            .endpoint_topic(&topic, ros_type, pubsub::dds_qos(qos))
            .map_err(failed)?;
        let writer = self
            .dds_publisher
            .create_datawriter_no_key::<CdrBody, CdrLeWriterAdapter>(&dds_topic, Some(policies))
            .map_err(|e| failed(format!("cannot create the DDS writer: {e}")))?;
        let publisher = DdsPublisher::new(topic.clone(), writer, &self.graph);
        self.graph.add_local(
            publisher.gid(),
            LocalWriter {
                topic: topic.clone(),
                ros_type: ros_type.to_string(),
                qos,
            },
        );
        tracing::debug!(topic, ros_type, ?qos, "publishing");
        Ok(Box::new(publisher))
    }

    fn trigger_service(&self, name: &str) -> Result<mpsc::Receiver<TriggerCall>, TransportError> {
        let service = self.resolve(name)?;
        let failed = |reason: &str| TransportError::Service {
            service: service.clone(),
            reason: reason.to_string(),
        };
        let mut served = self.services.lock().expect("services lock");
        if served.get(&service).is_some_and(|s| !s.is_closed()) {
            return Err(failed("already served by this node"));
        }
        // A server is the only reader of the request topic; one already discovered in another
        // participant means another node serves this name, and clients would get two replies.
        // (RustDDS also discovers its own participant: this node's servers are checked above.)
        let request_topic = format!("rq{service}Request");
        let own = self.participant.guid().prefix;
        if self.participant.discovered_readers().iter().any(|r| {
            r.reader_proxy.remote_reader_guid.prefix != own
                && r.subscription_topic_data.topic_name() == &request_topic
        }) {
            return Err(failed("already served by another node"));
        }

        let ros_name = services::service_name(&service)
            .map_err(|e| failed(&format!("not a valid service name ({e})")))?;
        // rmw's services profile: reliable, volatile, keep last 10.
        let qos = QosProfile::publisher_default().history(History::KeepLast { depth: 10 });
        let server = self
            .node
            .lock()
            .expect("node lock")
            .create_server::<services::RequestBytes, services::Reply<services::TriggerResponse>>(
                services::SERVICE_MAPPING,
                &ros_name,
                &services::trigger_type(),
                qos.clone(),
                qos,
            )
            .map_err(|e| failed(&format!("cannot create the service server: {e}")))?;

        let (calls, rx) = mpsc::channel(SERVICE_QUEUE);
        served.insert(service.clone(), calls.clone());
        tracing::debug!(service, "serving std_srvs/srv/Trigger");
        self.background
            .spawn(move || services::serve_trigger(service, server, calls));
        Ok(rx)
    }

    fn player_services(&self, calls: mpsc::Sender<PlayerCall>) -> Result<(), TransportError> {
        let mut node = self.node.lock().expect("node lock");
        for (name, srv) in PlayerRequest::SERVICES {
            let service = self.resolve(&format!("~/{name}"))?;
            let failed = |reason: String| TransportError::Service {
                service: service.clone(),
                reason,
            };
            let ros_name = services::service_name(&service)
                .map_err(|e| failed(format!("not a valid service name ({e})")))?;
            let qos = QosProfile::publisher_default().history(History::KeepLast { depth: 10 });
            let task = services::player_server(&mut node, srv, &ros_name, qos, calls.clone())
                .map_err(failed)?;
            tracing::debug!(service, "serving rosbag2_interfaces/srv/{srv}");
            self.background.spawn(task);
        }
        Ok(())
    }
}

type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// The node's own thread: a single-threaded tokio runtime with a `LocalSet`, so tasks need not be
/// `Send` (ros2-client's futures borrow their readers). Dropping it ends every task on it.
struct Background {
    jobs: Option<mpsc::UnboundedSender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    fn start(node: &str) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        let thread = thread::Builder::new()
            .name(format!("dds-node {node}"))
            .spawn(move || {
                let local = tokio::task::LocalSet::new();
                local.block_on(&runtime, async move {
                    while let Some(job) = queue.recv().await {
                        tokio::task::spawn_local(job());
                    }
                });
                // Tasks still running are dropped here, with the LocalSet.
            })?;
        Ok(Background {
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Runs the future made by `make` on the node's thread.
    fn spawn<F, Fut>(&self, make: F)
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let job: Job = Box::new(move || Box::pin(make()));
        if let Some(jobs) = &self.jobs {
            if jobs.send(job).is_err() {
                tracing::error!("the DDS node's thread is gone; a background task did not start");
            }
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the DDS node's thread panicked");
            }
        }
    }
}
