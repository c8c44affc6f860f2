//! The recorder's status on `/diagnostics` (diagnostic_msgs/DiagnosticArray): one status for the
//! node, one per recorded topic with its rate and counters, as `rqt_runtime_monitor` shows them.

use std::collections::HashMap;
use std::time::Instant;

use super::live::TopicStatus;
use crate::ros::msgs::builtin_interfaces::Time;
use crate::ros::msgs::diagnostic_msgs::{DiagnosticArray, DiagnosticStatus, KeyValue};
use crate::ros::msgs::std_msgs::Header;
use crate::ros::{Endian, RosMessage};
use crate::upload::UplinkStatus;

pub const TOPIC: &str = "/diagnostics";
/// Published when messages were lost, with what and why (rosbag2 has `events/rosbag2_messages_lost`).
pub const LOSS_EVENTS: &str = "~/events/messages_lost";
pub const ROS_TYPE: &str = "diagnostic_msgs/msg/DiagnosticArray";

/// What the node is doing, for its own status line.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeState {
    Idle,
    Recording {
        sequence: String,
        part: u32,
    },
    /// Waiting for the server after a fault or a failed start.
    Waiting {
        reason: String,
    },
}

/// Turns counters into rates between two calls.
#[derive(Default)]
pub struct RateMeter {
    last: HashMap<String, (Instant, u64, u64)>,
}

impl RateMeter {
    /// Messages/s and bytes/s of each topic since the previous call (0 on the first), in order.
    pub fn rates(&mut self, topics: &[TopicStatus]) -> Vec<(f64, f64)> {
        topics
            .iter()
            .map(|t| self.rate(&t.report.topic, t.report.received, t.report.bytes))
            .collect()
    }

    /// Messages/s and bytes/s of `topic` since the previous call (0 on the first).
    pub fn rate(&mut self, topic: &str, received: u64, bytes: u64) -> (f64, f64) {
        let now = Instant::now();
        let out = match self.last.get(topic) {
            Some((t, n, b)) => {
                let dt = now.duration_since(*t).as_secs_f64().max(1e-3);
                (
                    received.saturating_sub(*n) as f64 / dt,
                    bytes.saturating_sub(*b) as f64 / dt,
                )
            }
            None => (0.0, 0.0),
        };
        self.last.insert(topic.to_string(), (now, received, bytes));
        out
    }
}

/// The node's state in one line, for a terminal: what it records, the busiest topics' rates
/// (`rates`: [`RateMeter::rates`] of `topics`), what was not stored, and the uplink with its
/// backlog.
pub fn status_line(
    state: &NodeState,
    uplink: Option<&UplinkStatus>,
    topics: &[TopicStatus],
    rates: &[(f64, f64)],
) -> String {
    let mut line = match state {
        NodeState::Idle => "idle (call ~/start to record)".to_string(),
        NodeState::Recording { sequence, part } => format!("recording {sequence} (part {part})"),
        NodeState::Waiting { reason } => format!("not recording: {reason}"),
    };
    if !topics.is_empty() {
        let mut r: Vec<(&str, f64, f64)> = topics
            .iter()
            .zip(rates)
            .map(|(t, &(hz, bps))| (t.report.topic.as_str(), hz, bps))
            .collect();
        let (hz, bps) = r.iter().fold((0.0, 0.0), |(h, b), t| (h + t.1, b + t.2));
        line += &format!(" | {} topics {hz:.0} msg/s {:.1} MB/s:", r.len(), bps / 1e6);
        r.sort_by(|a, b| b.2.total_cmp(&a.2));
        for (name, hz, _) in r.iter().take(3) {
            line += &format!(" {name} {hz:.0}/s");
        }
        if r.len() > 3 {
            line += &format!(" +{} more", r.len() - 3);
        }
        let lost: u64 = topics.iter().map(|t| t.report.not_stored()).sum();
        let mw: u64 = topics.iter().map(|t| t.report.middleware_lost).sum();
        line += &format!(" | not stored {lost}, lost in the middleware {mw}");
    }
    if let Some(u) = uplink {
        line += &format!(" | uplink {}", u.state);
        if let Some(why) = u.reason.as_deref().filter(|_| u.state == "waiting") {
            line += &format!(" ({why})");
        }
        if u.backlog_segments > 0 {
            line += &format!(
                ", backlog {} segment(s) {:.1} MB, oldest {:.0} s",
                u.backlog_segments,
                u.backlog_bytes as f64 / 1e6,
                u.oldest_s
            );
        }
    }
    line
}

fn kv(key: &str, value: impl ToString) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value.to_string(),
    }
}

/// The DiagnosticArray for this moment, serialized with its CDR header.
pub fn diagnostics(
    node: &str,
    stamp_ns: i64,
    state: &NodeState,
    uplink: Option<&UplinkStatus>,
    topics: &[TopicStatus],
    rates: &[(f64, f64)],
) -> Vec<u8> {
    let hardware_id = hostname();
    let mut status = Vec::with_capacity(topics.len() + 1);
    let (level, message, mut values) = match state {
        NodeState::Idle => (
            DiagnosticStatus::OK,
            "idle (call ~/start to record)".to_string(),
            vec![],
        ),
        NodeState::Recording { sequence, part } => (
            DiagnosticStatus::OK,
            format!("recording {sequence} (part {part})"),
            vec![kv("sequence", sequence), kv("part", part)],
        ),
        NodeState::Waiting { reason } => (
            DiagnosticStatus::ERROR,
            format!("not recording: {reason}"),
            vec![],
        ),
    };
    let lost: u64 = topics.iter().map(|t| t.report.not_written()).sum();
    values.push(kv("topics", topics.len()));
    values.push(kv(
        "messages_not_stored",
        topics.iter().map(|t| t.report.not_stored()).sum::<u64>(),
    ));
    values.push(kv(
        "messages_lost_in_middleware",
        topics.iter().map(|t| t.report.middleware_lost).sum::<u64>(),
    ));
    let mut message = message;
    let mut level = level;
    if let Some(u) = uplink {
        values.push(kv("uplink", &u.state));
        values.push(kv("uplink_reason", u.reason.as_deref().unwrap_or("")));
        values.push(kv("backlog_segments", u.backlog_segments));
        values.push(kv("backlog_bytes", u.backlog_bytes));
        values.push(kv("backlog_oldest_s", format!("{:.1}", u.oldest_s)));
        values.push(kv("parts_committed", u.parts_committed));
        values.push(kv("topics_set_aside", u.set_aside.len()));
        if u.state == "waiting" {
            message = format!(
                "{message}; uplink down ({}), {} segment(s) waiting in the spool",
                u.reason.as_deref().unwrap_or("?"),
                u.backlog_segments
            );
            level = level.max(DiagnosticStatus::WARN);
        }
        if !u.set_aside.is_empty() || !u.stuck.is_empty() {
            level = level.max(DiagnosticStatus::WARN);
        }
    }
    status.push(DiagnosticStatus {
        level: if level == DiagnosticStatus::OK && lost > 0 {
            DiagnosticStatus::WARN
        } else {
            level
        },
        name: format!("{node}: recorder"),
        message,
        hardware_id: hardware_id.clone(),
        values,
    });
    for (t, &(hz, bps)) in topics.iter().zip(rates) {
        let r = &t.report;
        let level = if r.error.is_some() {
            DiagnosticStatus::ERROR
        } else if r.not_written() > 0 {
            DiagnosticStatus::WARN
        } else {
            DiagnosticStatus::OK
        };
        status.push(DiagnosticStatus {
            level,
            name: format!("{node}: {}", r.topic),
            message: match &r.error {
                Some(e) => e.clone(),
                None => format!("{hz:.1} Hz, {:.2} MB/s", bps / 1e6),
            },
            hardware_id: hardware_id.clone(),
            values: vec![
                kv("ros_type", &r.ros_type),
                kv("tag", r.tag.as_deref().unwrap_or("")),
                kv("rate_hz", format!("{hz:.2}")),
                kv("bytes_per_s", format!("{bps:.0}")),
                kv("received", r.received),
                kv("spooled", r.spooled),
                kv("committed", r.committed),
                kv("pending", r.pending),
                kv("written", r.written),
                kv("middleware_lost", r.middleware_lost),
                kv("dropped", r.dropped),
                kv("malformed", r.malformed),
                kv("too_large", r.too_large),
                kv("lost", r.lost),
                kv("queued_bytes", t.queued_bytes),
                kv("reliability", format!("{:?}", t.qos.reliability)),
                kv("durability", format!("{:?}", t.qos.durability)),
            ],
        });
    }
    array(stamp_ns, status)
}

/// A DiagnosticArray stamped `stamp_ns`, serialized with its CDR header.
fn array(stamp_ns: i64, status: Vec<DiagnosticStatus>) -> Vec<u8> {
    DiagnosticArray {
        header: Header {
            stamp: Time {
                sec: stamp_ns.div_euclid(1_000_000_000) as i32,
                nanosec: stamp_ns.rem_euclid(1_000_000_000) as u32,
            },
            frame_id: String::new(),
        },
        status,
    }
    .to_cdr(Endian::Little)
}

/// Per topic and reason, losses not reported yet; remembers what it reported.
#[derive(Default)]
pub struct LossTracker {
    reported: HashMap<(String, &'static str), u64>,
}

impl LossTracker {
    /// A DiagnosticArray of the losses since the last call (one status per topic), if any.
    pub fn event(&mut self, stamp_ns: i64, node: &str, topics: &[TopicStatus]) -> Option<Vec<u8>> {
        let mut status = Vec::new();
        for t in topics {
            let r = &t.report;
            let mut values = Vec::new();
            for (reason, n) in [
                ("dropped_by_queue_policy", r.dropped),
                ("lost_in_middleware", r.middleware_lost),
                ("malformed", r.malformed),
                ("too_large", r.too_large),
                ("spool_full_or_write_failed", r.lost),
            ] {
                let seen = self.reported.entry((r.topic.clone(), reason)).or_default();
                if n > *seen {
                    values.push(kv(reason, n - *seen));
                    *seen = n;
                }
            }
            if !values.is_empty() {
                status.push(DiagnosticStatus {
                    level: DiagnosticStatus::WARN,
                    name: format!("{node}: {}", r.topic),
                    message: "messages lost".into(),
                    hardware_id: hostname(),
                    values,
                });
            }
        }
        if status.is_empty() {
            return None;
        }
        Some(array(stamp_ns, status))
    }
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ros::CdrCodec;
    use crate::transport::Qos;
    use crate::upload::pipe::TopicReport;

    #[test]
    fn encodes_a_decodable_array_with_a_status_per_topic() {
        let t = TopicStatus {
            report: TopicReport {
                topic: "/imu".into(),
                ros_type: "sensor_msgs/msg/Imu".into(),
                received: 10,
                written: 9,
                malformed: 1,
                ..Default::default()
            },
            qos: Qos::SENSOR_DATA,
            queued_bytes: 0,
        };
        let state = NodeState::Recording {
            sequence: "s".into(),
            part: 1,
        };
        let cdr = diagnostics(
            "/rec",
            1_500_000_000,
            &state,
            None,
            &[t],
            &[(0.0, 0.0)], // a first reading: no rate yet
        );
        let a = DiagnosticArray::read(&mut crate::ros::CdrReader::new(&cdr).unwrap()).unwrap();
        assert_eq!(
            (a.header.stamp.sec, a.header.stamp.nanosec),
            (1, 500_000_000)
        );
        assert_eq!(a.status.len(), 2);
        assert_eq!(
            a.status[0].level,
            DiagnosticStatus::WARN,
            "a malformed message warns"
        );
        assert_eq!(a.status[1].name, "/rec: /imu");
        let v = |k: &str| {
            a.status[1]
                .values
                .iter()
                .find(|x| x.key == k)
                .unwrap()
                .value
                .clone()
        };
        assert_eq!(
            (v("received"), v("written"), v("malformed")),
            ("10".into(), "9".into(), "1".into())
        );
    }
}
