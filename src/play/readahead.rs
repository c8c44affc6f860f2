//! Read-ahead: a task that reads the merged message stream from the server ahead of the player,
//! bounded by bytes, not by messages — a queue counted in messages lets point clouds blow the
//! memory up and starves small messages behind big ones (rosbag2 #1484, #1963).
//!
//! Each message queued holds permits of a semaphore sized to the budget (in KiB) until the player
//! drops it; a message bigger than the whole budget takes all of it, so it is read once the queue
//! is empty. A seek or a loop starts a new *generation*: the old task is aborted and whatever of it
//! is still queued is recognised by its generation and dropped.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use super::source::{Message, Messages, ReplayTopic};
use crate::handlers::TopicHandler;
use crate::protocol::TimeRange;

const UNIT: u64 = 1024;

/// A message read ahead; dropping it gives its bytes back to the budget.
pub struct Ahead {
    pub message: Message,
    _permit: OwnedSemaphorePermit,
}

/// What the read-ahead task sends, tagged with its generation.
pub enum Fed {
    Message(u64, Ahead),
    /// The stream of that generation ended.
    End(u64),
    /// It failed: the reason.
    Failed(u64, String),
}

/// Rows that could not be encoded, per topic index: (count, first reason), over all generations.
pub type Unencodable = Arc<Mutex<BTreeMap<usize, (u64, String)>>>;

pub struct ReadAhead {
    topics: Arc<Vec<(ReplayTopic, TopicHandler)>>,
    budget: Arc<Semaphore>,
    units: u32,
    tx: crossbeam_channel::Sender<Fed>,
    runtime: tokio::runtime::Handle,
    task: Option<JoinHandle<()>>,
    generation: u64,
    pub unencodable: Unencodable,
}

impl ReadAhead {
    /// A read-ahead of at most `budget_bytes` (at least 1 KiB) for `topics`; messages arrive on the
    /// returned receiver once [`ReadAhead::start`] is called.
    pub fn new(
        topics: Arc<Vec<(ReplayTopic, TopicHandler)>>,
        budget_bytes: u64,
        runtime: tokio::runtime::Handle,
    ) -> (Self, crossbeam_channel::Receiver<Fed>) {
        let units = (budget_bytes / UNIT).clamp(1, Semaphore::MAX_PERMITS as u64 >> 1) as u32;
        let (tx, rx) = crossbeam_channel::unbounded();
        (
            ReadAhead {
                topics,
                budget: Arc::new(Semaphore::new(units as usize)),
                units,
                tx,
                runtime,
                task: None,
                generation: 0,
                unencodable: Default::default(),
            },
            rx,
        )
    }

    /// The generation whose messages are current.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Reads `range` from its start, replacing whatever was being read; returns the new generation.
    pub fn start(&mut self, range: TimeRange) -> u64 {
        if let Some(t) = self.task.take() {
            t.abort();
        }
        self.generation += 1;
        let generation = self.generation;
        let (topics, budget, units, tx, unencodable) = (
            self.topics.clone(),
            self.budget.clone(),
            self.units,
            self.tx.clone(),
            self.unencodable.clone(),
        );
        self.task = Some(self.runtime.spawn(async move {
            let fed = read(topics, range, budget, units, &tx, generation, unencodable).await;
            let _ = tx.send(match fed {
                Ok(()) => Fed::End(generation),
                Err(e) => Fed::Failed(generation, e.to_string()),
            });
        }));
        generation
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

async fn read(
    topics: Arc<Vec<(ReplayTopic, TopicHandler)>>,
    range: TimeRange,
    budget: Arc<Semaphore>,
    units: u32,
    tx: &crossbeam_channel::Sender<Fed>,
    generation: u64,
    unencodable: Unencodable,
) -> crate::error::Result<()> {
    let mut msgs = Messages::open(&topics, range).await?;
    // What of this generation's counts is already in `unencodable`.
    let mut reported: BTreeMap<usize, u64> = BTreeMap::new();
    loop {
        let next = msgs.next().await;
        if msgs.unencodable.values().map(|v| v.0).sum::<u64>() != reported.values().sum::<u64>() {
            let mut all = unencodable.lock().expect("unencodable lock");
            for (i, (n, why)) in &msgs.unencodable {
                let seen = reported.entry(*i).or_default();
                all.entry(*i).or_insert((0, why.clone())).0 += n - *seen;
                *seen = *n;
            }
        }
        let Some(message) = next? else {
            return Ok(());
        };
        let need = (message.cdr.len() as u64)
            .div_ceil(UNIT)
            .clamp(1, units as u64) as u32;
        let permit = budget
            .clone()
            .acquire_many_owned(need)
            .await
            .expect("the budget semaphore is never closed");
        let ahead = Ahead {
            message,
            _permit: permit,
        };
        if tx.send(Fed::Message(generation, ahead)).is_err() {
            return Ok(()); // the player is gone
        }
    }
}
