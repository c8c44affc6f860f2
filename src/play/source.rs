//! Stored topics as ROS topics: type, definition, QoS and how each row becomes CDR.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::bag::qos;
use crate::protocol::TopicInfo;
use crate::ros::adapters::encode::{class_of_tag, encoder_for, ros_type_of_tag, Encoder};
use crate::ros::adapters::rows::{Flat, TopicHints};
use crate::ros::adapters::RAW_CLASS;
use crate::transport::Qos;

/// How a topic's rows become messages.
#[derive(Clone, Copy)]
pub enum TopicKind {
    /// Raw CDR stored as received: the `data` column, verbatim.
    Raw,
    /// Typed ontology rows, encoded back.
    Typed(Encoder),
}

impl std::fmt::Debug for TopicKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TopicKind::Raw => "Raw",
            TopicKind::Typed(_) => "Typed",
        })
    }
}

/// A stored topic, ready to replay or export.
#[derive(Debug, Clone)]
pub struct ReplayTopic {
    /// Topic name relative to the sequence, with a leading `/`.
    pub topic: String,
    pub ros_type: String,
    /// The `ros2msg` definition (recorded, else the built-in one, else empty).
    pub definition: String,
    /// The publishers' QoS as recorded (empty when none was).
    pub offered: Vec<Qos>,
    pub kind: TopicKind,
    /// What the topic metadata adds to the rows for the encoder (a CompressedImage format string).
    pub hints: TopicHints,
}

impl ReplayTopic {
    /// Row `i` of a batch as CDR, or why it cannot be encoded.
    pub fn encode_row(&self, flat: &Flat, i: usize) -> Result<Vec<u8>, String> {
        let r = flat.row(i);
        match self.kind {
            TopicKind::Raw => Ok(r.bytes("data").to_vec()),
            TopicKind::Typed(enc) => enc(&r),
        }
    }
}

fn ros_block(meta: &Value) -> (Option<&str>, Option<&str>, Option<&Value>) {
    if let Some(r) = meta.get("_ros_") {
        (
            r.get("msgtype").and_then(Value::as_str),
            r.get("msgdef").and_then(Value::as_str),
            r.get("qos"),
        )
    } else {
        (
            meta.get("ros:msgtype").and_then(Value::as_str),
            meta.get("ros:msgdef").and_then(Value::as_str),
            meta.get("ros:qos"),
        )
    }
}

/// Recorded QoS: rosbag2's `offered_qos_profiles` YAML (bags, the spool) or the publishers' [`Qos`]
/// list as JSON (what the diskless recorder writes); anything else reads as "not recorded".
fn offered_of(v: Option<&Value>) -> Vec<Qos> {
    match v {
        Some(Value::String(yaml)) => qos::from_yaml(yaml),
        Some(v) => serde_json::from_value(v.clone()).unwrap_or_default(),
        None => vec![],
    }
}

/// Resolves a stored topic: the ROS type comes from `overrides` (topic → type), else the recorded
/// ROS metadata, else the ontology tag. Errors say what is missing and how to fix it.
pub fn resolve_topic(
    info: &TopicInfo,
    overrides: &BTreeMap<String, String>,
) -> Result<ReplayTopic, String> {
    let (msgtype, msgdef, qos) = ros_block(&info.user_metadata);
    let raw = class_of_tag(&info.ontology_tag) == Some(RAW_CLASS);
    let ros_type = overrides
        .get(&info.topic)
        .map(String::as_str)
        .or(msgtype)
        .or_else(|| ros_type_of_tag(&info.ontology_tag))
        .ok_or_else(|| {
            format!(
                "topic {} (ontology tag `{}`) has no ROS type: name one with --type {}=pkg/msg/Type",
                info.topic, info.ontology_tag, info.topic
            )
        })?
        .to_string();
    let kind = if raw {
        TopicKind::Raw
    } else {
        TopicKind::Typed(encoder_for(&ros_type).ok_or_else(|| {
            format!(
                "topic {} is stored typed (`{}`) and {ros_type} has no encoder yet",
                info.topic, info.ontology_tag
            )
        })?)
    };
    let definition = msgdef
        .filter(|d| !d.is_empty())
        .map(str::to_string)
        .or_else(|| crate::ros::msgs::definition(&ros_type).map(str::to_string))
        .unwrap_or_default();
    Ok(ReplayTopic {
        topic: info.topic.clone(),
        ros_type,
        definition,
        offered: offered_of(qos),
        kind,
        hints: TopicHints::from_metadata(&info.user_metadata),
    })
}

/// One message read back: topic index into the [`Messages`] topics, time and CDR.
#[derive(Debug)]
pub struct Message {
    pub topic: usize,
    pub timestamp_ns: i64,
    pub cdr: Vec<u8>,
}

/// A topic's batch, encoded by the topic's task: each row's time and CDR, or why it could not be
/// encoded.
type Prepared = Vec<(i64, Result<Vec<u8>, String>)>;

struct Cursor {
    /// Batches prepared ahead by the topic's own task.
    batches: tokio::sync::mpsc::Receiver<crate::error::Result<Prepared>>,
    task: tokio::task::AbortHandle,
    /// The batch being read and the next row of it.
    batch: Option<(Prepared, usize)>,
    done: bool,
}

impl Drop for Cursor {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Batches each topic's task prepares ahead of the merge: the topics' streams are read, decoded
/// and encoded in parallel, and overlap with the merge and publishing. With one ahead the image
/// stream waited on the merge: `--rate max` made 0.42× the raw read, four made 0.52×, and four
/// encoded by the topics' tasks 0.57-0.63× (`cargo bench --bench play`). A batch is a few MiB.
const BATCHES_AHEAD: usize = 4;

/// The selected topics of a sequence as one stream of messages in `timestamp_ns` order (ties go to
/// the topic listed first). Each topic has a task that reads its stream and keeps at most
/// [`BATCHES_AHEAD`] batches ready, encoded, beside the one being merged and the one being read.
pub struct Messages {
    pub topics: Vec<ReplayTopic>,
    cursors: Vec<Cursor>,
    /// Rows that could not be encoded, per topic index: (count, first reason).
    pub unencodable: BTreeMap<usize, (u64, String)>,
}

impl Messages {
    /// Opens a stream per topic; `topics` pairs each with its handler.
    pub async fn open(
        topics: &[(ReplayTopic, crate::handlers::TopicHandler)],
        range: crate::protocol::TimeRange,
    ) -> crate::error::Result<Messages> {
        use futures::StreamExt;
        let mut cursors = Vec::with_capacity(topics.len());
        for (topic, h) in topics {
            let mut stream = h.stream(range).await?;
            let (tx, batches) = tokio::sync::mpsc::channel(BATCHES_AHEAD);
            let topic = topic.clone();
            let task = tokio::spawn(async move {
                while let Some(b) = stream.next().await {
                    let prepared = b.map(|b| {
                        let flat = Flat::new(&b).with_hints(topic.hints.clone());
                        (0..flat.rows())
                            .map(|r| (flat.row(r).i64("timestamp_ns"), topic.encode_row(&flat, r)))
                            .collect()
                    });
                    if tx.send(prepared).await.is_err() {
                        break;
                    }
                }
            });
            cursors.push(Cursor {
                batches,
                task: task.abort_handle(),
                batch: None,
                done: false,
            });
        }
        Ok(Messages {
            topics: topics.iter().map(|(t, _)| t.clone()).collect(),
            cursors,
            unencodable: BTreeMap::new(),
        })
    }

    /// The time of cursor `i`'s next row, taking its next batch if needed; `None` at its end.
    async fn head(&mut self, i: usize) -> crate::error::Result<Option<i64>> {
        loop {
            let c = &mut self.cursors[i];
            if let Some((rows, row)) = &c.batch {
                if let Some((t, _)) = rows.get(*row) {
                    return Ok(Some(*t));
                }
                c.batch = None;
            }
            if c.done {
                return Ok(None);
            }
            match c.batches.recv().await {
                None => c.done = true,
                Some(b) => c.batch = Some((b?, 0)),
            }
        }
    }

    /// The next message in time order, or `None` at the end. Rows that cannot be encoded are
    /// counted in [`Messages::unencodable`] and passed over.
    pub async fn next(&mut self) -> crate::error::Result<Option<Message>> {
        loop {
            let mut best: Option<(i64, usize)> = None;
            for i in 0..self.cursors.len() {
                if let Some(ts) = self.head(i).await? {
                    if best.is_none_or(|(b, _)| ts < b) {
                        best = Some((ts, i));
                    }
                }
            }
            let Some((timestamp_ns, i)) = best else {
                return Ok(None);
            };
            let (rows, row) = self.cursors[i].batch.as_mut().expect("head seen");
            let encoded = std::mem::replace(&mut rows[*row].1, Ok(Vec::new()));
            *row += 1;
            match encoded {
                Ok(cdr) => {
                    return Ok(Some(Message {
                        topic: i,
                        timestamp_ns,
                        cdr,
                    }))
                }
                Err(why) => self.unencodable.entry(i).or_insert((0, why)).0 += 1,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn recorded_qos_reads_from_both_forms() {
        let yaml = qos::to_yaml(&[Qos::LATCHED]);
        assert_eq!(offered_of(Some(&Value::String(yaml))), vec![Qos::LATCHED]);
        // what record/live.rs writes: the publishers' Qos list
        let live = json!([Qos::SENSOR_DATA, Qos::DEFAULT]);
        assert_eq!(
            offered_of(Some(&live)),
            vec![Qos::SENSOR_DATA, Qos::DEFAULT]
        );
        assert_eq!(offered_of(Some(&json!({"odd": 1}))), vec![]);
        assert_eq!(offered_of(None), vec![]);
    }
}
