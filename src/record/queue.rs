//! The byte-budgeted queue between a topic's ROS callback and the workers.
//!
//! Each topic has its own budget and all topics share a total one, so one flooding camera cannot
//! starve the IMU. When a push does not fit, the configured policy applies; every drop is counted.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use tokio::sync::Notify;

use crate::config::DropPolicy;

/// The budget shared by every topic's queue.
#[derive(Debug)]
pub struct SharedBudget {
    limit: u64,
    used: AtomicU64,
}

impl SharedBudget {
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(SharedBudget {
            limit,
            used: AtomicU64::new(0),
        })
    }

    fn try_take(&self, n: u64) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                (u + n <= self.limit).then_some(u + n)
            })
            .is_ok()
    }

    fn give(&self, n: u64) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Acquire)
    }
}

/// Why messages were dropped; all counters only grow.
#[derive(Debug, Default)]
pub struct DropCounters {
    /// Discarded to make room (policy drop_oldest).
    pub oldest: AtomicU64,
    /// Refused on arrival (policy drop_newest, or a message larger than the whole budget).
    pub newest: AtomicU64,
    /// Still queued when the queue was closed without draining.
    pub discarded: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    Queued,
    /// Queued after dropping this many older messages.
    QueuedDropping(u64),
    /// Not queued: the arriving message was dropped.
    Dropped,
    /// The queue is closed (the session ended): not queued.
    Closed,
}

struct Inner<T> {
    items: VecDeque<(T, u64)>,
    bytes: u64,
    closed: bool,
}

/// A multi-producer, single-consumer queue bounded in bytes.
pub struct ByteQueue<T> {
    inner: Mutex<Inner<T>>,
    limit: u64,
    policy: DropPolicy,
    budget: Arc<SharedBudget>,
    readable: Notify,
    writable: Notify,
    /// `writable` for blocking pushers.
    space: Condvar,
    pub drops: DropCounters,
}

impl<T> ByteQueue<T> {
    pub fn new(limit: u64, policy: DropPolicy, budget: Arc<SharedBudget>) -> Self {
        ByteQueue {
            inner: Mutex::new(Inner {
                items: VecDeque::new(),
                bytes: 0,
                closed: false,
            }),
            limit,
            policy,
            budget,
            readable: Notify::new(),
            writable: Notify::new(),
            space: Condvar::new(),
            drops: DropCounters::default(),
        }
    }

    /// Tries to make room for `size` bytes; returns whether it fits now.
    fn fits(&self, inner: &Inner<T>, size: u64) -> bool {
        inner.bytes + size <= self.limit && self.budget.try_take(size)
    }

    /// One attempt under the lock: `None` means "full, and the policy is to wait" (item kept).
    fn push_locked(&self, g: &mut Inner<T>, item: &mut Option<T>, size: u64) -> Option<Pushed> {
        if g.closed {
            return Some(Pushed::Closed);
        }
        if self.fits(g, size) {
            g.items.push_back((item.take().expect("item"), size));
            g.bytes += size;
            return Some(Pushed::Queued);
        }
        match self.policy {
            DropPolicy::DropNewest => {
                self.drops.newest.fetch_add(1, Ordering::Relaxed);
                Some(Pushed::Dropped)
            }
            DropPolicy::DropOldest => {
                let mut dropped = 0;
                while let Some((_, s)) = g.items.pop_front() {
                    g.bytes -= s;
                    self.budget.give(s);
                    dropped += 1;
                    if self.fits(g, size) {
                        g.items.push_back((item.take().expect("item"), size));
                        g.bytes += size;
                        break;
                    }
                }
                self.drops.oldest.fetch_add(dropped, Ordering::Relaxed);
                if item.is_none() {
                    return Some(Pushed::QueuedDropping(dropped));
                }
                // Our own queue is empty and still no room: other topics hold the shared
                // budget. Dropping their data is not ours to do; drop the newcomer.
                self.drops.newest.fetch_add(1, Ordering::Relaxed);
                Some(Pushed::Dropped)
            }
            DropPolicy::Block => None,
        }
    }

    fn pushed(&self, p: Pushed) -> Pushed {
        if matches!(p, Pushed::Queued | Pushed::QueuedDropping(_)) {
            self.readable.notify_one();
        }
        p
    }

    /// Queues `item`, applying the drop policy when it does not fit. With `Block` it waits.
    pub async fn push(&self, item: T, size: u64) -> Pushed {
        if size > self.limit {
            // Could never fit, whatever the policy: refuse now rather than wait forever.
            self.drops.newest.fetch_add(1, Ordering::Relaxed);
            return Pushed::Dropped;
        }
        let mut item = Some(item);
        loop {
            let writable = self.writable.notified();
            let r = {
                let mut g = self.inner.lock().expect("queue lock");
                self.push_locked(&mut g, &mut item, size)
            };
            if let Some(p) = r {
                return self.pushed(p);
            }
            writable.await;
        }
    }

    /// [`push`](Self::push) for a plain thread (a middleware's delivery thread, whatever executor
    /// it runs): with `Block` it blocks the thread until there is room.
    pub fn push_blocking(&self, item: T, size: u64) -> Pushed {
        if size > self.limit {
            self.drops.newest.fetch_add(1, Ordering::Relaxed);
            return Pushed::Dropped;
        }
        let mut item = Some(item);
        let mut g = self.inner.lock().expect("queue lock");
        loop {
            if let Some(p) = self.push_locked(&mut g, &mut item, size) {
                drop(g);
                return self.pushed(p);
            }
            // Bounded waits: the shared budget can free up without this queue being touched.
            g = self
                .space
                .wait_timeout(g, std::time::Duration::from_millis(20))
                .expect("queue lock")
                .0;
        }
    }

    /// Takes queued items up to `max_bytes` (at least one), waiting while the queue is empty.
    /// `None` once the queue is closed and drained.
    pub async fn pop_batch(&self, max_bytes: u64) -> Option<Vec<T>> {
        loop {
            let readable = self.readable.notified();
            {
                let mut g = self.inner.lock().expect("queue lock");
                if !g.items.is_empty() {
                    let mut out = Vec::new();
                    let mut taken = 0;
                    while let Some((_, s)) = g.items.front() {
                        if !out.is_empty() && taken + *s > max_bytes {
                            break;
                        }
                        let (it, s) = g.items.pop_front().expect("front");
                        taken += s;
                        out.push(it);
                    }
                    g.bytes -= taken;
                    self.budget.give(taken);
                    drop(g);
                    self.writable.notify_waiters();
                    self.space.notify_all();
                    return Some(out);
                }
                if g.closed {
                    return None;
                }
            }
            readable.await;
        }
    }

    /// No more pushes; the consumer drains what is queued, then gets `None`.
    pub fn close(&self) {
        self.inner.lock().expect("queue lock").closed = true;
        self.readable.notify_waiters();
        self.readable.notify_one();
        self.writable.notify_waiters();
        self.space.notify_all();
    }

    /// Closes and empties the queue, counting what it held; returns that count.
    pub fn discard(&self) -> u64 {
        let mut g = self.inner.lock().expect("queue lock");
        g.closed = true;
        let n = g.items.len() as u64;
        self.budget.give(g.bytes);
        g.items.clear();
        g.bytes = 0;
        drop(g);
        self.drops.discarded.fetch_add(n, Ordering::Relaxed);
        self.readable.notify_waiters();
        self.readable.notify_one();
        self.writable.notify_waiters();
        self.space.notify_all();
        n
    }

    pub fn len(&self) -> usize {
        self.inner.lock().expect("queue lock").items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn bytes(&self) -> u64 {
        self.inner.lock().expect("queue lock").bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn q(limit: u64, total: u64, p: DropPolicy) -> ByteQueue<u32> {
        ByteQueue::new(limit, p, SharedBudget::new(total))
    }

    #[tokio::test]
    async fn a_blocking_push_from_a_plain_thread_waits_for_room() {
        let queue = Arc::new(q(10, 100, DropPolicy::Block));
        assert_eq!(queue.push_blocking(1, 8), Pushed::Queued);
        let producer = std::thread::spawn({
            let queue = queue.clone();
            move || queue.push_blocking(2, 8)
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !producer.is_finished(),
            "no room: the producer thread waits"
        );
        assert_eq!(queue.pop_batch(100).await, Some(vec![1]));
        assert_eq!(producer.join().unwrap(), Pushed::Queued);
        assert_eq!(queue.pop_batch(100).await, Some(vec![2]));
        let dropping = q(10, 100, DropPolicy::DropOldest);
        dropping.push_blocking(1, 8);
        assert_eq!(dropping.push_blocking(2, 8), Pushed::QueuedDropping(1));
    }

    #[tokio::test]
    async fn drop_oldest_makes_room_and_counts() {
        let q = q(12, 100, DropPolicy::DropOldest);
        for i in 0..3 {
            assert_eq!(q.push(i, 4).await, Pushed::Queued);
        }
        assert_eq!(q.push(3, 4).await, Pushed::QueuedDropping(1));
        assert_eq!(q.drops.oldest.load(Ordering::Relaxed), 1);
        assert_eq!(q.pop_batch(100).await.unwrap(), vec![1, 2, 3]);
    }

    #[tokio::test]
    async fn drop_newest_refuses_arrivals() {
        let q = q(8, 100, DropPolicy::DropNewest);
        q.push(0, 4).await;
        q.push(1, 4).await;
        assert_eq!(q.push(2, 4).await, Pushed::Dropped);
        assert_eq!(q.drops.newest.load(Ordering::Relaxed), 1);
        assert_eq!(
            q.pop_batch(4).await.unwrap(),
            vec![0],
            "max_bytes bounds a batch"
        );
    }

    #[tokio::test]
    async fn block_waits_for_the_consumer() {
        let q = Arc::new(q(8, 100, DropPolicy::Block));
        q.push(0, 8).await;
        let q2 = q.clone();
        let pusher = tokio::spawn(async move { q2.push(1, 8).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!pusher.is_finished(), "a full queue blocks the producer");
        assert_eq!(q.pop_batch(100).await.unwrap(), vec![0]);
        assert_eq!(pusher.await.unwrap(), Pushed::Queued);
        assert_eq!(
            q.drops.newest.load(Ordering::Relaxed) + q.drops.oldest.load(Ordering::Relaxed),
            0
        );
    }

    #[tokio::test]
    async fn the_shared_budget_bounds_all_topics() {
        let budget = SharedBudget::new(10);
        let a = ByteQueue::new(10, DropPolicy::DropOldest, budget.clone());
        let b = ByteQueue::new(10, DropPolicy::DropOldest, budget.clone());
        a.push(1u8, 8).await;
        assert_eq!(
            b.push(2u8, 4).await,
            Pushed::Dropped,
            "b may not evict a's data"
        );
        assert_eq!(budget.used(), 8);
        a.pop_batch(100).await.unwrap();
        assert_eq!(budget.used(), 0);
        assert_eq!(b.push(3u8, 4).await, Pushed::Queued);
    }

    #[tokio::test]
    async fn close_drains_then_ends_and_discard_counts() {
        let q = q(100, 100, DropPolicy::Block);
        q.push(1, 1).await;
        q.close();
        assert_eq!(q.push(2, 1).await, Pushed::Closed);
        assert_eq!(q.pop_batch(100).await.unwrap(), vec![1]);
        assert!(q.pop_batch(100).await.is_none());
        let q2 = self::q(100, 100, DropPolicy::Block);
        q2.push(1, 1).await;
        q2.push(2, 1).await;
        assert_eq!(q2.discard(), 2);
        assert_eq!(q2.drops.discarded.load(Ordering::Relaxed), 2);
        assert!(q2.pop_batch(100).await.is_none());
    }

    #[tokio::test]
    async fn oversized_messages_are_refused_not_waited_for() {
        let q = q(8, 100, DropPolicy::Block);
        assert_eq!(q.push(1, 9).await, Pushed::Dropped);
    }
}
