//! DoAction handlers of both generations over the [`Store`]. Each returns the reply's `response`
//! (`None` for `{"action":"empty"}`) or a [`Fault`] carrying mosaicod's text.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::query;
use super::store::*;
use super::ServerConfig;
use crate::ontology::SerializationFormat;
use crate::protocol::Generation;

fn body<T: DeserializeOwned>(raw: &[u8]) -> Outcome<T> {
    serde_json::from_slice(raw)
        .map_err(|e| Fault::internal(format!("action error :: body deserialization error: {e}")))
}

fn unknown(kind: &str) -> Fault {
    Fault::internal(format!(
        "action error :: no available action for string `{kind}`"
    ))
}

fn notify_kind(kind: &str) -> Outcome<String> {
    match kind {
        "error" => Ok(kind.to_string()),
        other => Err(Fault::internal(format!(
            "io error :: unkwnown notify type `{other}`"
        ))),
    }
}

fn notice_json(name: &str, n: &Notice, type_key: &str) -> Value {
    json!({"name": name, type_key: n.kind, "msg": n.msg, "created_datetime": datetime_display(n.created_ms * 1_000_000)})
}

#[derive(Deserialize)]
struct Name {
    name: String,
}
#[derive(Deserialize)]
struct NameKey {
    name: String,
    key: String,
}
#[derive(Deserialize)]
struct Create {
    name: String,
    user_metadata: Value,
}
#[derive(Deserialize)]
struct Notify {
    name: String,
    notify_type: String,
    msg: String,
}
#[derive(Deserialize)]
struct LegacyTopicCreate {
    name: String,
    sequence_key: String,
    serialization_format: SerializationFormat,
    ontology_tag: String,
    user_metadata: Value,
}
#[derive(Deserialize)]
struct Layer {
    name: String,
    description: String,
}
#[derive(Deserialize)]
struct LayerUpdate {
    prev_name: String,
    curr_name: String,
    curr_description: String,
}

/// Runs one action; `kind` is the action type as sent.
pub fn run(
    store: &mut Store,
    config: &ServerConfig,
    kind: &str,
    raw: &[u8],
) -> Outcome<Option<Value>> {
    if store.dead {
        return Err(Fault::Dead);
    }
    match config.generation {
        Generation::Legacy => legacy(store, kind, raw),
        Generation::Current => current(store, config, kind, raw),
    }
}

fn legacy(store: &mut Store, kind: &str, raw: &[u8]) -> Outcome<Option<Value>> {
    match kind {
        "sequence_create" => {
            let b: Create = body(raw)?;
            let s = store.create_sequence(&sanitize(&b.name), b.user_metadata)?;
            Ok(Some(json!({"key": s.key})))
        }
        "sequence_finalize" => {
            let b: NameKey = body(raw)?;
            let name = sanitize(&b.name);
            let s = store.sequence(&name)?;
            check_key(&b.key, &s.key)?;
            if s.locked {
                return Err(Fault::internal(SEQUENCE_LOCKED));
            }
            if store.topics_of(&name).any(|t| !t.locked) {
                return Err(Fault::internal(TOPIC_UNLOCKED));
            }
            store.sequence_mut(&name)?.locked = true;
            Ok(None)
        }
        "sequence_abort" => {
            let b: NameKey = body(raw)?;
            let name = sanitize(&b.name);
            let s = store.sequence(&name)?;
            if s.locked {
                return Err(Fault::internal(IS_LOCKED));
            }
            check_key(&b.key, &s.key)?;
            store.remove_sequence(&name);
            Ok(None)
        }
        "sequence_delete" => {
            let b: Name = body(raw)?;
            let name = sanitize(&b.name);
            if name.is_empty() {
                // The whole store's objects go; the catalogue rows stay (observed, §12a).
                store.wipe_objects();
                return Ok(None);
            }
            if store.sequence(&name)?.locked {
                return Err(Fault::internal(IS_LOCKED));
            }
            store.remove_sequence(&name);
            Ok(None)
        }
        "sequence_system_info" => {
            let b: Name = body(raw)?;
            let name = sanitize(&b.name);
            let s = store.sequence(&name)?;
            Ok(Some(json!({
                "total_size_bytes": store.sequence_bytes(&name),
                "is_locked": s.locked,
                "created_datetime": datetime_display(s.created_ns),
            })))
        }
        "sequence_notify_create" => {
            let b: Notify = body(raw)?;
            let kind = notify_kind(&b.notify_type)?;
            let s = store.sequence_mut(&sanitize(&b.name))?;
            s.notices.push(Notice {
                kind,
                msg: b.msg,
                created_ms: now_ns() / 1_000_000,
            });
            Ok(None)
        }
        "sequence_notify_list" => {
            let b: Name = body(raw)?;
            let name = sanitize(&b.name);
            let list: Vec<Value> = store
                .sequences
                .get(&name)
                .map(|s| {
                    s.notices
                        .iter()
                        .map(|n| notice_json(&name, n, "notify_type"))
                        .collect()
                })
                .unwrap_or_default();
            Ok(Some(json!({"notifies": list})))
        }
        "sequence_notify_purge" => {
            let b: Name = body(raw)?;
            if let Some(s) = store.sequences.get_mut(&sanitize(&b.name)) {
                s.notices.clear();
            }
            Ok(None)
        }
        "topic_create" => {
            let b: LegacyTopicCreate = body(raw)?;
            uuid::Uuid::parse_str(&b.sequence_key)
                .map_err(|e| Fault::internal(format!("malformed key :: {e}")))?;
            let seq = store
                .sequences
                .values()
                .find(|s| s.key == b.sequence_key)
                .ok_or_else(|| Fault::internal(NOT_FOUND))?;
            if seq.locked {
                return Err(Fault::internal(SEQUENCE_LOCKED));
            }
            let seq = seq.name.clone();
            let t = store.create_topic(
                &seq,
                None,
                &sanitize(&b.name),
                &b.ontology_tag,
                b.serialization_format,
                b.user_metadata,
            )?;
            Ok(Some(json!({"key": t.key})))
        }
        "topic_delete" => {
            let b: Name = body(raw)?;
            let name = sanitize(&b.name);
            if store.topic(&name)?.locked {
                return Err(Fault::internal(IS_LOCKED));
            }
            store.topics.remove(&name);
            Ok(None)
        }
        "topic_system_info" => {
            let b: Name = body(raw)?;
            let name = sanitize(&b.name);
            let t = store.topic(&name)?;
            let (chunks, bytes) = store.topic_tree_bytes(&name);
            Ok(Some(json!({
                "chunks_number": chunks,
                "total_size_bytes": bytes,
                "is_locked": t.locked,
                "created_datetime": datetime_display(t.created_ns),
            })))
        }
        "topic_notify_create" => {
            let b: Notify = body(raw)?;
            let kind = notify_kind(&b.notify_type)?;
            store.topic_mut(&sanitize(&b.name))?.notices.push(Notice {
                kind,
                msg: b.msg,
                created_ms: now_ns() / 1_000_000,
            });
            Ok(None)
        }
        "topic_notify_list" => {
            let b: Name = body(raw)?;
            let name = sanitize(&b.name);
            let list: Vec<Value> = store
                .topics
                .get(&name)
                .map(|t| {
                    t.notices
                        .iter()
                        .map(|n| notice_json(&name, n, "notify_type"))
                        .collect()
                })
                .unwrap_or_default();
            Ok(Some(json!({"notifies": list})))
        }
        "topic_notify_purge" => {
            let b: Name = body(raw)?;
            if let Some(t) = store.topics.get_mut(&sanitize(&b.name)) {
                t.notices.clear();
            }
            Ok(None)
        }
        "layer_create" => {
            let b: Layer = body(raw)?;
            if store.layers.contains_key(&b.name) {
                return Err(Fault::internal(format!(
                    "facade error :: repository error :: backend error :: duplicate key value violates unique constraint on layer `{}`",
                    b.name
                )));
            }
            store.layers.insert(b.name, b.description);
            Ok(None)
        }
        "layer_delete" => {
            let b: Name = body(raw)?;
            store
                .layers
                .remove(&b.name)
                .ok_or_else(|| Fault::internal(NOT_FOUND))?;
            Ok(None)
        }
        "layer_update" => {
            let b: LayerUpdate = body(raw)?;
            store
                .layers
                .remove(&b.prev_name)
                .ok_or_else(|| Fault::internal(NOT_FOUND))?;
            store.layers.insert(b.curr_name, b.curr_description);
            Ok(None)
        }
        "layer_list" => {
            let _: serde_json::Map<String, Value> = body(raw)?;
            let layers: Vec<Value> = store
                .layers
                .iter()
                .map(|(n, d)| json!({"name": n, "description": d}))
                .collect();
            Ok(Some(json!({"layers": layers})))
        }
        "query" => query::run(store, Generation::Legacy, raw),
        other => Err(unknown(other)),
    }
}

#[derive(Deserialize)]
struct Locator {
    locator: String,
}
#[derive(Deserialize)]
struct CurrentCreate {
    locator: String,
    user_metadata: Value,
}
#[derive(Deserialize)]
struct SessionUuid {
    session_uuid: String,
}
#[derive(Deserialize)]
struct CurrentNotify {
    locator: String,
    notification_type: String,
    msg: String,
}
#[derive(Deserialize)]
struct CurrentTopicCreate {
    session_uuid: String,
    locator: String,
    serialization_format: SerializationFormat,
    ontology_tag: String,
    user_metadata: Value,
}

fn session_of<'a>(store: &'a Store, uuid: &str) -> Outcome<(&'a Sequence, &'a Session)> {
    store
        .sequences
        .values()
        .find_map(|s| s.sessions.iter().find(|x| x.uuid == uuid).map(|x| (s, x)))
        .ok_or_else(|| Fault::internal(NOT_FOUND))
}

fn current(
    store: &mut Store,
    config: &ServerConfig,
    kind: &str,
    raw: &[u8],
) -> Outcome<Option<Value>> {
    match kind {
        "info" => {
            let v = env!("CARGO_PKG_VERSION");
            let mut parts = v.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
            Ok(Some(json!({
                "version": format!("{v} (mosaico_bridge test server)"),
                "semver": {"major": parts.next(), "minor": parts.next(), "patch": parts.next(), "pre": null},
                "config": {
                    "grpc_max_decode_message_size": config.max_message_bytes,
                    "grpc_max_encode_message_size": config.max_message_bytes,
                    "grpc_target_encode_message_size": config.max_message_bytes / 2,
                },
            })))
        }
        "sequence_create" => {
            let b: CurrentCreate = body(raw)?;
            store.create_sequence(&sanitize(&b.locator), b.user_metadata)?;
            Ok(None)
        }
        "session_create" => {
            let b: Locator = body(raw)?;
            let s = store.sequence_mut(&sanitize(&b.locator))?;
            let session = Session {
                uuid: uuid::Uuid::new_v4().to_string(),
                locator: format!("{}:{}", s.name, ulid::Ulid::new()),
                created_ns: now_ns(),
                completed_ns: None,
                locked: false,
            };
            let reply = json!({"uuid": session.uuid, "locator": session.locator});
            s.sessions.push(session);
            Ok(Some(reply))
        }
        "topic_create" => {
            let b: CurrentTopicCreate = body(raw)?;
            let (seq, session) = session_of(store, &b.session_uuid)?;
            if session.locked {
                return Err(Fault::internal(SESSION_LOCKED));
            }
            let (seq, uuid) = (seq.name.clone(), session.uuid.clone());
            let locator = sanitize(&b.locator);
            if !locator.starts_with(&format!("{seq}/")) {
                return Err(Fault::internal(UNAUTHORIZED));
            }
            let t = store.create_topic(
                &seq,
                Some(uuid),
                &locator,
                &b.ontology_tag,
                b.serialization_format,
                b.user_metadata,
            )?;
            Ok(Some(json!({"uuid": t.key})))
        }
        "session_finalize" => {
            let b: SessionUuid = body(raw)?;
            let (seq, session) = session_of(store, &b.session_uuid)?;
            if session.locked {
                return Err(Fault::internal(SESSION_LOCKED));
            }
            let seq = seq.name.clone();
            if store
                .topics
                .values()
                .any(|t| t.session.as_deref() == Some(&b.session_uuid) && !t.locked)
            {
                return Err(Fault::internal(TOPIC_UNLOCKED));
            }
            let s = store.sequence_mut(&seq)?;
            for x in s.sessions.iter_mut().filter(|x| x.uuid == b.session_uuid) {
                x.locked = true;
                x.completed_ns = Some(now_ns());
            }
            Ok(None)
        }
        "session_delete" => {
            let b: Locator = body(raw)?;
            let (seq_name, _) = b
                .locator
                .split_once(':')
                .ok_or_else(|| Fault::internal(NOT_FOUND))?;
            let seq = store.sequence_mut(&sanitize(seq_name))?;
            let session = seq
                .sessions
                .iter()
                .find(|x| x.locator == b.locator)
                .ok_or_else(|| Fault::internal(NOT_FOUND))?;
            if session.locked {
                return Err(Fault::internal("session is locked"));
            }
            let uuid = session.uuid.clone();
            seq.sessions.retain(|x| x.uuid != uuid);
            store
                .topics
                .retain(|_, t| t.session.as_deref() != Some(&uuid));
            Ok(None)
        }
        "sequence_delete" => {
            let b: Locator = body(raw)?;
            let name = sanitize(&b.locator);
            if store.sequence(&name)?.sessions.iter().any(|x| x.locked) {
                return Err(Fault::internal(IS_LOCKED));
            }
            store.remove_sequence(&name);
            Ok(None)
        }
        "topic_delete" => {
            let b: Locator = body(raw)?;
            let name = sanitize(&b.locator);
            if store.topic(&name)?.locked {
                return Err(Fault::internal(IS_LOCKED));
            }
            store.topics.remove(&name);
            Ok(None)
        }
        "sequence_notification_create" | "topic_notification_create" => {
            let b: CurrentNotify = body(raw)?;
            let kind_ = notify_kind(&b.notification_type)?;
            let n = Notice {
                kind: kind_,
                msg: b.msg,
                created_ms: now_ns() / 1_000_000,
            };
            let name = sanitize(&b.locator);
            if kind.starts_with("sequence") {
                store.sequence_mut(&name)?.notices.push(n);
            } else {
                store.topic_mut(&name)?.notices.push(n);
            }
            Ok(None)
        }
        "sequence_notification_list" | "topic_notification_list" => {
            let b: Locator = body(raw)?;
            let name = sanitize(&b.locator);
            let notices = if kind.starts_with("sequence") {
                store.sequences.get(&name).map(|s| s.notices.clone())
            } else {
                store.topics.get(&name).map(|t| t.notices.clone())
            };
            let list: Vec<Value> = notices
                .unwrap_or_default()
                .iter()
                .map(|n| notice_json(&name, n, "notification_type"))
                .collect();
            Ok(Some(json!({"notifications": list})))
        }
        "sequence_notification_purge" | "topic_notification_purge" => {
            let b: Locator = body(raw)?;
            let name = sanitize(&b.locator);
            if kind.starts_with("sequence") {
                if let Some(s) = store.sequences.get_mut(&name) {
                    s.notices.clear();
                }
            } else if let Some(t) = store.topics.get_mut(&name) {
                t.notices.clear();
            }
            Ok(None)
        }
        "query" => query::run(store, Generation::Current, raw),
        other => Err(unknown(other)),
    }
}
