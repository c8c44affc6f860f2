//! rosbag2 MCAP bags → one Mosaico sequence, through the same adapters and topic pipeline as the
//! live recorder. The bag is memory-mapped and read on a blocking thread; each topic converts and
//! uploads on its own task, with bounded channels in between, so memory stays bounded whatever the
//! bag's size. `timestamp_ns` is each message's record (log) time.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use regex::Regex;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::error::{Error, Result};
use crate::handlers::{MosaicoClient, OnError, SequenceSummary, SequenceWriter};
use crate::ros::adapters::{adapter_or_raw, AdapterOptions, RosTopicInfo};
use crate::upload::pipe::{run_topic, Chunk, SequenceSink, TopicReport, TopicStats};

/// A chunk is sent to its topic's task at this many bytes or messages, whichever comes first.
pub const CHUNK_BYTES: usize = 8 << 20;
pub const CHUNK_MESSAGES: usize = 20_000;
/// Chunks waiting per topic: the reader pauses beyond that (backpressure).
pub const CHUNKS_IN_FLIGHT: usize = 2;

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub bag: PathBuf,
    pub sequence: String,
    /// Regexes on whole topic names; empty: every topic.
    pub topics: Vec<String>,
    pub exclude: Vec<String>,
    pub metadata: Value,
    pub on_error: OnError,
    pub adapters: AdapterOptions,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub sequence: String,
    pub topics: Vec<TopicReport>,
    /// Topics of the bag left out by `--topics` / `--exclude`.
    pub filtered_out: Vec<String>,
    pub summary: SequenceSummary,
}

/// What the bag holds, from its summary section (when present) or a first pass.
#[derive(Debug, Clone, Default)]
pub struct BagInfo {
    pub messages: Option<u64>,
}

fn anchored(list: &[String], what: &str) -> Result<Vec<Regex>> {
    list.iter()
        .map(|p| {
            Regex::new(&format!("^(?:{p})$"))
                .map_err(|e| Error::Config(format!("{what} pattern `{p}`: {e}")))
        })
        .collect()
}

fn map_bag(path: &Path) -> Result<memmap2::Mmap> {
    let f = std::fs::File::open(path)
        .map_err(|e| Error::Config(format!("cannot open bag {}: {e}", path.display())))?;
    // SAFETY: the map is read-only and the bag is not expected to change while it is imported.
    unsafe { memmap2::Mmap::map(&f) }
        .map_err(|e| Error::Config(format!("cannot map bag {}: {e}", path.display())))
}

fn bad_bag(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Config(format!(
        "{} is not a readable MCAP bag: {e}",
        path.display()
    ))
}

pub fn bag_info(path: &Path) -> Result<BagInfo> {
    let map = map_bag(path)?;
    let summary = mcap::read::Summary::read(&map).map_err(|e| bad_bag(path, e))?;
    Ok(BagInfo {
        messages: summary.and_then(|s| s.stats).map(|s| s.message_count),
    })
}

struct TopicTask {
    tx: mpsc::Sender<Chunk>,
    pending: Chunk,
    stats: Arc<TopicStats>,
}

/// Imports the bag; `progress(messages_read)` is called as the reader goes.
pub async fn import(
    client: &MosaicoClient,
    opts: ImportOptions,
    progress: impl Fn(u64) + Send + Sync + 'static,
) -> Result<ImportReport> {
    let include = anchored(&opts.topics, "--topics")?;
    let exclude = anchored(&opts.exclude, "--exclude")?;
    let map = Arc::new(map_bag(&opts.bag)?);
    mcap::MessageStream::new(&map).map_err(|e| bad_bag(&opts.bag, e))?;
    let writer = Arc::new(
        client
            .sequence_create(&opts.sequence, opts.metadata.clone(), opts.on_error)
            .await?,
    );
    info!(bag = %opts.bag.display(), sequence = %opts.sequence, "import started");

    // The reader runs on a blocking thread and hands each topic's chunks to that topic's task.
    let (spawn_tx, mut spawn_rx) =
        mpsc::unbounded_channel::<(String, RosTopicInfo, mpsc::Receiver<Chunk>, Arc<TopicStats>)>();
    let reader = {
        let map = map.clone();
        let path = opts.bag.clone();
        tokio::task::spawn_blocking(move || -> Result<Vec<String>> {
            let mut tasks: HashMap<u16, Option<TopicTask>> = HashMap::new();
            let mut filtered = Vec::new();
            let mut read = 0u64;
            let keep = |t: &str| {
                (include.is_empty() || include.iter().any(|r| r.is_match(t)))
                    && !exclude.iter().any(|r| r.is_match(t))
            };
            for m in mcap::MessageStream::new(&map).map_err(|e| bad_bag(&path, e))? {
                let m = m.map_err(|e| bad_bag(&path, e))?;
                read += 1;
                if read.is_multiple_of(4096) {
                    progress(read);
                }
                let task = tasks.entry(m.channel.id).or_insert_with(|| {
                    let topic = m.channel.topic.clone();
                    if !keep(&topic) {
                        filtered.push(topic);
                        return None;
                    }
                    let schema = m.channel.schema.as_ref();
                    let ros_type = schema.map(|s| s.name.clone()).unwrap_or_default();
                    let info = RosTopicInfo {
                        ros_type,
                        definition: schema
                            .filter(|s| s.encoding == "ros2msg")
                            .map(|s| String::from_utf8_lossy(&s.data).into_owned()),
                        qos: m
                            .channel
                            .metadata
                            .get("offered_qos_profiles")
                            .map(|q| Value::String(q.clone())),
                    };
                    let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
                    let stats = Arc::new(TopicStats::default());
                    spawn_tx.send((topic, info, rx, stats.clone())).ok()?;
                    Some(TopicTask {
                        tx,
                        pending: Chunk::default(),
                        stats,
                    })
                });
                let Some(t) = task else { continue };
                t.stats.received(m.data.len());
                t.pending
                    .push(m.log_time as i64, Bytes::copy_from_slice(&m.data));
                if t.pending.bytes >= CHUNK_BYTES || t.pending.len() >= CHUNK_MESSAGES {
                    let chunk = std::mem::take(&mut t.pending);
                    if t.tx.blocking_send(chunk).is_err() {
                        return Err(Error::Closed("topic task".into()));
                    }
                }
            }
            for t in tasks.into_values().flatten() {
                if !t.pending.is_empty() {
                    let _ = t.tx.blocking_send(t.pending);
                }
            }
            progress(read);
            filtered.sort();
            filtered.dedup();
            Ok(filtered)
        })
    };

    let mut handles = Vec::new();
    let mut reader = Some(reader);
    let mut filtered_out = Vec::new();
    // Start topic tasks as the reader discovers topics, until it is done.
    loop {
        tokio::select! {
            next = spawn_rx.recv() => match next {
                Some((topic, info, rx, stats)) => {
                    let adapter = adapter_or_raw(&info.ros_type, client.generation(), &opts.adapters);
                    if adapter.is_raw() {
                        warn!(%topic, ros_type = %info.ros_type, "no typed mapping: stored as raw CDR");
                    }
                    let sink = SequenceSink::new(writer.clone(), &topic, Value::Object(Default::default()));
                    handles.push(tokio::spawn(run_topic(client.clone(), topic, info, adapter, sink, rx, stats)));
                }
                None => break,
            },
            done = async { reader.as_mut().expect("reader").await }, if reader.is_some() => {
                reader = None;
                match done {
                    Ok(Ok(f)) => filtered_out = f,
                    Ok(Err(e)) => return fail(&writer, e).await,
                    Err(e) => return fail(&writer, Error::Closed(format!("bag reader: {e}"))).await,
                }
            }
        }
    }
    if let Some(r) = reader {
        match r.await {
            Ok(Ok(f)) => filtered_out = f,
            Ok(Err(e)) => return fail(&writer, e).await,
            Err(e) => return fail(&writer, Error::Closed(format!("bag reader: {e}"))).await,
        }
    }
    let mut topics = Vec::new();
    for h in handles {
        topics.push(
            h.await
                .map_err(|e| Error::Closed(format!("topic task: {e}")))?,
        );
    }
    topics.sort_by(|a, b| a.topic.cmp(&b.topic));
    let failed: Vec<String> = topics
        .iter()
        .filter_map(|t| t.error.as_ref().map(|e| format!("{}: {e}", t.topic)))
        .collect();
    if !failed.is_empty() {
        let msg = format!(
            "import of {} failed: {}",
            opts.bag.display(),
            failed.join("; ")
        );
        writer.fail(&msg).await?;
        return Err(Error::Upload {
            topic: "(several)".into(),
            message: msg,
        });
    }
    let summary = writer.finalize().await?;
    // The writer's own counts are the authority for rows refused as too large.
    let too_large: BTreeMap<String, u64> = summary
        .topics
        .iter()
        .map(|t| (t.topic.clone(), t.dropped_too_large))
        .collect();
    for t in &mut topics {
        if let Some(n) = too_large.get(&crate::names::display_topic(&t.topic)) {
            t.too_large = *n;
        }
    }
    Ok(ImportReport {
        sequence: opts.sequence,
        topics,
        filtered_out,
        summary,
    })
}

async fn fail(writer: &SequenceWriter, e: Error) -> Result<ImportReport> {
    let _ = writer.fail(&format!("import failed: {e}")).await;
    Err(e)
}
