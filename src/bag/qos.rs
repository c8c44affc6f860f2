//! rosbag2's `offered_qos_profiles`: a YAML list of the publishers' QoS profiles, in the numeric
//! enum form that every rosbag2 release (and rosbags) reads.

use serde::{Deserialize, Serialize};

use crate::config::{Durability, Reliability};
use crate::transport::Qos;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct RosTime {
    sec: i64,
    nsec: u64,
}

/// rmw's "unspecified" deadline, lifespan and lease duration, as rosbag2 writes them.
const INFINITE: RosTime = RosTime {
    sec: 2147483647,
    nsec: 4294967295,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Profile {
    history: u8,
    depth: u32,
    reliability: u8,
    durability: u8,
    deadline: RosTime,
    lifespan: RosTime,
    liveliness: u8,
    liveliness_lease_duration: RosTime,
    avoid_ros_namespace_conventions: bool,
}

impl From<&Qos> for Profile {
    fn from(q: &Qos) -> Self {
        Profile {
            history: 1, // keep last
            depth: q.depth,
            reliability: match q.reliability {
                Reliability::Reliable => 1,
                Reliability::BestEffort => 2,
            },
            durability: match q.durability {
                Durability::TransientLocal => 1,
                Durability::Volatile => 2,
            },
            deadline: INFINITE,
            lifespan: INFINITE,
            liveliness: 1, // automatic
            liveliness_lease_duration: INFINITE,
            avoid_ros_namespace_conventions: false,
        }
    }
}

/// The YAML of `offered_qos_profiles` for these publishers' QoS.
pub fn to_yaml(offered: &[Qos]) -> String {
    let profiles: Vec<Profile> = offered.iter().map(Profile::from).collect();
    if profiles.is_empty() {
        return String::new();
    }
    serde_yaml_ng::to_string(&profiles).unwrap_or_default()
}

/// The publishers' QoS back from `offered_qos_profiles` (what the recorder needs of it); profiles
/// it cannot read are skipped.
pub fn from_yaml(text: &str) -> Vec<Qos> {
    let Ok(v) = serde_yaml_ng::from_str::<Vec<serde_yaml_ng::Value>>(text) else {
        return vec![];
    };
    let num = |p: &serde_yaml_ng::Value, k: &str| p.get(k).and_then(|x| x.as_u64());
    v.iter()
        .map(|p| Qos {
            reliability: match num(p, "reliability") {
                Some(2) => Reliability::BestEffort,
                _ => Reliability::Reliable,
            },
            durability: match num(p, "durability") {
                Some(1) => Durability::TransientLocal,
                _ => Durability::Volatile,
            },
            depth: num(p, "depth").unwrap_or(10) as u32,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_round_trip() {
        let q = vec![Qos::LATCHED, Qos::SENSOR_DATA];
        let y = to_yaml(&q);
        assert!(y.contains("durability: 1"), "{y}");
        assert_eq!(from_yaml(&y), q);
        assert_eq!(to_yaml(&[]), "");
    }
}
