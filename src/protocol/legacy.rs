//! The legacy generation: the public mosaicod snapshot (protocol reference §2–§6).

use arrow_flight::{FlightDescriptor, FlightInfo, Ticket};
use async_trait::async_trait;
use serde_json::{json, Value};

use super::*;
use crate::control::ControlPlane;
use crate::error::{Error, Result};
use crate::names;
use crate::query::QueryTopic;

#[derive(Debug, Default)]
pub struct Legacy;

fn notify_action(target: Target, verb: &str) -> String {
    match target {
        Target::Sequence => format!("sequence_notify_{verb}"),
        Target::Topic => format!("topic_notify_{verb}"),
    }
}

/// Schema metadata values of a legacy FlightInfo / DoGet stream (`mosaico:*`, JSON in strings).
pub(crate) fn schema_metadata(
    info: &FlightInfo,
) -> Result<std::collections::HashMap<String, String>> {
    if info.schema.is_empty() {
        return Ok(Default::default());
    }
    let schema = info.clone().try_decode_schema()?;
    Ok(schema
        .metadata()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect())
}

pub(crate) fn json_meta(meta: &std::collections::HashMap<String, String>, key: &str) -> Value {
    meta.get(key)
        .map(|s| serde_json::from_str(s).unwrap_or(Value::String(s.clone())))
        .unwrap_or(Value::Null)
}

#[async_trait]
impl Protocol for Legacy {
    fn generation(&self) -> Generation {
        Generation::Legacy
    }

    async fn create_sequence(
        &self,
        ctrl: &ControlPlane,
        name: &str,
        user_metadata: &Value,
    ) -> Result<Session> {
        let body = json!({"name": name, "user_metadata": metadata_object(user_metadata)});
        let reply = ctrl.action("sequence_create", &body, name).await?;
        session_from_reply(name, reply)
    }

    async fn open_session(&self, _ctrl: &ControlPlane, name: &str) -> Result<Session> {
        Err(Error::Unsupported(format!(
            "a legacy server cannot add topics to the existing sequence `{name}`: record into a new sequence"
        )))
    }

    async fn create_topic(
        &self,
        ctrl: &ControlPlane,
        session: &Session,
        locator: &str,
        ontology_tag: &str,
        format: SerializationFormat,
        user_metadata: &Value,
    ) -> Result<TopicKey> {
        let body = json!({
            "name": locator,
            "sequence_key": session.key,
            "serialization_format": format.as_str(),
            "ontology_tag": ontology_tag,
            "user_metadata": metadata_object(user_metadata),
        });
        let reply = ctrl.action("topic_create", &body, locator).await?;
        topic_key_from_reply(locator, reply)
    }

    fn put_descriptor(&self, topic: &TopicKey) -> FlightDescriptor {
        let cmd = json!({"topic": {"name": topic.locator, "key": topic.key}});
        FlightDescriptor::new_cmd(cmd.to_string())
    }

    async fn finalize(&self, ctrl: &ControlPlane, s: &Session) -> Result<()> {
        ctrl.action(
            "sequence_finalize",
            &json!({"name": s.sequence, "key": s.key}),
            &s.sequence,
        )
        .await?;
        Ok(())
    }

    async fn discard(&self, ctrl: &ControlPlane, s: &Session) -> Result<()> {
        ctrl.action(
            "sequence_abort",
            &json!({"name": s.sequence, "key": s.key}),
            &s.sequence,
        )
        .await?;
        Ok(())
    }

    async fn report(&self, ctrl: &ControlPlane, s: &Session, msg: &str) -> Result<()> {
        self.notify(ctrl, Target::Sequence, &s.sequence, msg).await
    }

    async fn notify(
        &self,
        ctrl: &ControlPlane,
        target: Target,
        locator: &str,
        msg: &str,
    ) -> Result<()> {
        let body = json!({"name": locator, "notify_type": "error", "msg": msg});
        ctrl.action(&notify_action(target, "create"), &body, locator)
            .await?;
        Ok(())
    }

    async fn list_notifications(
        &self,
        ctrl: &ControlPlane,
        target: Target,
        locator: &str,
    ) -> Result<Vec<Notification>> {
        let kind = notify_action(target, "list");
        let reply = ctrl
            .action_idempotent(&kind, &json!({"name": locator}), locator)
            .await?;
        notifications_from_reply(&kind, reply.as_ref())
    }

    async fn purge_notifications(
        &self,
        ctrl: &ControlPlane,
        target: Target,
        locator: &str,
    ) -> Result<()> {
        ctrl.action(
            &notify_action(target, "purge"),
            &json!({"name": locator}),
            locator,
        )
        .await?;
        Ok(())
    }

    async fn delete_sequence(&self, ctrl: &ControlPlane, name: &str) -> Result<()> {
        ctrl.action("sequence_delete", &json!({"name": name}), name)
            .await?;
        Ok(())
    }

    async fn delete_topic(&self, ctrl: &ControlPlane, locator: &str) -> Result<()> {
        ctrl.action("topic_delete", &json!({"name": locator}), locator)
            .await?;
        Ok(())
    }

    async fn sequence_info(&self, ctrl: &ControlPlane, name: &str) -> Result<SequenceInfo> {
        let info = ctrl
            .flight_info(FlightDescriptor::new_path(vec![name.to_string()]), name)
            .await?;
        let sys = ctrl
            .action_idempotent("sequence_system_info", &json!({"name": name}), name)
            .await?;
        sequence_info_from(name, &info, sys)
    }

    async fn topic_info(&self, ctrl: &ControlPlane, locator: &str) -> Result<TopicInfo> {
        split_topic_locator(locator)?;
        let sys = ctrl
            .action_idempotent("topic_system_info", &json!({"name": locator}), locator)
            .await?;
        // GetFlightInfo fails for a topic with no data file (§4.1); the system info still answers.
        let info = if topic_chunks(sys.as_ref()) == Some(0) {
            None
        } else {
            Some(
                ctrl.flight_info(
                    FlightDescriptor::new_path(vec![locator.to_string()]),
                    locator,
                )
                .await?,
            )
        };
        topic_info_from(locator, sys, info.as_ref())
    }

    async fn read_plan(
        &self,
        _ctrl: &ControlPlane,
        locator: &str,
        range: TimeRange,
    ) -> Result<ReadPlan> {
        Ok(ReadPlan {
            tickets: vec![Ticket::new(locator.to_string())],
            client_window: (!range.is_all()).then_some(range),
            empty: false,
        })
    }

    fn query_body(&self, q: &Query) -> Result<Value> {
        q.to_json(Generation::Legacy)
    }

    /// mosaicod numbers the SQL placeholders of a `sequence.user_metadata` filter and of the topic
    /// filters compiled after it from the same counter, so the two together bind the wrong values
    /// and match nothing (observed on the snapshot server). Such a query runs as two: the sequence
    /// metadata alone, and the rest; the answer is the second restricted to the first's sequences.
    async fn query(&self, ctrl: &ControlPlane, q: &Query) -> Result<Vec<QueryItem>> {
        let seq_meta = q
            .sequence
            .as_ref()
            .is_some_and(|s| !s.user_metadata.is_empty());
        let topic = q
            .topic
            .as_ref()
            .is_some_and(|t| *t != crate::query::TopicFilter::default());
        if q.raw.is_some() || !(seq_meta && topic) {
            let reply = ctrl
                .action_idempotent("query", &self.query_body(q)?, "")
                .await?;
            return self.parse_query_reply(reply);
        }
        let seq = q.sequence.clone().unwrap_or_default();
        let only_meta = Query::new().sequence(crate::query::SequenceFilter {
            user_metadata: seq.user_metadata.clone(),
            ..Default::default()
        });
        let mut rest = q.clone();
        rest.sequence = Some(crate::query::SequenceFilter {
            user_metadata: vec![],
            ..seq
        });
        if rest.sequence.as_ref() == Some(&crate::query::SequenceFilter::default()) {
            rest.sequence = None;
        }
        let allowed: std::collections::HashSet<String> = self
            .parse_query_reply(
                ctrl.action_idempotent("query", &self.query_body(&only_meta)?, "")
                    .await?,
            )?
            .into_iter()
            .map(|i| i.sequence)
            .collect();
        let items = self.parse_query_reply(
            ctrl.action_idempotent("query", &self.query_body(&rest)?, "")
                .await?,
        )?;
        Ok(items
            .into_iter()
            .filter(|i| allowed.contains(&i.sequence))
            .collect())
    }

    fn parse_query_reply(&self, reply: Option<Value>) -> Result<Vec<QueryItem>> {
        parse_items(reply, |t| {
            t.as_str().map(|s| QueryTopic {
                locator: s.to_string(),
                ontology_tag: None,
            })
        })
    }
}

/// The session of a `sequence_create` reply (`{"key": ...}`).
pub(crate) fn session_from_reply(name: &str, reply: Option<Value>) -> Result<Session> {
    let reply = reply.ok_or_else(|| Error::protocol("sequence_create", "no key in reply"))?;
    Ok(Session {
        sequence: name.to_string(),
        key: str_field(&reply, "key", "sequence_create")?,
        locator: None,
        created_sequence: true,
    })
}

/// The topic key of a `topic_create` reply (`{"key": ...}`).
pub(crate) fn topic_key_from_reply(locator: &str, reply: Option<Value>) -> Result<TopicKey> {
    let reply = reply.ok_or_else(|| Error::protocol("topic_create", "no key in reply"))?;
    Ok(TopicKey {
        locator: locator.to_string(),
        key: str_field(&reply, "key", "topic_create")?,
    })
}

/// The notifications of a `*_notify_list` reply (`{"notifies": [...]}`).
pub(crate) fn notifications_from_reply(
    kind: &str,
    reply: Option<&Value>,
) -> Result<Vec<Notification>> {
    parse_notifications(kind, reply, "notifies", "notify_type")
}

/// `chunks_number` of a `topic_system_info` reply.
pub(crate) fn topic_chunks(sys: Option<&Value>) -> Option<u64> {
    sys?.get("chunks_number").and_then(Value::as_u64)
}

/// A sequence from its FlightInfo (topics from the endpoint tickets, user metadata from the schema
/// metadata) and its `sequence_system_info` reply.
pub(crate) fn sequence_info_from(
    name: &str,
    info: &FlightInfo,
    sys: Option<Value>,
) -> Result<SequenceInfo> {
    let meta = schema_metadata(info)?;
    let mut topics: Vec<String> = info
        .endpoint
        .iter()
        .filter_map(|e| e.ticket.as_ref())
        .filter_map(|t| std::str::from_utf8(&t.ticket).ok())
        .filter_map(|t| {
            t.trim_start_matches('/')
                .split_once('/')
                .map(|(_, topic)| names::display_topic(topic))
        })
        .collect();
    topics.sort();
    let sys = sys.unwrap_or(Value::Null);
    Ok(SequenceInfo {
        name: name.to_string(),
        user_metadata: json_meta(&meta, "mosaico:user_metadata"),
        topics,
        locked: sys.get("is_locked").and_then(Value::as_bool),
        total_size_bytes: sys.get("total_size_bytes").and_then(Value::as_u64),
        created: sys
            .get("created_datetime")
            .and_then(Value::as_str)
            .map(str::to_string),
        created_at_ns: None,
        sessions: Vec::new(),
    })
}

/// `SEQUENCE/TOPIC` as (sequence, topic).
fn split_topic_locator(locator: &str) -> Result<(String, String)> {
    let (sequence, topic) = names::split_locator(locator)?;
    let topic = topic.ok_or_else(|| Error::InvalidName {
        name: locator.into(),
        reason: "expected SEQUENCE/TOPIC".into(),
    })?;
    Ok((sequence, topic))
}

/// A topic from its `topic_system_info` reply and, unless it has no chunk, its FlightInfo
/// (ontology tag, format and user metadata in the schema metadata).
pub(crate) fn topic_info_from(
    locator: &str,
    sys: Option<Value>,
    info: Option<&FlightInfo>,
) -> Result<TopicInfo> {
    let (sequence, topic) = split_topic_locator(locator)?;
    let chunks = topic_chunks(sys.as_ref());
    let sys = sys.unwrap_or(Value::Null);
    let (tag, format, user_metadata) = match info {
        None => (String::new(), SerializationFormat::Default, Value::Null),
        Some(info) => {
            let meta = schema_metadata(info)?;
            let props = json_meta(&meta, "mosaico:properties");
            let tag = props
                .get("ontology_tag")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let format = props
                .get("serialization_format")
                .and_then(Value::as_str)
                .and_then(|f| f.parse().ok())
                .unwrap_or_default();
            (tag, format, json_meta(&meta, "mosaico:user_metadata"))
        }
    };
    Ok(TopicInfo {
        sequence,
        topic,
        locator: locator.to_string(),
        ontology_tag: tag,
        serialization_format: format,
        user_metadata,
        locked: sys.get("is_locked").and_then(Value::as_bool),
        total_size_bytes: sys.get("total_size_bytes").and_then(Value::as_u64),
        chunks,
        row_count: None,
        interval: None,
        created: sys
            .get("created_datetime")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// `{"items":[{"sequence": s, "topics": [...]}]}` with a generation-specific topic element.
pub(crate) fn parse_items(
    reply: Option<Value>,
    topic: impl Fn(&Value) -> Option<QueryTopic>,
) -> Result<Vec<QueryItem>> {
    let Some(reply) = reply else {
        return Ok(Vec::new());
    };
    let items = reply
        .get("items")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::protocol("query", format!("no `items` in {reply}")))?;
    items
        .iter()
        .map(|it| {
            let topics = it
                .get("topics")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            Ok(QueryItem {
                sequence: str_field(it, "sequence", "query")?,
                topics: topics
                    .iter()
                    .map(|t| {
                        topic(t)
                            .ok_or_else(|| Error::protocol("query", format!("bad topic item {t}")))
                    })
                    .collect::<Result<_>>()?,
            })
        })
        .collect()
}
