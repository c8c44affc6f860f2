//! The subscription QoS of a recorded topic, adapted to its publishers like rosbag2 does: reliable
//! or transient-local only when every publisher offers it (a stricter reader would not match the
//! others), unless the topic's override says otherwise.

use crate::config::{Durability, Reliability, TopicOverride};
use crate::transport::{Publisher, Qos};

/// Reader history depth at least this deep: a 1 kHz IMU loses data with the default 10 when the
/// delivery thread is briefly late.
pub const MIN_READER_DEPTH: u32 = 100;

/// Reader history of large-sample topics: the delivery thread takes samples at once, and a deep
/// history of multi-MB frames only costs memory (measured: depth 100 → 5 saved ~0.5 GB of RSS at
/// 1080p@30 + 128×2048 points@10).
pub const LARGE_READER_DEPTH: u32 = 5;

/// Types whose multi-MB samples collapse RustDDS' reliable protocol above ~30 Hz (see the
/// transport notes): read best effort, which also matches reliable publishers, and count drops.
pub const LARGE_SAMPLE_TYPES: &[&str] = &[
    "sensor_msgs/msg/Image",
    "sensor_msgs/msg/PointCloud2",
    "sensor_msgs/msg/CompressedImage",
];

/// The reader QoS for a topic with these publishers.
pub fn reader_qos(
    ros_type: &str,
    publishers: &[Publisher],
    backend: &str,
    over: Option<&TopicOverride>,
) -> Qos {
    let all =
        |f: &dyn Fn(&Qos) -> bool| !publishers.is_empty() && publishers.iter().all(|p| f(&p.qos));
    let large_on_dds = backend == "dds" && LARGE_SAMPLE_TYPES.contains(&ros_type);
    let reliability = match over.and_then(|o| o.reliability) {
        Some(r) => r,
        None if !large_on_dds && all(&|q| q.reliability == Reliability::Reliable) => {
            Reliability::Reliable
        }
        None => Reliability::BestEffort,
    };
    let durability = match over.and_then(|o| o.durability) {
        Some(d) => d,
        None if all(&|q| q.durability == Durability::TransientLocal) => Durability::TransientLocal,
        None => Durability::Volatile,
    };
    let offered = publishers.iter().map(|p| p.qos.depth).max().unwrap_or(0);
    let depth = over
        .and_then(|o| o.depth)
        .unwrap_or_else(|| match durability {
            // Latched history: as deep as a publisher keeps, so nothing latched is missed.
            Durability::TransientLocal => offered.max(1),
            // Not the publisher's depth: RustDDS keeps that many samples per reader, 6 MB each.
            Durability::Volatile if LARGE_SAMPLE_TYPES.contains(&ros_type) => LARGE_READER_DEPTH,
            Durability::Volatile => offered.max(MIN_READER_DEPTH),
        });
    Qos {
        reliability,
        durability,
        depth,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publisher(qos: Qos) -> Publisher {
        Publisher {
            gid: "g".into(),
            node: None,
            qos,
        }
    }

    #[test]
    fn strict_only_when_every_publisher_offers_it() {
        let both = [publisher(Qos::DEFAULT), publisher(Qos::SENSOR_DATA)];
        let q = reader_qos("sensor_msgs/msg/Imu", &both, "dds", None);
        assert_eq!(q.reliability, Reliability::BestEffort);
        assert_eq!(q.durability, Durability::Volatile);
        assert_eq!(q.depth, MIN_READER_DEPTH);

        let q = reader_qos(
            "sensor_msgs/msg/Imu",
            &[publisher(Qos::DEFAULT)],
            "dds",
            None,
        );
        assert_eq!(q.reliability, Reliability::Reliable);

        let latched = [publisher(Qos::LATCHED)];
        let q = reader_qos("tf2_msgs/msg/TFMessage", &latched, "dds", None);
        assert_eq!(
            (q.reliability, q.durability, q.depth),
            (Reliability::Reliable, Durability::TransientLocal, 1)
        );
    }

    #[test]
    fn large_samples_read_best_effort_on_dds_and_overrides_win() {
        let q = reader_qos(
            "sensor_msgs/msg/Image",
            &[publisher(Qos::DEFAULT)],
            "dds",
            None,
        );
        assert_eq!(q.reliability, Reliability::BestEffort);
        let q = reader_qos(
            "sensor_msgs/msg/Image",
            &[publisher(Qos::DEFAULT)],
            "r2r",
            None,
        );
        assert_eq!(q.reliability, Reliability::Reliable);
        let o = TopicOverride {
            reliability: Some(Reliability::Reliable),
            depth: Some(3),
            ..Default::default()
        };
        let q = reader_qos(
            "sensor_msgs/msg/Image",
            &[publisher(Qos::DEFAULT)],
            "dds",
            Some(&o),
        );
        assert_eq!((q.reliability, q.depth), (Reliability::Reliable, 3));
    }
}
