//! A recording's parts on the server: how they are named, whether one is already there (committed
//! or unfinished), and opening or replacing one. This is what makes uploads idempotent: a part the
//! server committed is never sent twice, and an unfinished one is removed before it is sent again.
//!
//! On a legacy server part N is the sequence `<name>_partN` (part 1: `<name>`); on a current server
//! every part is a session of the sequence `<name>`, and parts after the first name their topics
//! `/imu__partN`, since a topic cannot be appended to.

use serde::Serialize;
use serde_json::{json, Map, Value};
use tracing::{info, warn};

use super::spool_dir::SessionFacts;
use crate::error::{Error, Result};
use crate::handlers::{MosaicoClient, OnError, SequenceSummary, SequenceWriter, WriterOptions};
use crate::protocol::Generation;

/// Metadata keys the recorder adds to every sequence (and part).
pub const META_SESSION_ID: &str = "recording_session";
pub const META_PART: &str = "recording_part";
pub const META_HOST: &str = "host";
pub const META_BRIDGE_VERSION: &str = "mosaico_bridge_version";
pub const META_ROS_DISTRO: &str = "ros_distro";
pub const META_STARTED_AT: &str = "recording_started_at";

/// Where a part lives: the sequence name and the topic-name suffix of this part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartNaming {
    pub sequence: String,
    pub topic_suffix: String,
}

/// Names part `part` (from 1) of a recording whose first part is `base`.
pub fn part_naming(generation: Generation, base: &str, part: u32) -> PartNaming {
    match (generation, part) {
        (_, 1) => PartNaming {
            sequence: base.to_string(),
            topic_suffix: String::new(),
        },
        (Generation::Legacy, n) => PartNaming {
            sequence: format!("{base}_part{n}"),
            topic_suffix: String::new(),
        },
        (Generation::Current, n) => PartNaming {
            sequence: base.to_string(),
            topic_suffix: format!("__part{n}"),
        },
    }
}

/// The metadata of part `part`: the recording's metadata with the part number.
pub fn part_metadata(recording: &Value, part: u32) -> Value {
    let mut m: Map<String, Value> = recording.as_object().cloned().unwrap_or_default();
    m.insert(META_PART.into(), json!(part));
    Value::Object(m)
}

/// What one finished part wrote.
#[derive(Debug, Clone, Serialize)]
pub struct PartSummary {
    pub part: u32,
    pub sequence: String,
    pub summary: SequenceSummary,
}

/// What the server holds of a part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnServer {
    Absent,
    /// Started and never finalized: to be removed before it is uploaded again.
    Unfinished {
        /// Current generation: the session to delete.
        session: Option<String>,
    },
    Committed,
}

fn belongs(meta: &Value, facts: &SessionFacts) -> bool {
    meta.get(META_SESSION_ID).and_then(Value::as_str) == Some(facts.session_id.as_str())
}

fn foreign(sequence: &str, facts: &SessionFacts) -> Error {
    Error::AlreadyExists {
        what: format!("sequence `{sequence}`"),
        message: format!(
            "it was not written by recording session {} (a name clash: give the recording another sequence.name)",
            facts.session_id
        ),
    }
}

/// Whether a topic name belongs to part `part` on a current server.
fn topic_of_part(topic: &str, part: u32) -> bool {
    match topic.rsplit_once("__part") {
        Some((_, n)) if n.parse::<u32>().is_ok() => n.parse::<u32>().ok() == Some(part),
        _ => part == 1,
    }
}

/// What the server holds of part `part`. `known_session` is the session recorded locally when the
/// part was opened (current generation).
pub async fn on_server(
    client: &MosaicoClient,
    facts: &SessionFacts,
    part: u32,
    known_session: Option<&str>,
) -> Result<OnServer> {
    let naming = part_naming(client.generation(), &facts.sequence, part);
    let info = match client.sequence_handler(&naming.sequence).await {
        Ok(h) => h.info().clone(),
        Err(Error::NotFound { .. }) => return Ok(OnServer::Absent),
        Err(e) => return Err(e),
    };
    if !belongs(&info.user_metadata, facts) {
        return Err(foreign(&naming.sequence, facts));
    }
    match client.generation() {
        Generation::Legacy => Ok(if info.locked == Some(true) {
            OnServer::Committed
        } else {
            OnServer::Unfinished { session: None }
        }),
        Generation::Current => {
            let mine = info.sessions.iter().find(|s| match known_session {
                Some(k) => s.locator == k,
                None => !s.topics.is_empty() && s.topics.iter().all(|t| topic_of_part(t, part)),
            });
            Ok(match mine {
                None => OnServer::Absent,
                Some(s) if s.locked => OnServer::Committed,
                Some(s) => OnServer::Unfinished {
                    session: Some(s.locator.clone()),
                },
            })
        }
    }
}

/// Removes an unfinished part so it can be uploaded again.
pub async fn remove_unfinished(
    client: &MosaicoClient,
    facts: &SessionFacts,
    part: u32,
    state: &OnServer,
) -> Result<()> {
    let OnServer::Unfinished { session } = state else {
        return Ok(());
    };
    let naming = part_naming(client.generation(), &facts.sequence, part);
    match session {
        Some(locator) => {
            warn!(part, session = %locator, "removing the unfinished part left by an earlier upload");
            match client.session_delete(locator).await {
                Ok(()) | Err(Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(e),
            }
        }
        None => {
            warn!(part, sequence = %naming.sequence, "removing the unfinished part left by an earlier upload");
            match client.sequence_delete(&naming.sequence).await {
                Ok(()) | Err(Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(e),
            }
        }
    }
}

/// Opens part `part` for writing. Its failures discard it (the spool still holds the data).
pub async fn open(
    client: &MosaicoClient,
    facts: &SessionFacts,
    part: u32,
    options: WriterOptions,
) -> Result<SequenceWriter> {
    let naming = part_naming(client.generation(), &facts.sequence, part);
    let meta = part_metadata(&facts.metadata, part);
    let w = match client.generation() {
        Generation::Legacy => {
            client
                .sequence_create_with(&naming.sequence, meta, OnError::Delete, options)
                .await?
        }
        Generation::Current => match client.sequence_handler(&naming.sequence).await {
            Ok(h) if belongs(&h.info().user_metadata, facts) => {
                client
                    .sequence_update(&naming.sequence, OnError::Delete, options)
                    .await?
            }
            Ok(_) => return Err(foreign(&naming.sequence, facts)),
            Err(Error::NotFound { .. }) => {
                client
                    .sequence_create_with(&naming.sequence, meta, OnError::Delete, options)
                    .await?
            }
            Err(e) => return Err(e),
        },
    };
    info!(sequence = %naming.sequence, part, "part opened");
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_new_sequences_on_legacy_and_new_topic_names_on_current() {
        assert_eq!(
            part_naming(Generation::Legacy, "run", 1),
            PartNaming {
                sequence: "run".into(),
                topic_suffix: "".into()
            }
        );
        assert_eq!(
            part_naming(Generation::Legacy, "run", 3).sequence,
            "run_part3"
        );
        let c = part_naming(Generation::Current, "run", 2);
        assert_eq!(
            (c.sequence.as_str(), c.topic_suffix.as_str()),
            ("run", "__part2")
        );
    }

    #[test]
    fn topics_are_matched_to_their_part() {
        assert!(topic_of_part("/imu", 1));
        assert!(!topic_of_part("/imu", 2));
        assert!(topic_of_part("/imu__part2", 2));
        assert!(!topic_of_part("/imu__part2", 1));
        assert!(topic_of_part("/a__partx", 1));
    }
}
