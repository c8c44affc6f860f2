//! Reading: sequence and topic handlers, topic streams and a sequence stream merged by time.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use arrow::array::{Array, Int64Array, RecordBatch};
use futures::StreamExt;

use super::client::ClientInner;
use crate::data::get::{TopicStream, TIMESTAMP_COLUMN};
use crate::error::{Error, Result};
use crate::names;
use crate::protocol::{Notification, SequenceInfo, Target, TimeRange, TopicInfo};

pub struct SequenceHandler {
    client: Arc<ClientInner>,
    info: SequenceInfo,
}

impl SequenceHandler {
    pub(crate) fn new(client: Arc<ClientInner>, info: SequenceInfo) -> Self {
        SequenceHandler { client, info }
    }

    pub fn info(&self) -> &SequenceInfo {
        &self.info
    }

    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// Topic names with a leading `/`.
    pub fn topics(&self) -> &[String] {
        &self.info.topics
    }

    pub async fn topic(&self, topic: &str) -> Result<TopicHandler> {
        let locator = names::topic_locator(&self.info.name, topic)?;
        let info = self
            .client
            .protocol
            .topic_info(&self.client.control, &locator)
            .await?;
        Ok(TopicHandler::new(self.client.clone(), info))
    }

    pub async fn notifications(&self) -> Result<Vec<Notification>> {
        self.client
            .protocol
            .list_notifications(&self.client.control, Target::Sequence, &self.info.name)
            .await
    }

    /// Every topic (or the given ones) merged into one stream ordered by `timestamp_ns`.
    pub async fn stream(
        &self,
        topics: Option<&[String]>,
        range: TimeRange,
    ) -> Result<SequenceStream> {
        let wanted: Vec<String> = match topics {
            Some(t) => t.iter().map(|x| names::display_topic(x)).collect(),
            None => self.info.topics.clone(),
        };
        let mut streams = Vec::new();
        for t in wanted {
            let locator = names::topic_locator(&self.info.name, &t)?;
            streams.push((t, open_topic(&self.client, &locator, range).await?));
        }
        Ok(SequenceStream::new(streams))
    }
}

pub(crate) async fn open_topic(
    client: &Arc<ClientInner>,
    locator: &str,
    range: TimeRange,
) -> Result<TopicStream> {
    let plan = client
        .protocol
        .read_plan(&client.control, locator, range)
        .await?;
    if plan.empty {
        return Ok(TopicStream::empty(locator));
    }
    TopicStream::open(
        client.data.next_client(),
        locator,
        plan.tickets,
        plan.client_window,
    )
    .await
}

#[derive(Clone)]
pub struct TopicHandler {
    client: Arc<ClientInner>,
    info: TopicInfo,
}

impl TopicHandler {
    pub(crate) fn new(client: Arc<ClientInner>, info: TopicInfo) -> Self {
        TopicHandler { client, info }
    }

    pub fn info(&self) -> &TopicInfo {
        &self.info
    }

    /// The topic's batches in time order, optionally limited to `range` (server-side on current
    /// servers, client-side on legacy ones).
    pub async fn stream(&self, range: TimeRange) -> Result<TopicStream> {
        open_topic(&self.client, &self.info.locator, range).await
    }

    pub async fn notifications(&self) -> Result<Vec<Notification>> {
        self.client
            .protocol
            .list_notifications(&self.client.control, Target::Topic, &self.info.locator)
            .await
    }
}

/// One row of a merged sequence: the topic it came from and its position in a batch.
#[derive(Debug, Clone)]
pub struct MergedRow {
    pub topic: Arc<str>,
    pub timestamp_ns: i64,
    pub batch: RecordBatch,
    pub row: usize,
}

struct Cursor {
    topic: Arc<str>,
    stream: TopicStream,
    batch: Option<(RecordBatch, Int64Array)>,
    row: usize,
}

impl Cursor {
    async fn advance(&mut self) -> Result<Option<i64>> {
        loop {
            if let Some((_, ts)) = &self.batch {
                if self.row < ts.len() {
                    return Ok(Some(ts.value(self.row)));
                }
            }
            match self.stream.next().await {
                None => {
                    self.batch = None;
                    return Ok(None);
                }
                Some(b) => {
                    let b = b?;
                    let ts = b
                        .column_by_name(TIMESTAMP_COLUMN)
                        .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
                        .cloned()
                        .ok_or_else(|| {
                            Error::protocol(
                                "do_get",
                                format!("topic {} has no int64 timestamp_ns", self.topic),
                            )
                        })?;
                    self.batch = Some((b, ts));
                    self.row = 0;
                }
            }
        }
    }
}

/// A k-way merge of topic streams on `timestamp_ns`; ties go to the topic listed first.
pub struct SequenceStream {
    cursors: Vec<Cursor>,
    heap: BinaryHeap<Reverse<(i64, usize)>>,
    primed: bool,
}

impl SequenceStream {
    pub fn new(streams: Vec<(String, TopicStream)>) -> Self {
        let cursors = streams
            .into_iter()
            .map(|(t, s)| Cursor {
                topic: Arc::from(t.as_str()),
                stream: s,
                batch: None,
                row: 0,
            })
            .collect();
        SequenceStream {
            cursors,
            heap: BinaryHeap::new(),
            primed: false,
        }
    }

    /// The next row in time order, or `None` at the end of every topic.
    pub async fn next(&mut self) -> Option<Result<MergedRow>> {
        if !self.primed {
            self.primed = true;
            for i in 0..self.cursors.len() {
                match self.cursors[i].advance().await {
                    Ok(Some(t)) => self.heap.push(Reverse((t, i))),
                    Ok(None) => {}
                    Err(e) => return Some(Err(e)),
                }
            }
        }
        let Reverse((t, i)) = self.heap.pop()?;
        let c = &mut self.cursors[i];
        let (batch, _) = c.batch.as_ref().expect("primed cursor has a batch");
        let row = MergedRow {
            topic: c.topic.clone(),
            timestamp_ns: t,
            batch: batch.clone(),
            row: c.row,
        };
        c.row += 1;
        match c.advance().await {
            Ok(Some(t)) => self.heap.push(Reverse((t, i))),
            Ok(None) => {}
            Err(e) => return Some(Err(e)),
        }
        Some(Ok(row))
    }

    /// Timestamp of the row `next` would return.
    pub fn peek_timestamp(&self) -> Option<i64> {
        self.heap.peek().map(|Reverse((t, _))| *t)
    }
}
