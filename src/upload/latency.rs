//! Receive→sent and receive→committed latency of a live recording, per topic. A message's
//! timestamp in the spool is its receive time, so "sent" is measured when its batch was handed to
//! the topic's DoPut stream, and "committed" when the server confirmed the part holding it.

use std::collections::BTreeMap;
use std::sync::Mutex;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Microseconds, up to one day, two significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 86_400_000_000, 2).expect("valid histogram bounds")
}

/// Quantiles of one latency, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    pub messages: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

fn summary(h: &Histogram<u64>) -> Option<LatencySummary> {
    (!h.is_empty()).then(|| LatencySummary {
        messages: h.len(),
        p50_ms: h.value_at_quantile(0.5) as f64 / 1e3,
        p99_ms: h.value_at_quantile(0.99) as f64 / 1e3,
        max_ms: h.max() as f64 / 1e3,
    })
}

/// Both latencies of a topic, as a report shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct TopicLatency {
    pub received_to_sent: Option<LatencySummary>,
    pub received_to_committed: Option<LatencySummary>,
}

#[derive(Default)]
struct Topic {
    sent: Option<Histogram<u64>>,
    committed: Option<Histogram<u64>>,
    /// Receive times (µs since `base_us`) of messages sent in the part being uploaded, waiting
    /// for its commit.
    uncommitted: Option<Histogram<u64>>,
    base_us: i64,
}

/// The latencies of one recording session's topics.
#[derive(Default)]
pub struct LatencyBook(Mutex<BTreeMap<String, Topic>>);

impl std::fmt::Debug for LatencyBook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.summary()).finish()
    }
}

impl LatencyBook {
    /// Messages of `topic` received at `stamps_ns` were sent at `now_ns`.
    pub fn sent(&self, topic: &str, stamps_ns: &[i64], now_ns: i64) {
        let mut book = self.0.lock().expect("latency book");
        let t = book.entry(topic.to_string()).or_default();
        let sent = t.sent.get_or_insert_with(histogram);
        if t.uncommitted.is_none() {
            t.base_us = stamps_ns.iter().min().map_or(0, |s| s / 1000);
        }
        let base = t.base_us;
        let waiting = t.uncommitted.get_or_insert_with(histogram);
        for &s in stamps_ns {
            sent.saturating_record(((now_ns - s) / 1000).max(1) as u64);
            waiting.saturating_record((s / 1000 - base).max(1) as u64);
        }
    }

    /// The part holding every message sent so far was committed at `now_ns`.
    pub fn committed(&self, now_ns: i64) {
        let now_us = now_ns / 1000;
        let mut book = self.0.lock().expect("latency book");
        for t in book.values_mut() {
            let Some(waiting) = t.uncommitted.take() else {
                continue;
            };
            let committed = t.committed.get_or_insert_with(histogram);
            for v in waiting.iter_recorded() {
                let received_us = t.base_us + v.value_iterated_to() as i64;
                committed
                    .saturating_record_n((now_us - received_us).max(1) as u64, v.count_at_value());
            }
        }
    }

    /// The messages sent since the last commit will not be committed as they were sent (the part
    /// is redone or left in the spool).
    pub fn forget_uncommitted(&self) {
        for t in self.0.lock().expect("latency book").values_mut() {
            t.uncommitted = None;
        }
    }

    pub fn summary(&self) -> BTreeMap<String, TopicLatency> {
        self.0
            .lock()
            .expect("latency book")
            .iter()
            .map(|(name, t)| {
                let s = TopicLatency {
                    received_to_sent: t.sent.as_ref().and_then(summary),
                    received_to_committed: t.committed.as_ref().and_then(summary),
                };
                (name.clone(), s)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_latency_counts_from_each_receive_time_to_the_commit() {
        let book = LatencyBook::default();
        let s = 1_000_000_000_000i64; // ns
                                      // 100 messages received 10 ms apart, each sent 5 ms after it arrived.
        for i in 0..100 {
            book.sent(
                "/imu",
                &[s + i * 10_000_000],
                s + i * 10_000_000 + 5_000_000,
            );
        }
        // The part is committed 1 s after the last message arrived.
        book.committed(s + 99 * 10_000_000 + 1_000_000_000);
        let l = book.summary()["/imu"];
        let sent = l.received_to_sent.unwrap();
        assert_eq!(sent.messages, 100);
        assert!((sent.p50_ms - 5.0).abs() < 0.1, "{sent:?}");
        let c = l.received_to_committed.unwrap();
        assert_eq!(c.messages, 100);
        // The oldest message waited 1.99 s, the newest 1 s: the median about 1.5 s.
        assert!((c.max_ms - 1990.0).abs() < 20.0, "{c:?}");
        assert!((c.p50_ms - 1500.0).abs() < 20.0, "{c:?}");
        book.sent("/imu", &[s], s + 1);
        book.forget_uncommitted();
        book.committed(s + 10);
        assert_eq!(
            book.summary()["/imu"]
                .received_to_committed
                .unwrap()
                .messages,
            100
        );
    }
}
