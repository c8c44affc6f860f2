//! Catalogue commands: `ls`, `info`, `rm`, `query`.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;
use futures::{StreamExt, TryStreamExt};
use mosaico_bridge::names;
use mosaico_bridge::protocol::{Notification, SequenceInfo, TopicInfo};
use mosaico_bridge::{Error, MosaicoClient, Op, Query, SequenceFilter, TopicFilter};
use serde::Serialize;
use serde_json::{json, Value};

use super::output::{human_bytes, opt, plural, print_json, print_table};
use super::ConnArgs;

/// How many catalogue calls run at once when a command needs one per sequence or topic.
const CATALOGUE_CONCURRENCY: usize = 8;

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct LsRow {
    name: String,
    locked: Option<bool>,
    topics: Option<usize>,
    /// What the server reports storing.
    total_size_bytes: Option<u64>,
    created: Option<String>,
    created_at_ns: Option<i64>,
    /// Why the sequence could not be read (the other fields are then unknown).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl LsRow {
    fn of(i: SequenceInfo) -> Self {
        LsRow {
            topics: Some(i.topics.len()),
            name: i.name,
            locked: i.locked,
            total_size_bytes: i.total_size_bytes,
            created: i.created,
            created_at_ns: i.created_at_ns,
            error: None,
        }
    }

    fn unreadable(name: String, e: &Error) -> Self {
        LsRow {
            name,
            locked: None,
            topics: None,
            total_size_bytes: None,
            created: None,
            created_at_ns: None,
            error: Some(e.to_string()),
        }
    }
}

/// Every sequence the server lists; one that cannot be read is listed as unreadable with the
/// reason (exit 1), not a reason to list nothing.
pub async fn ls(conn: &ConnArgs, args: LsArgs) -> Result<ExitCode> {
    let client = conn.connect().await?;
    let names = client.list_sequences().await.context("listing sequences")?;
    let mut rows: Vec<LsRow> = futures::stream::iter(names)
        .map(|n| {
            let c = client.clone();
            async move {
                match c.sequence_handler(&n).await {
                    Ok(h) => LsRow::of(h.info().clone()),
                    Err(e) => LsRow::unreadable(n, &e),
                }
            }
        })
        .buffered(CATALOGUE_CONCURRENCY)
        .collect()
        .await;
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    let unreadable: Vec<&LsRow> = rows.iter().filter(|r| r.error.is_some()).collect();
    if args.json {
        print_json(&rows)?;
    } else {
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.name.clone(),
                    match r.error {
                        Some(_) => "unreadable".into(),
                        None => locked_word(r.locked),
                    },
                    opt(r.topics),
                    opt(r.total_size_bytes.map(human_bytes)),
                    opt(r.created.clone()),
                ]
            })
            .collect();
        print_table(&["NAME", "STATE", "TOPICS", "STORED", "CREATED"], &table)?;
    }
    for r in &unreadable {
        eprintln!(
            "{}: could not be read: {}",
            r.name,
            r.error.as_deref().unwrap_or("")
        );
    }
    if unreadable.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "{} could not be read",
            plural(unreadable.len(), "sequence", "sequences")
        );
        Ok(ExitCode::FAILURE)
    }
}

fn locked_word(locked: Option<bool>) -> String {
    match locked {
        Some(true) => "finalized".into(),
        Some(false) => "unlocked".into(),
        None => "-".into(),
    }
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// `SEQUENCE` or `SEQUENCE/TOPIC` (e.g. `run_42/camera/image_raw`).
    pub target: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct SequenceReport {
    #[serde(flatten)]
    sequence: SequenceInfo,
    topic_details: Vec<TopicInfo>,
    notifications: Vec<Notification>,
}

#[derive(Serialize)]
struct TopicReport {
    #[serde(flatten)]
    topic: TopicInfo,
    notifications: Vec<Notification>,
}

pub async fn info(conn: &ConnArgs, args: InfoArgs) -> Result<ExitCode> {
    let (seq, topic) = names::split_locator(&args.target)?;
    let client = conn.connect().await?;
    match topic {
        Some(t) => topic_info(&client, &seq, &t, args.json).await,
        None => sequence_info(&client, &seq, args.json).await,
    }
}

async fn sequence_info(client: &MosaicoClient, seq: &str, as_json: bool) -> Result<ExitCode> {
    let h = client
        .sequence_handler(seq)
        .await
        .with_context(|| format!("reading sequence `{seq}`"))?;
    let topic_details: Vec<TopicInfo> = futures::stream::iter(h.topics().to_vec())
        .map(|t| {
            let h = &h;
            async move {
                h.topic(&t)
                    .await
                    .map(|th| th.info().clone())
                    .with_context(|| format!("reading topic `{seq}{t}`"))
            }
        })
        .buffered(CATALOGUE_CONCURRENCY)
        .try_collect()
        .await?;
    let notifications = h.notifications().await.context("listing notifications")?;
    let report = SequenceReport {
        sequence: h.info().clone(),
        topic_details,
        notifications,
    };
    if as_json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let s = &report.sequence;
    println!("sequence  {}", s.name);
    println!("state     {}", locked_word(s.locked));
    println!("stored    {}", opt(s.total_size_bytes.map(human_bytes)));
    println!("created   {}", opt(s.created.clone()));
    println!("metadata  {}", pretty_inline(&s.user_metadata));
    if !s.sessions.is_empty() {
        println!("\nsessions");
        let rows: Vec<Vec<String>> = s
            .sessions
            .iter()
            .map(|x| {
                vec![
                    x.locator.clone(),
                    locked_word(Some(x.locked)),
                    x.topics.len().to_string(),
                ]
            })
            .collect();
        print_table(&["LOCATOR", "STATE", "TOPICS"], &rows)?;
    }
    println!("\ntopics ({})", report.topic_details.len());
    let rows: Vec<Vec<String>> = report
        .topic_details
        .iter()
        .map(|t| {
            vec![
                t.topic.clone(),
                t.ontology_tag.clone(),
                t.serialization_format.as_str().to_string(),
                opt(t.row_count),
                opt(t.total_size_bytes.map(human_bytes)),
                locked_word(t.locked),
            ]
        })
        .collect();
    print_table(
        &["TOPIC", "TAG", "FORMAT", "ROWS", "STORED", "STATE"],
        &rows,
    )?;
    print_notifications(&report.notifications);
    Ok(ExitCode::SUCCESS)
}

async fn topic_info(
    client: &MosaicoClient,
    seq: &str,
    topic: &str,
    as_json: bool,
) -> Result<ExitCode> {
    let h = client
        .topic_handler(seq, topic)
        .await
        .with_context(|| format!("reading topic `{seq}{topic}`"))?;
    let notifications = h.notifications().await.context("listing notifications")?;
    let report = TopicReport {
        topic: h.info().clone(),
        notifications,
    };
    if as_json {
        print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let t = &report.topic;
    println!("topic     {}{}", t.sequence, t.topic);
    println!("locator   {}", t.locator);
    println!("tag       {}", t.ontology_tag);
    println!("format    {}", t.serialization_format.as_str());
    println!("state     {}", locked_word(t.locked));
    println!("rows      {}", opt(t.row_count));
    println!("chunks    {}", opt(t.chunks));
    println!("stored    {}", opt(t.total_size_bytes.map(human_bytes)));
    println!(
        "interval  {}",
        opt(t.interval.map(|(a, b)| format!("[{a}, {b}] ns")))
    );
    println!("created   {}", opt(t.created.clone()));
    println!("metadata  {}", pretty_inline(&t.user_metadata));
    print_notifications(&report.notifications);
    Ok(ExitCode::SUCCESS)
}

fn pretty_inline(v: &Value) -> String {
    match v {
        Value::Object(m) if m.is_empty() => "{}".into(),
        Value::Null => "-".into(),
        other => serde_json::to_string_pretty(other)
            .unwrap_or_default()
            .replace('\n', "\n          "),
    }
}

fn print_notifications(n: &[Notification]) {
    if n.is_empty() {
        return;
    }
    println!("\nnotifications ({})", n.len());
    for x in n {
        println!("  [{}] {} {}: {}", x.kind, x.created, x.name, x.msg);
    }
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// The sequence to delete. Finalized sequences are protected by the server and cannot be deleted.
    pub sequence: String,
}

pub async fn rm(conn: &ConnArgs, args: RmArgs) -> Result<ExitCode> {
    let name = names::sequence_name(&args.sequence)?.to_string();
    let client = conn.connect().await?;
    match client.sequence_delete(&name).await {
        Ok(()) => {
            eprintln!("deleted sequence `{name}`");
            Ok(ExitCode::SUCCESS)
        }
        Err(Error::Locked { .. }) => {
            bail!("sequence `{name}` is finalized (locked): the server refuses to delete finalized data, so nothing was deleted")
        }
        Err(e @ Error::NotFound { .. }) => Err(anyhow::Error::new(e)),
        Err(e) => Err(anyhow::Error::new(e).context(format!("deleting sequence `{name}`"))),
    }
}

/// Filters take a value or an operator form: `x` (equals), `!=x`, `>5`, `>=5`, `<5`, `<=5`,
/// `~pattern` (match), `a..b` (between), `a|b|c` (any of). A `~pattern` means the same on both
/// server generations: `*` any run, `?` one character, against the whole value; without either,
/// a substring (`~camera` = `~*camera*`). Tags, topic names and field paths are checked against
/// the server's ontology before the query is sent.
#[derive(Args, Debug)]
pub struct QueryArgs {
    /// Sequence name filter.
    #[arg(long, value_name = "OP")]
    pub seq_name: Option<String>,
    /// Sequence metadata filter, repeatable: `--seq-meta robot=r2 --seq-meta 'speed=>3'`.
    #[arg(long, value_name = "KEY=OP")]
    pub seq_meta: Vec<String>,
    /// Sequence creation time filter in ns since the epoch, e.g. `>=1700000000000000000`.
    #[arg(long, value_name = "OP")]
    pub seq_created: Option<String>,
    /// Topic name filter (relative to its sequence, e.g. `/imu` or `~camera`).
    #[arg(long, value_name = "OP")]
    pub topic: Option<String>,
    /// Topic ontology tag filter (`IMU` on current servers, `imu` on legacy ones; either
    /// spelling is translated), e.g. `--tag IMU` or `--tag '~Image'`.
    #[arg(long, value_name = "OP")]
    pub tag: Option<String>,
    /// Topic metadata filter, repeatable.
    #[arg(long, value_name = "KEY=OP")]
    pub topic_meta: Vec<String>,
    /// Data filter on an ontology field, repeatable: `--field 'IMU.acceleration.x=>5'`.
    #[arg(long, value_name = "TAG.FIELD=OP")]
    pub field: Vec<String>,
    /// A raw query body in the server's dialect, sent as given once its keys are checked;
    /// excludes the filter flags.
    #[arg(long, value_name = "JSON", conflicts_with_all = ["seq_name", "seq_meta", "seq_created", "topic", "tag", "topic_meta", "field"])]
    pub raw: Option<String>,
    /// Print the answer as JSON.
    #[arg(long)]
    pub json: bool,
    /// Print the request body that would be sent to this server, and exit.
    #[arg(long)]
    pub dry_run: bool,
}

fn key_op(flag: &str, s: &str) -> Result<(String, Op)> {
    let (k, v) = s
        .split_once('=')
        .with_context(|| format!("{flag} expects KEY=OP, got `{s}`"))?;
    if k.is_empty() {
        bail!("{flag} expects KEY=OP, got an empty key in `{s}`");
    }
    Ok((k.to_string(), Op::parse_cli(v)))
}

impl QueryArgs {
    pub fn build(&self) -> Result<Query> {
        if let Some(raw) = &self.raw {
            let v: Value = serde_json::from_str(raw).context("--raw is not valid JSON")?;
            return Ok(Query::raw(v));
        }
        let mut q = Query::new();
        let seq = SequenceFilter {
            name: self.seq_name.as_deref().map(Op::parse_cli),
            created_ns: self.seq_created.as_deref().map(Op::parse_cli),
            user_metadata: self
                .seq_meta
                .iter()
                .map(|s| key_op("--seq-meta", s))
                .collect::<Result<_>>()?,
        };
        if seq != SequenceFilter::default() {
            q = q.sequence(seq);
        }
        let topic = TopicFilter {
            name: self.topic.as_deref().map(Op::parse_cli),
            ontology_tag: self.tag.as_deref().map(Op::parse_cli),
            user_metadata: self
                .topic_meta
                .iter()
                .map(|s| key_op("--topic-meta", s))
                .collect::<Result<_>>()?,
            ..Default::default()
        };
        if topic != TopicFilter::default() {
            q = q.topic(topic);
        }
        for f in &self.field {
            let (k, op) = key_op("--field", f)?;
            q = q.ontology(k, op);
        }
        if q == Query::new() {
            bail!("give at least one filter (--seq-meta, --tag, --topic, --field, ...) or a raw --raw query");
        }
        Ok(q)
    }
}

pub async fn query(conn: &ConnArgs, args: QueryArgs) -> Result<ExitCode> {
    let q = args.build()?;
    let client = conn.connect().await?;
    let g = client.generation();
    let resolved = q.resolve(g).map_err(anyhow::Error::new)?;
    for n in &resolved.notes {
        eprintln!("note: {n}");
    }
    if args.dry_run {
        print_json(&resolved.query.to_json(g)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let items = client
        .query(&resolved.query)
        .await
        .with_context(|| format!("query refused by {}", conn.server_label()))?;
    if args.json {
        print_json(&json!(items))?;
    } else {
        for it in &items {
            println!("{}", it.sequence);
            for t in &it.topics {
                match &t.ontology_tag {
                    Some(tag) => println!("  {}  ({tag})", t.locator),
                    None => println!("  {}", t.locator),
                }
            }
        }
        eprintln!("{}", plural(items.len(), "sequence", "sequences"));
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(f: impl FnOnce(&mut QueryArgs)) -> QueryArgs {
        let mut a = QueryArgs {
            seq_name: None,
            seq_meta: vec![],
            seq_created: None,
            topic: None,
            tag: None,
            topic_meta: vec![],
            field: vec![],
            raw: None,
            json: false,
            dry_run: false,
        };
        f(&mut a);
        a
    }

    #[test]
    fn flags_build_the_query() {
        let q = args(|a| {
            a.seq_meta = vec!["robot=r2".into(), "speed=>=3".into()];
            a.tag = Some("imu".into());
            a.field = vec!["imu.acceleration.x=>5".into()];
        })
        .build()
        .unwrap();
        let s = q.sequence.as_ref().unwrap();
        assert_eq!(
            s.user_metadata,
            vec![
                ("robot".into(), Op::Eq(json!("r2"))),
                ("speed".into(), Op::Geq(json!(3)))
            ]
        );
        assert_eq!(
            q.topic.as_ref().unwrap().ontology_tag,
            Some(Op::Eq(json!("imu")))
        );
        assert_eq!(
            q.ontology,
            vec![("imu.acceleration.x".into(), Op::Gt(json!(5)))]
        );
    }

    #[test]
    fn empty_and_malformed_filters_are_refused() {
        assert!(args(|_| {})
            .build()
            .unwrap_err()
            .to_string()
            .contains("at least one filter"));
        assert!(args(|a| a.seq_meta = vec!["noequals".into()])
            .build()
            .unwrap_err()
            .to_string()
            .contains("KEY=OP"));
        assert!(args(|a| a.raw = Some("{".into()))
            .build()
            .unwrap_err()
            .to_string()
            .contains("not valid JSON"));
    }
}
