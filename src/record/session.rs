//! A recording session: one sequence (legacy) or one sequence of sessions (current), written in
//! parts so that no topic stream grows without bound on the server.
//!
//! The server holds a topic in memory until its stream ends, so a long session is cut into parts by
//! duration or bytes. Every part carries the session id and its number in metadata. On a current
//! server a part is a new *session* of the same sequence, and since a topic cannot be appended to,
//! parts after the first use fresh topic names (`/imu` → `/imu__part2`); on a legacy server a part is
//! a new sequence (`<name>_part2`). Readers find the original ROS topic in each topic's metadata.

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use tracing::{info, warn};

use crate::config::{RecordConfig, SequenceTemplate};
use crate::error::{Error, Result};
use crate::handlers::{
    MosaicoClient, SequenceSummary, SequenceWriter, TopicOptions, TopicWriter, WriterOptions,
};
use crate::protocol::Generation;

pub use crate::upload::parts::{
    part_naming, PartNaming, PartSummary, META_BRIDGE_VERSION, META_HOST, META_PART,
    META_ROS_DISTRO, META_SESSION_ID, META_STARTED_AT,
};

/// Counts bytes and time of the current part to decide when to split.
#[derive(Debug, Clone, Copy)]
pub struct SplitClock {
    started: Instant,
    bytes: u64,
    max_duration_s: u64,
    max_bytes: u64,
}

impl SplitClock {
    pub fn new(cfg: &RecordConfig) -> Self {
        SplitClock {
            started: Instant::now(),
            bytes: 0,
            max_duration_s: cfg.split.max_duration_s,
            max_bytes: cfg.split.max_bytes,
        }
    }
    pub fn add(&mut self, bytes: u64) {
        self.bytes += bytes;
    }
    pub fn due(&self) -> bool {
        (self.max_bytes > 0 && self.bytes >= self.max_bytes)
            || (self.max_duration_s > 0 && self.started.elapsed().as_secs() >= self.max_duration_s)
    }
    pub fn reset(&mut self) {
        self.started = Instant::now();
        self.bytes = 0;
    }
}

/// The name of a new recording: the fixed name if configured, else the template.
pub fn recording_name(
    cfg: &RecordConfig,
    host: &str,
    at: DateTime<Utc>,
    counter: u32,
) -> Result<String> {
    if !cfg.sequence.name.is_empty() {
        return Ok(cfg.sequence.name.clone());
    }
    let t = SequenceTemplate::parse(&cfg.sequence.template)
        .map_err(|m| Error::Config(format!("sequence.template: {m}")))?;
    Ok(t.render(&cfg.robot_name, host, at, counter))
}

/// The metadata of every part: the configured metadata plus where and how it was recorded.
pub fn recording_metadata(
    cfg: &RecordConfig,
    session_id: &str,
    host: &str,
    at: DateTime<Utc>,
    part: u32,
) -> Value {
    let mut m: Map<String, Value> = cfg.sequence.metadata.clone();
    m.insert(META_SESSION_ID.into(), json!(session_id));
    m.insert(META_PART.into(), json!(part));
    m.insert(META_HOST.into(), json!(host));
    m.insert(META_BRIDGE_VERSION.into(), json!(env!("CARGO_PKG_VERSION")));
    m.insert(
        META_ROS_DISTRO.into(),
        json!(std::env::var("ROS_DISTRO").unwrap_or_default()),
    );
    m.insert(META_STARTED_AT.into(), json!(at.to_rfc3339()));
    m.insert("robot".into(), json!(cfg.robot_name));
    Value::Object(m)
}

/// Where a recording broken by a fault continues once the server is back.
#[derive(Debug, Clone)]
pub struct Resume {
    pub base_name: String,
    pub session_id: String,
    pub started_at: DateTime<Utc>,
    pub part: u32,
}

/// One recording session, written part by part. Topic writers are created on a topic's first
/// message: empty topics break readers.
pub struct Recording {
    client: MosaicoClient,
    cfg: std::sync::Arc<RecordConfig>,
    pub session_id: String,
    pub base_name: String,
    host: String,
    started_at: DateTime<Utc>,
    part: u32,
    writer: SequenceWriter,
    topics: HashMap<String, TopicWriter>,
    pub clock: SplitClock,
    finished: Vec<PartSummary>,
}

fn writer_options(cfg: &RecordConfig) -> WriterOptions {
    let d = WriterOptions::default();
    WriterOptions {
        max_batch_bytes: (cfg.batch.max_bytes > 0).then_some(cfg.batch.max_bytes as usize),
        max_in_flight: if cfg.batch.max_in_flight > 0 {
            cfg.batch.max_in_flight as usize
        } else {
            d.max_in_flight
        },
    }
}

impl Recording {
    /// Starts a recording (its first part) named from the config.
    pub async fn begin(
        client: MosaicoClient,
        cfg: std::sync::Arc<RecordConfig>,
        host: &str,
        counter: u32,
    ) -> Result<Self> {
        let started_at = Utc::now();
        let base_name = recording_name(&cfg, host, started_at, counter)?;
        let session_id = ulid::Ulid::new().to_string();
        let writer =
            Self::open_part(&client, &cfg, &base_name, &session_id, host, started_at, 1).await?;
        info!(sequence = %base_name, session = %session_id, "recording started");
        Ok(Recording {
            clock: SplitClock::new(&cfg),
            client,
            cfg,
            session_id,
            base_name,
            host: host.to_string(),
            started_at,
            part: 1,
            writer,
            topics: HashMap::new(),
            finished: Vec::new(),
        })
    }

    /// Continues a recording broken by a fault: the next part of the same session.
    pub async fn resume(
        client: MosaicoClient,
        cfg: std::sync::Arc<RecordConfig>,
        host: &str,
        from: &Resume,
    ) -> Result<Self> {
        let writer = Self::open_part(
            &client,
            &cfg,
            &from.base_name,
            &from.session_id,
            host,
            from.started_at,
            from.part,
        )
        .await?;
        info!(sequence = %writer.name(), part = from.part, "recording continues after a fault");
        Ok(Recording {
            clock: SplitClock::new(&cfg),
            client,
            cfg,
            session_id: from.session_id.clone(),
            base_name: from.base_name.clone(),
            host: host.to_string(),
            started_at: from.started_at,
            part: from.part,
            writer,
            topics: HashMap::new(),
            finished: Vec::new(),
        })
    }

    /// Where a recording broken now would continue.
    pub fn resume_point(&self) -> Resume {
        Resume {
            base_name: self.base_name.clone(),
            session_id: self.session_id.clone(),
            started_at: self.started_at,
            part: self.part + 1,
        }
    }

    /// The writer of `ros_topic` in the current part, if it was created.
    pub fn cached_topic(&self, ros_topic: &str) -> Option<TopicWriter> {
        self.topics.get(ros_topic).cloned()
    }

    async fn open_part(
        client: &MosaicoClient,
        cfg: &RecordConfig,
        base: &str,
        session_id: &str,
        host: &str,
        at: DateTime<Utc>,
        part: u32,
    ) -> Result<SequenceWriter> {
        let naming = part_naming(client.generation(), base, part);
        let meta = recording_metadata(cfg, session_id, host, at, part);
        let opts = writer_options(cfg);
        if part > 1 && client.generation() == Generation::Current {
            match client
                .sequence_update(&naming.sequence, cfg.on_error, opts)
                .await
            {
                // The earlier parts were discarded (policy delete): the sequence starts anew.
                Err(Error::NotFound { .. }) => {
                    client
                        .sequence_create_with(&naming.sequence, meta, cfg.on_error, opts)
                        .await
                }
                other => other,
            }
        } else {
            client
                .sequence_create_with(&naming.sequence, meta, cfg.on_error, opts)
                .await
        }
    }

    pub fn part(&self) -> u32 {
        self.part
    }

    /// The sequence the current part writes to.
    pub fn sequence(&self) -> &str {
        self.writer.name()
    }

    /// The writer of `ros_topic` in the current part, created with `options()` on first use.
    pub async fn topic(
        &mut self,
        ros_topic: &str,
        options: impl FnOnce() -> TopicOptions,
    ) -> Result<TopicWriter> {
        if let Some(w) = self.topics.get(ros_topic) {
            return Ok(w.clone());
        }
        let naming = part_naming(self.client.generation(), &self.base_name, self.part);
        let name = format!("{}{}", ros_topic.trim_end_matches('/'), naming.topic_suffix);
        let mut opts = options();
        if let Value::Object(m) = &mut opts.user_metadata {
            m.insert(META_PART.into(), json!(self.part));
        }
        let w = self.writer.topic_create(&name, opts).await?;
        self.topics.insert(ros_topic.to_string(), w.clone());
        Ok(w)
    }

    /// Ends the current part (finalizing it) and opens the next one.
    pub async fn split(&mut self) -> Result<&PartSummary> {
        let summary = self.writer.finalize().await?;
        self.finished.push(PartSummary {
            part: self.part,
            sequence: self.writer.name().to_string(),
            summary,
        });
        self.part += 1;
        self.topics.clear();
        self.clock.reset();
        self.writer = Self::open_part(
            &self.client,
            &self.cfg,
            &self.base_name,
            &self.session_id,
            &self.host,
            self.started_at,
            self.part,
        )
        .await?;
        info!(sequence = %self.writer.name(), part = self.part, "recording continues in a new part");
        Ok(self.finished.last().expect("just pushed"))
    }

    /// Flushes and finalizes the current part; returns every part's summary.
    pub async fn finish(mut self) -> Result<Vec<PartSummary>> {
        let summary = self.writer.finalize().await?;
        self.finished.push(PartSummary {
            part: self.part,
            sequence: self.writer.name().to_string(),
            summary,
        });
        Ok(self.finished)
    }

    /// A fault: applies the error policy to the current part (earlier parts are already final) and
    /// returns the writer's state, what each topic of the current part finally committed (its
    /// `error` set when it did not), and the earlier parts.
    pub async fn fail(
        self,
        reason: &str,
    ) -> (
        crate::handlers::WriterState,
        SequenceSummary,
        Vec<PartSummary>,
    ) {
        let state = match self.writer.fail(reason).await {
            Ok(s) => s,
            Err(e) => {
                warn!(error = %e, "applying the error policy failed");
                self.writer.state().await
            }
        };
        let summary = self.writer.summary().await;
        (state, summary, self.finished)
    }

    /// The topic-name suffix of the current part (`""` or `__partN`).
    pub fn topic_suffix(&self) -> String {
        part_naming(self.client.generation(), &self.base_name, self.part).topic_suffix
    }

    /// The part number the *next* recording after a fault would continue with.
    pub fn next_part(&self) -> u32 {
        self.part + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_metadata_come_from_the_config() {
        let mut cfg = RecordConfig {
            robot_name: "r2".into(),
            ..Default::default()
        };
        cfg.sequence.metadata.insert("site".into(), json!("lab"));
        let at = DateTime::parse_from_rfc3339("2026-11-22T18:30:12Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            recording_name(&cfg, "h", at, 1).unwrap(),
            "r2_20261122_183012"
        );
        cfg.sequence.name = "fixed".into();
        assert_eq!(recording_name(&cfg, "h", at, 1).unwrap(), "fixed");
        let m = recording_metadata(&cfg, "S", "host1", at, 2);
        assert_eq!(m["site"], "lab");
        assert_eq!(m[META_PART], 2);
        assert_eq!(m[META_SESSION_ID], "S");
        assert_eq!(m[META_HOST], "host1");
    }
}
