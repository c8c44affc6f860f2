//! Bags → one Mosaico sequence, through the upload engine the recorder's spool uses
//! ([`crate::upload::engine`]): rosbag2 MCAP and sqlite3 files, rosbag2 bag directories (split
//! bags as one sequence) and ROS 1 bags ([`source`]). Memory stays bounded whatever the bag's
//! size, and a cut bag imports up to its last complete record. `timestamp_ns` is each message's
//! record (log) time. [`watch`]: each finished bag dropped into a folder, once.

pub mod source;
pub mod watch;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use tracing::{info, warn};

use crate::error::{Error, Result};
use crate::handlers::{MosaicoClient, OnError, SequenceSummary, SequenceWriter};
use crate::ros::adapters::AdapterOptions;
use crate::upload::engine::{self, Abort, Selection, Target};
use crate::upload::pipe::TopicReport;
pub use source::{plan, BagPlan, Format, ACCEPTED};

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
    /// What was noticed reading the bag (files taken in name order, definitions missing, a cut).
    pub notes: Vec<String>,
    pub summary: SequenceSummary,
}

/// What the bag holds, from its summary section (when present) or a first pass.
#[derive(Debug, Clone, Default)]
pub struct BagInfo {
    pub messages: Option<u64>,
    /// What was noticed opening the bag.
    pub notes: Vec<String>,
}

/// Opens the bag (file or directory) and checks every storage file, without reading messages.
pub fn bag_info(path: &Path) -> Result<BagInfo> {
    let mut plan = source::plan(path)?;
    plan.check()?;
    Ok(BagInfo {
        messages: plan.count_messages()?,
        notes: plan.notes,
    })
}

/// Imports the bag; `progress(messages_read)` is called as the reader goes.
pub async fn import(
    client: &MosaicoClient,
    opts: ImportOptions,
    progress: impl Fn(u64) + Send + Sync + 'static,
) -> Result<ImportReport> {
    let selection = Selection::patterns(&opts.topics, &opts.exclude, "--topics/--exclude")?;
    // Refuse a file that is not a bag before anything is created on the server.
    let mut plan = source::plan(&opts.bag)?;
    plan.check()?;
    for n in &plan.notes {
        info!(bag = %opts.bag.display(), "{n}");
    }
    let source = source::BagSource::new(&plan);
    let mut notes = plan.notes;
    let writer = Arc::new(
        client
            .sequence_create(&opts.sequence, opts.metadata.clone(), opts.on_error)
            .await?,
    );
    info!(bag = %opts.bag.display(), sequence = %opts.sequence, "import started");
    let adapters = opts.adapters;
    let target = Target {
        writer: writer.clone(),
        topic_suffix: String::new(),
        topic_metadata: Value::Object(Default::default()),
        latency: None,
        max_chunk_age_ns: None,
    };
    let report = match engine::upload(
        client,
        source,
        target,
        selection,
        Arc::new(move |_: &str| adapters),
        Abort::new(),
        progress,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return fail(&writer, e).await,
    };
    let mut topics = report.topics;
    if let Some(cut) = &report.cut {
        warn!(bag = %opts.bag.display(), "the bag is cut ({cut}): imported what precedes the cut");
        notes.push(format!(
            "the bag is cut ({cut}): imported what precedes the cut"
        ));
    }
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
    if topics.iter().all(|t| t.written == 0) {
        // Finalized, an empty sequence could never be deleted: discard it and say why.
        writer.abort().await?;
        return Err(Error::Invalid(nothing_imported(
            &opts,
            &topics,
            &report.filtered_out,
        )));
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
        filtered_out: report.filtered_out,
        notes,
        summary,
    })
}

fn nothing_imported(opts: &ImportOptions, topics: &[TopicReport], left_out: &[String]) -> String {
    let why = if topics.is_empty() && !left_out.is_empty() {
        format!(
            "no topic of the bag matches --topics/--exclude (the bag has {})",
            left_out.join(", ")
        )
    } else if topics.is_empty() {
        "the bag holds no messages".to_string()
    } else {
        let notes: Vec<String> = topics
            .iter()
            .map(|t| match &t.last_malformed {
                Some(m) => format!("{}: {m}", t.topic),
                None => format!("{}: no message stored", t.topic),
            })
            .collect();
        format!("no message could be stored ({})", notes.join("; "))
    };
    format!(
        "nothing to import from {}: {why}; no sequence `{}` was created",
        opts.bag.display(),
        opts.sequence
    )
}

async fn fail(writer: &SequenceWriter, e: Error) -> Result<ImportReport> {
    let _ = writer.fail(&format!("import failed: {e}")).await;
    Err(e)
}
