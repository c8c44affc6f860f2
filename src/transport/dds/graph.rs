//! The ROS graph as DDS discovery sees it: every remote writer on an `rt/` topic is a ROS
//! publisher. RustDDS keeps the writers announced by other participants (SEDP) in its discovery
//! database and drops them when they are disposed or their participant leaves or times out, so a
//! snapshot of it is always current. Writers of this node come from our own table, which knows
//! their history depth and node. Which node owns a remote writer comes from
//! `ros_discovery_info`, where every ROS 2 participant lists its nodes and their writers' gids.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use rustdds::no_key::SimpleDataReader;
use rustdds::{
    policy, CDRDeserializerAdapter, DomainParticipant, QosPolicyBuilder, Subscriber, TopicKind,
};
use serde::Deserialize;

use super::names;
use crate::transport::{Durability, GraphTopic, Publisher, Qos, Reliability};

/// ROS 2's default history depth, reported for remote writers: DDS discovery does not carry
/// a writer's history.
pub const UNKNOWN_DEPTH: u32 = 10;

/// A DDS endpoint GUID (participant prefix + entity id), which is also the ROS 2 (Iron and later)
/// gid.
pub type Gid = [u8; 16];

/// The gid as the graph reports it.
pub fn gid_hex(gid: &Gid) -> String {
    hex::encode(gid)
}

/// A writer of this node, created through `publisher()`.
#[derive(Debug, Clone)]
pub struct LocalWriter {
    pub topic: String,
    pub ros_type: String,
    pub qos: Qos,
}

/// A node (fully qualified name) and the gids of its writers.
type NodeWriters = (String, Vec<Gid>);

/// What `graph()` is computed from; shared with publishers (which register and unregister their
/// writers) and with the `ros_discovery_info` watcher.
pub struct GraphState {
    participant: DomainParticipant,
    node_name: String,
    local: Mutex<BTreeMap<Gid, LocalWriter>>,
    /// Per remote participant (its gid): its nodes and their writers, as last announced.
    participants: Mutex<HashMap<Gid, Vec<NodeWriters>>>,
}

impl GraphState {
    pub fn new(participant: DomainParticipant, node_name: String) -> Arc<Self> {
        Arc::new(GraphState {
            participant,
            node_name,
            local: Mutex::new(BTreeMap::new()),
            participants: Mutex::new(HashMap::new()),
        })
    }

    pub fn add_local(&self, gid: Gid, writer: LocalWriter) {
        self.local.lock().expect("graph lock").insert(gid, writer);
    }

    pub fn remove_local(&self, gid: &Gid) {
        self.local.lock().expect("graph lock").remove(gid);
    }

    fn writer_nodes(&self) -> HashMap<Gid, String> {
        let participants = self.participants.lock().expect("graph lock");
        participants
            .values()
            .flatten()
            .flat_map(|(node, writers)| writers.iter().map(move |w| (*w, node.clone())))
            .collect()
    }

    /// Topics that have publishers now, sorted by name, publishers sorted by gid.
    pub fn topics(&self) -> Vec<GraphTopic> {
        let nodes = self.writer_nodes();
        let mut topics: BTreeMap<String, GraphTopic> = BTreeMap::new();
        let mut seen: HashSet<Gid> = HashSet::new();
        let mut add = |name: String, ros_type: String, publisher: Publisher| {
            topics
                .entry(name.clone())
                .or_insert_with(|| GraphTopic {
                    name,
                    ros_type,
                    publishers: Vec::new(),
                })
                .publishers
                .push(publisher);
        };

        // Our own writers first: we know their depth and node. (RustDDS may also discover its own
        // participant's writers; those duplicates are skipped below.)
        for (gid, w) in self.local.lock().expect("graph lock").iter() {
            seen.insert(*gid);
            add(
                w.topic.clone(),
                w.ros_type.clone(),
                Publisher {
                    gid: gid_hex(gid),
                    node: Some(self.node_name.clone()),
                    qos: w.qos,
                },
            );
        }

        for w in self.participant.discovered_writers() {
            let data = &w.publication_topic_data;
            let Some(name) = names::ros_topic(&data.topic_name) else {
                continue;
            };
            let gid = w.writer_proxy.remote_writer_guid.to_bytes();
            if !seen.insert(gid) {
                continue;
            }
            let ros_type = names::ros_type(&data.type_name).unwrap_or_else(|| {
                tracing::debug!(topic = %data.topic_name, dds_type = %data.type_name,
                    "a ROS topic with a type outside the ROS naming convention");
                data.type_name.clone()
            });
            let qos = Qos {
                reliability: match data.reliability {
                    Some(policy::Reliability::BestEffort) => Reliability::BestEffort,
                    // The RTPS default for writers when the policy is not announced.
                    Some(policy::Reliability::Reliable { .. }) | None => Reliability::Reliable,
                },
                durability: match data.durability {
                    Some(policy::Durability::Volatile) | None => Durability::Volatile,
                    // Transient and persistent serve late joiners too; to a reader they are
                    // transient local.
                    Some(_) => Durability::TransientLocal,
                },
                depth: UNKNOWN_DEPTH,
            };
            add(
                name,
                ros_type,
                Publisher {
                    gid: gid_hex(&gid),
                    node: nodes.get(&gid).cloned(),
                    qos,
                },
            );
        }

        let mut topics: Vec<GraphTopic> = topics.into_values().collect();
        for t in &mut topics {
            t.publishers.sort_by(|a, b| a.gid.cmp(&b.gid));
        }
        topics
    }
}

/// `rmw_dds_common/msg/ParticipantEntitiesInfo` (gids of 16 bytes: Iron and later).
#[derive(Debug, Deserialize)]
pub struct ParticipantEntitiesInfo {
    gid: Gid,
    node_entities_info_seq: Vec<NodeEntitiesInfo>,
}

/// `rmw_dds_common/msg/NodeEntitiesInfo`.
#[derive(Debug, Deserialize)]
struct NodeEntitiesInfo {
    node_namespace: String,
    node_name: String,
    #[allow(dead_code)]
    reader_gid_seq: Vec<Gid>,
    writer_gid_seq: Vec<Gid>,
}

fn fully_qualified(namespace: &str, name: &str) -> String {
    format!("{}/{name}", namespace.trim_end_matches('/'))
}

pub type DiscoveryReader =
    SimpleDataReader<ParticipantEntitiesInfo, CDRDeserializerAdapter<ParticipantEntitiesInfo>>;

/// A reader of `ros_discovery_info`. Its own reader rather than ros2-client's node events: those
/// go through a small channel that drops when full and do not expose the writer gids.
pub fn discovery_reader(
    participant: &DomainParticipant,
    subscriber: &Subscriber,
) -> Result<DiscoveryReader, rustdds::dds::CreateError> {
    // As rmw: reliable, transient local (the current state of every participant on joining).
    // Deeper than rmw's 1 because the stream is shared by all participants of the domain.
    let qos = QosPolicyBuilder::new()
        .reliable(rustdds::Duration::ZERO)
        .durability(policy::Durability::TransientLocal)
        .history(policy::History::KeepLast { depth: 64 })
        .build();
    let topic = participant.create_topic(
        "ros_discovery_info".to_string(),
        "rmw_dds_common::msg::dds_::ParticipantEntitiesInfo_".to_string(),
        &qos,
        TopicKind::NoKey,
    )?;
    subscriber.create_simple_datareader_no_key(&topic, Some(qos))
}

/// Follows `ros_discovery_info` into `state` until the future is dropped.
pub async fn watch_ros_discovery(reader: DiscoveryReader, state: Arc<GraphState>) {
    let stream = reader.as_async_stream();
    futures::pin_mut!(stream);
    let mut warned = false;
    while let Some(sample) = stream.next().await {
        match sample {
            Ok(change) => {
                let info = change.into_value();
                let nodes = info
                    .node_entities_info_seq
                    .into_iter()
                    .map(|n| {
                        (
                            fully_qualified(&n.node_namespace, &n.node_name),
                            n.writer_gid_seq,
                        )
                    })
                    .collect();
                state
                    .participants
                    .lock()
                    .expect("graph lock")
                    .insert(info.gid, nodes);
            }
            // Humble and older announce 24-byte gids: their nodes stay unnamed in the graph.
            Err(e) if !warned => {
                warned = true;
                tracing::debug!(error = %e, "unreadable ros_discovery_info sample (pre-Iron peer?); publishers of such peers are listed without their node");
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_are_fully_qualified() {
        assert_eq!(fully_qualified("/", "talker"), "/talker");
        assert_eq!(fully_qualified("/r1", "talker"), "/r1/talker");
    }
}
