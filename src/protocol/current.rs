//! The current generation, as SDK 0.7 speaks it: sessions, locators, CMD descriptors, app_metadata.

use arrow_flight::{FlightDescriptor, FlightEndpoint, FlightInfo};
use async_trait::async_trait;
use serde_json::{json, Value};

use super::*;
use crate::control::ControlPlane;
use crate::error::{Error, Result};
use crate::names;
use crate::query::QueryTopic;

#[derive(Debug, Default)]
pub struct Current;

fn notify_action(target: Target, verb: &str) -> String {
    match target {
        Target::Sequence => format!("sequence_notification_{verb}"),
        Target::Topic => format!("topic_notification_{verb}"),
    }
}

/// The CMD descriptor GetFlightInfo / GetSchema take, with an optional window.
pub fn locator_descriptor(locator: &str, range: TimeRange) -> FlightDescriptor {
    let mut cmd = json!({"resource_locator": locator});
    if let Some(s) = range.start_ns {
        cmd["timestamp_ns_start"] = json!(s);
    }
    if let Some(e) = range.end_ns {
        cmd["timestamp_ns_end"] = json!(e);
    }
    FlightDescriptor::new_cmd(cmd.to_string())
}

fn app_metadata(bytes: &[u8], what: &str) -> Result<Value> {
    if bytes.is_empty() {
        return Err(Error::protocol(what, "no app_metadata"));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| Error::protocol(what, format!("app_metadata is not JSON: {e}")))
}

fn interval(v: &Value) -> Option<(i64, i64)> {
    let i = v.get("interval")?;
    Some((i.get("start_ns")?.as_i64()?, i.get("end_ns")?.as_i64()?))
}

pub(crate) fn ns_display(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns)
        .format("%Y-%m-%d %H:%M:%S%.3f UTC")
        .to_string()
}

fn topic_from_endpoint(ep: &FlightEndpoint) -> Result<TopicInfo> {
    let v = app_metadata(&ep.app_metadata, "get_flight_info")?;
    let locator = str_field(&v, "resource_locator", "get_flight_info")?;
    let (sequence, topic) = names::split_locator(&locator)?;
    let data = v.get("data_info").cloned().unwrap_or(Value::Null);
    let created_at_ns = v.get("created_at_ns").and_then(Value::as_i64);
    Ok(TopicInfo {
        sequence,
        topic: topic.unwrap_or_default(),
        locator: locator.clone(),
        ontology_tag: str_field(&v, "ontology_tag", "get_flight_info")?,
        serialization_format: str_field(&v, "serialization_format", "get_flight_info")?
            .parse()
            .map_err(|e: String| Error::protocol("get_flight_info", e))?,
        user_metadata: v.get("user_metadata").cloned().unwrap_or(Value::Null),
        locked: v.get("locked").and_then(Value::as_bool),
        total_size_bytes: data.get("total_bytes").and_then(Value::as_u64),
        chunks: data.get("total_chunks_count").and_then(Value::as_u64),
        row_count: data.get("total_row_count").and_then(Value::as_u64),
        interval: interval(&data),
        created: created_at_ns.map(ns_display),
    })
}

fn find_endpoint<'a>(info: &'a FlightInfo, locator: &str) -> Option<&'a FlightEndpoint> {
    info.endpoint.iter().find(|ep| {
        serde_json::from_slice::<Value>(&ep.app_metadata)
            .ok()
            .and_then(|v| {
                v.get("resource_locator")
                    .and_then(Value::as_str)
                    .map(|l| l.trim_start_matches('/') == locator)
            })
            .unwrap_or(false)
    })
}

/// The session of a `session_create` reply (`{"uuid", "locator"}`).
pub(crate) fn session_from_reply(name: &str, reply: Option<Value>) -> Result<Session> {
    let reply = reply.ok_or_else(|| Error::protocol("session_create", "empty reply"))?;
    Ok(Session {
        sequence: name.to_string(),
        key: str_field(&reply, "uuid", "session_create")?,
        locator: Some(str_field(&reply, "locator", "session_create")?),
        created_sequence: false,
    })
}

/// The topic key of a `topic_create` reply (`{"uuid"}`).
pub(crate) fn topic_key_from_reply(locator: &str, reply: Option<Value>) -> Result<TopicKey> {
    let reply = reply.ok_or_else(|| Error::protocol("topic_create", "empty reply"))?;
    Ok(TopicKey {
        locator: locator.to_string(),
        key: str_field(&reply, "uuid", "topic_create")?,
    })
}

/// The notifications of a `*_notification_list` reply (`{"notifications": [...]}`).
pub(crate) fn notifications_from_reply(
    kind: &str,
    reply: Option<&Value>,
) -> Result<Vec<Notification>> {
    parse_notifications(kind, reply, "notifications", "notification_type")
}

/// A sequence from its FlightInfo: its own app_metadata (locator, sessions, creation) and one
/// endpoint per topic.
pub(crate) fn sequence_info_from(info: &FlightInfo) -> Result<SequenceInfo> {
    let v = app_metadata(&info.app_metadata, "get_flight_info")?;
    let mut topics = Vec::new();
    let mut size = 0u64;
    for ep in &info.endpoint {
        let t = topic_from_endpoint(ep)?;
        size += t.total_size_bytes.unwrap_or(0);
        topics.push(t.topic);
    }
    topics.sort();
    let sessions: Vec<SessionInfo> = v
        .get("sessions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|s| SessionInfo {
                    locator: s
                        .get("locator")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    created_at_ns: s.get("created_at_ns").and_then(Value::as_i64),
                    completed_at_ns: s.get("completed_at_ns").and_then(Value::as_i64),
                    locked: s.get("locked").and_then(Value::as_bool).unwrap_or(false),
                    topics: s
                        .get("topics")
                        .and_then(Value::as_array)
                        .map(|t| {
                            t.iter()
                                .filter_map(|x| x.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default();
    let created_at_ns = v.get("created_at_ns").and_then(Value::as_i64);
    Ok(SequenceInfo {
        name: str_field(&v, "resource_locator", "get_flight_info")?,
        user_metadata: v.get("user_metadata").cloned().unwrap_or(Value::Null),
        topics,
        locked: Some(!sessions.is_empty() && sessions.iter().all(|s| s.locked)),
        total_size_bytes: Some(size),
        created: created_at_ns.map(ns_display),
        created_at_ns,
        sessions,
    })
}

/// The endpoint of `locator` in a FlightInfo, or a protocol error naming it.
fn endpoint_of<'a>(info: &'a FlightInfo, locator: &str) -> Result<&'a FlightEndpoint> {
    find_endpoint(info, locator)
        .ok_or_else(|| Error::protocol("get_flight_info", format!("no endpoint for `{locator}`")))
}

/// A topic from the FlightInfo of its locator: the endpoint whose app_metadata names it.
pub(crate) fn topic_info_from(info: &FlightInfo, locator: &str) -> Result<TopicInfo> {
    let ep = endpoint_of(info, locator)?;
    topic_from_endpoint(ep)
}

/// How to read a topic, from the FlightInfo of its locator (with the window applied server-side).
pub(crate) fn read_plan_from(info: &FlightInfo, locator: &str) -> Result<ReadPlan> {
    let ep = endpoint_of(info, locator)?;
    let v = app_metadata(&ep.app_metadata, "get_flight_info")?;
    let empty = interval(v.get("data_info").unwrap_or(&Value::Null)).is_none();
    let ticket = ep.ticket.clone().ok_or_else(|| {
        Error::protocol(
            "get_flight_info",
            format!("endpoint of `{locator}` has no ticket"),
        )
    })?;
    Ok(ReadPlan {
        tickets: vec![ticket],
        client_window: None,
        empty,
    })
}

#[async_trait]
impl Protocol for Current {
    fn generation(&self) -> Generation {
        Generation::Current
    }

    async fn create_sequence(
        &self,
        ctrl: &ControlPlane,
        name: &str,
        user_metadata: &Value,
    ) -> Result<Session> {
        let body = json!({"locator": name, "user_metadata": metadata_object(user_metadata)});
        ctrl.action("sequence_create", &body, name).await?;
        let mut s = self.open_session(ctrl, name).await?;
        s.created_sequence = true;
        Ok(s)
    }

    async fn open_session(&self, ctrl: &ControlPlane, name: &str) -> Result<Session> {
        let reply = ctrl
            .action("session_create", &json!({"locator": name}), name)
            .await?;
        session_from_reply(name, reply)
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
            "session_uuid": session.key,
            "locator": locator,
            "serialization_format": format.as_str(),
            "ontology_tag": ontology_tag,
            "user_metadata": metadata_object(user_metadata),
        });
        let reply = ctrl.action("topic_create", &body, locator).await?;
        topic_key_from_reply(locator, reply)
    }

    fn put_descriptor(&self, topic: &TopicKey) -> FlightDescriptor {
        let cmd = json!({"resource_locator": topic.locator, "topic_uuid": topic.key});
        FlightDescriptor::new_cmd(cmd.to_string())
    }

    async fn finalize(&self, ctrl: &ControlPlane, s: &Session) -> Result<()> {
        ctrl.action(
            "session_finalize",
            &json!({"session_uuid": s.key}),
            &s.sequence,
        )
        .await?;
        Ok(())
    }

    async fn discard(&self, ctrl: &ControlPlane, s: &Session) -> Result<()> {
        let locator = s.locator.as_deref().unwrap_or(&s.sequence);
        ctrl.action("session_delete", &json!({"locator": locator}), locator)
            .await?;
        if s.created_sequence {
            self.delete_sequence(ctrl, &s.sequence).await?;
        }
        Ok(())
    }

    /// As the SDK does: an error notification on the sequence, then the session is finalized so its
    /// data stays available (the server decides what remains deletable).
    async fn report(&self, ctrl: &ControlPlane, s: &Session, msg: &str) -> Result<()> {
        self.notify(ctrl, Target::Sequence, &s.sequence, msg)
            .await?;
        self.finalize(ctrl, s).await
    }

    async fn notify(
        &self,
        ctrl: &ControlPlane,
        target: Target,
        locator: &str,
        msg: &str,
    ) -> Result<()> {
        let body = json!({"locator": locator, "notification_type": "error", "msg": msg});
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
            .action_idempotent(&kind, &json!({"locator": locator}), locator)
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
            &json!({"locator": locator}),
            locator,
        )
        .await?;
        Ok(())
    }

    async fn delete_sequence(&self, ctrl: &ControlPlane, name: &str) -> Result<()> {
        ctrl.action("sequence_delete", &json!({"locator": name}), name)
            .await?;
        Ok(())
    }

    async fn delete_topic(&self, ctrl: &ControlPlane, locator: &str) -> Result<()> {
        ctrl.action("topic_delete", &json!({"locator": locator}), locator)
            .await?;
        Ok(())
    }

    async fn sequence_info(&self, ctrl: &ControlPlane, name: &str) -> Result<SequenceInfo> {
        let info = ctrl
            .flight_info(locator_descriptor(name, TimeRange::default()), name)
            .await?;
        sequence_info_from(&info)
    }

    async fn topic_info(&self, ctrl: &ControlPlane, locator: &str) -> Result<TopicInfo> {
        let info = ctrl
            .flight_info(locator_descriptor(locator, TimeRange::default()), locator)
            .await?;
        topic_info_from(&info, locator)
    }

    async fn read_plan(
        &self,
        ctrl: &ControlPlane,
        locator: &str,
        range: TimeRange,
    ) -> Result<ReadPlan> {
        let info = ctrl
            .flight_info(locator_descriptor(locator, range), locator)
            .await?;
        read_plan_from(&info, locator)
    }

    fn query_body(&self, q: &Query) -> Result<Value> {
        q.to_json(Generation::Current)
    }

    fn parse_query_reply(&self, reply: Option<Value>) -> Result<Vec<QueryItem>> {
        super::legacy::parse_items(reply, |t| {
            Some(QueryTopic {
                locator: t.get("locator")?.as_str()?.to_string(),
                ontology_tag: t
                    .get("ontology_tag")
                    .and_then(Value::as_str)
                    .map(str::to_string),
            })
        })
    }
}
