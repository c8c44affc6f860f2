//! An in-process ROS graph: nodes on one [`MemoryBus`] publish and subscribe raw CDR with no
//! network at all. It carries the embedded demo (a synthetic robot recorded with no ROS and no DDS)
//! and the recorder's logic tests; QoS matching and transient-local history behave as in DDS.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use super::{
    now_ns, resolve_name, Durability, GraphTopic, OnMessage, Publisher, Qos, RawMessage,
    RawPublisher, Reliability, Subscription, Transport, TransportError, TriggerCall,
};

#[derive(Default)]
struct TopicState {
    ros_type: String,
    writers: BTreeMap<u64, (String, Qos)>,
    readers: BTreeMap<u64, (Qos, OnMessage)>,
    /// Per transient-local writer: its last `depth` messages, replayed to late joiners.
    latched: BTreeMap<u64, VecDeque<Bytes>>,
}

#[derive(Default)]
struct BusState {
    topics: BTreeMap<String, TopicState>,
    services: BTreeMap<String, mpsc::Sender<TriggerCall>>,
}

/// The shared graph.
#[derive(Default)]
pub struct MemoryBus {
    state: Mutex<BusState>,
    next_id: AtomicU64,
}

impl MemoryBus {
    pub fn new() -> Arc<Self> {
        Arc::new(MemoryBus::default())
    }

    /// A node on this bus.
    pub fn node(self: &Arc<Self>, namespace: &str, name: &str) -> MemoryTransport {
        MemoryTransport {
            bus: self.clone(),
            namespace: namespace.trim_end_matches('/').to_string(),
            name: name.to_string(),
        }
    }

    /// Readers of `topic` (as `ros2 topic info` counts subscriptions).
    pub fn subscriptions(&self, topic: &str) -> usize {
        self.state
            .lock()
            .expect("bus lock")
            .topics
            .get(topic)
            .map_or(0, |t| t.readers.len())
    }

    /// Calls a Trigger service as a ROS client would.
    pub async fn call_trigger(&self, service: &str) -> Result<(bool, String), TransportError> {
        let unavailable = |reason: &str| TransportError::Service {
            service: service.to_string(),
            reason: reason.to_string(),
        };
        let tx = self
            .state
            .lock()
            .expect("bus lock")
            .services
            .get(service)
            .cloned()
            .ok_or_else(|| unavailable("no such service"))?;
        let (respond, answer) = oneshot::channel();
        tx.send(TriggerCall { respond })
            .await
            .map_err(|_| unavailable("the server is gone"))?;
        answer
            .await
            .map_err(|_| unavailable("the server dropped the call"))
    }

    fn id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// A writer's id as the graph shows it.
fn gid(id: u64) -> String {
    format!("mem.{id:08x}")
}

/// DDS matching: a reliable reader needs a reliable writer, a transient-local reader needs a
/// transient-local writer.
fn compatible(writer: Qos, reader: Qos) -> bool {
    let rel = !(reader.reliability == Reliability::Reliable
        && writer.reliability == Reliability::BestEffort);
    let dur = !(reader.durability == Durability::TransientLocal
        && writer.durability == Durability::Volatile);
    rel && dur
}

/// One node of a [`MemoryBus`].
#[derive(Clone)]
pub struct MemoryTransport {
    bus: Arc<MemoryBus>,
    namespace: String,
    name: String,
}

impl MemoryTransport {
    fn resolve(&self, name: &str) -> Result<String, TransportError> {
        resolve_name(&self.namespace, &self.name, name)
    }
}

struct MemorySubscription {
    bus: Weak<MemoryBus>,
    topic: String,
    id: u64,
}

impl Subscription for MemorySubscription {}

impl Drop for MemorySubscription {
    fn drop(&mut self) {
        if let Some(bus) = self.bus.upgrade() {
            if let Some(t) = bus
                .state
                .lock()
                .expect("bus lock")
                .topics
                .get_mut(&self.topic)
            {
                t.readers.remove(&self.id);
            }
        }
    }
}

struct MemoryPublisher {
    bus: Weak<MemoryBus>,
    topic: String,
    id: u64,
    gid: String,
    qos: Qos,
}

impl RawPublisher for MemoryPublisher {
    fn publish(&self, cdr: &[u8]) -> Result<(), TransportError> {
        let bus = self.bus.upgrade().ok_or_else(|| TransportError::Publish {
            topic: self.topic.clone(),
            reason: "the bus is gone".into(),
        })?;
        let data = Bytes::copy_from_slice(cdr);
        let targets: Vec<OnMessage> = {
            let mut st = bus.state.lock().expect("bus lock");
            let t = st.topics.get_mut(&self.topic).expect("own topic exists");
            if let Some(h) = t.latched.get_mut(&self.id) {
                h.push_back(data.clone());
                while h.len() > self.qos.depth.max(1) as usize {
                    h.pop_front();
                }
            }
            t.readers
                .values()
                .filter(|(q, _)| compatible(self.qos, *q))
                .map(|(_, f)| f.clone())
                .collect()
        };
        // Delivered outside the lock: a blocking reader must not stall the whole bus.
        for f in targets {
            f(RawMessage {
                cdr: data.clone(),
                received_ns: now_ns(),
                publisher: Some(self.gid.clone()),
            });
        }
        Ok(())
    }
}

impl Drop for MemoryPublisher {
    fn drop(&mut self) {
        if let Some(bus) = self.bus.upgrade() {
            let mut st = bus.state.lock().expect("bus lock");
            if let Some(t) = st.topics.get_mut(&self.topic) {
                t.writers.remove(&self.id);
                t.latched.remove(&self.id);
                if t.writers.is_empty() && t.readers.is_empty() {
                    st.topics.remove(&self.topic);
                }
            }
        }
    }
}

impl Transport for MemoryTransport {
    fn backend(&self) -> &'static str {
        "memory"
    }

    fn node_name(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    fn graph(&self) -> Vec<GraphTopic> {
        let st = self.bus.state.lock().expect("bus lock");
        st.topics
            .iter()
            .filter(|(_, t)| !t.writers.is_empty())
            .map(|(name, t)| GraphTopic {
                name: name.clone(),
                ros_type: t.ros_type.clone(),
                publishers: t
                    .writers
                    .iter()
                    .map(|(id, (node, qos))| Publisher {
                        gid: gid(*id),
                        node: Some(node.clone()),
                        qos: *qos,
                    })
                    .collect(),
            })
            .collect()
    }

    fn subscribe(
        &self,
        topic: &str,
        ros_type: &str,
        qos: Qos,
        on_message: OnMessage,
    ) -> Result<Box<dyn Subscription>, TransportError> {
        let topic = self.resolve(topic)?;
        let id = self.bus.id();
        let history: Vec<(String, Bytes)> = {
            let mut st = self.bus.state.lock().expect("bus lock");
            let t = st.topics.entry(topic.clone()).or_default();
            if t.ros_type.is_empty() {
                t.ros_type = ros_type.to_string();
            } else if t.ros_type != ros_type {
                return Err(TransportError::Subscribe {
                    topic,
                    ros_type: ros_type.to_string(),
                    reason: format!("the topic carries {}", t.ros_type),
                });
            }
            t.readers.insert(id, (qos, on_message.clone()));
            if qos.durability == Durability::TransientLocal {
                t.latched
                    .iter()
                    .filter(|(w, _)| t.writers.get(w).is_some_and(|(_, wq)| compatible(*wq, qos)))
                    .flat_map(|(w, h)| h.iter().map(move |b| (gid(*w), b.clone())))
                    .collect()
            } else {
                Vec::new()
            }
        };
        for (gid, data) in history {
            on_message(RawMessage {
                cdr: data,
                received_ns: now_ns(),
                publisher: Some(gid),
            });
        }
        Ok(Box::new(MemorySubscription {
            bus: Arc::downgrade(&self.bus),
            topic,
            id,
        }))
    }

    fn publisher(
        &self,
        topic: &str,
        ros_type: &str,
        qos: Qos,
    ) -> Result<Box<dyn RawPublisher>, TransportError> {
        let topic = self.resolve(topic)?;
        let id = self.bus.id();
        let mut st = self.bus.state.lock().expect("bus lock");
        let t = st.topics.entry(topic.clone()).or_default();
        if t.ros_type.is_empty() {
            t.ros_type = ros_type.to_string();
        } else if t.ros_type != ros_type {
            return Err(TransportError::Publish {
                topic,
                reason: format!("the topic carries {}, not {ros_type}", t.ros_type),
            });
        }
        t.writers.insert(id, (self.node_name(), qos));
        if qos.durability == Durability::TransientLocal {
            t.latched.insert(id, VecDeque::new());
        }
        Ok(Box::new(MemoryPublisher {
            bus: Arc::downgrade(&self.bus),
            topic,
            id,
            gid: gid(id),
            qos,
        }))
    }

    fn trigger_service(&self, name: &str) -> Result<mpsc::Receiver<TriggerCall>, TransportError> {
        let service = self.resolve(name)?;
        let (tx, rx) = mpsc::channel(8);
        let mut st = self.bus.state.lock().expect("bus lock");
        if st.services.get(&service).is_some_and(|s| !s.is_closed()) {
            return Err(TransportError::Service {
                service,
                reason: "already served by another node".into(),
            });
        }
        st.services.insert(service, tx);
        Ok(rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collector() -> (OnMessage, Arc<Mutex<Vec<Bytes>>>) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        (
            Arc::new(move |m: RawMessage| g.lock().unwrap().push(m.cdr)),
            got,
        )
    }

    #[test]
    fn delivers_by_qos_and_replays_latched_history_to_late_joiners() {
        let bus = MemoryBus::new();
        let robot = bus.node("/r1", "robot");
        let rec = bus.node("/r1", "rec");
        let tf = robot
            .publisher("/tf_static", "tf2_msgs/msg/TFMessage", Qos::LATCHED)
            .unwrap();
        tf.publish(b"\0\x01\0\0static").unwrap();
        let cam = robot
            .publisher("camera", "sensor_msgs/msg/Image", Qos::SENSOR_DATA)
            .unwrap();

        let (f, got_tf) = collector();
        let _s1 = rec
            .subscribe("/tf_static", "tf2_msgs/msg/TFMessage", Qos::LATCHED, f)
            .unwrap();
        assert_eq!(got_tf.lock().unwrap().len(), 1, "latched message replayed");

        let (f, got_reliable) = collector();
        let _s2 = rec
            .subscribe("/r1/camera", "sensor_msgs/msg/Image", Qos::DEFAULT, f)
            .unwrap();
        let (f, got_be) = collector();
        let _s3 = rec
            .subscribe("/r1/camera", "sensor_msgs/msg/Image", Qos::SENSOR_DATA, f)
            .unwrap();
        cam.publish(b"\0\x01\0\0img").unwrap();
        assert!(
            got_reliable.lock().unwrap().is_empty(),
            "reliable reader does not match a best-effort writer"
        );
        assert_eq!(got_be.lock().unwrap().len(), 1);

        let g = rec.graph();
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].name, "/r1/camera");
        assert_eq!(g[0].publishers[0].node.as_deref(), Some("/r1/robot"));
        assert!(rec
            .subscribe(
                "/r1/camera",
                "sensor_msgs/msg/Imu",
                Qos::DEFAULT,
                collector().0
            )
            .is_err());
        drop(cam);
        assert_eq!(
            rec.graph().len(),
            1,
            "a topic without writers leaves the graph"
        );
    }

    #[tokio::test]
    async fn trigger_services_answer_through_the_bus() {
        let bus = MemoryBus::new();
        let rec = bus.node("", "rec");
        let mut calls = rec.trigger_service("~/split").unwrap();
        tokio::spawn(async move {
            while let Some(c) = calls.recv().await {
                let _ = c.respond.send((true, "split".into()));
            }
        });
        assert_eq!(
            bus.call_trigger("/rec/split").await.unwrap(),
            (true, "split".into())
        );
        assert!(bus.call_trigger("/rec/nope").await.is_err());
    }
}
