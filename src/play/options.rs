//! What `play` replays and how: `ros2 bag play`'s options, the topic selection and the QoS of the
//! publishers.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;

use super::timeline::Rate;
use crate::config::{Durability, Reliability};
use crate::error::{Error, Result};
use crate::transport::Qos;

/// Bytes read ahead of the player by default.
pub const DEFAULT_READ_AHEAD_BYTES: u64 = 256 << 20;

/// The player's options, under rosbag2's names (see `mosaico-bridge play --help`).
#[derive(Debug, Clone)]
pub struct PlayOptions {
    pub rate: Rate,
    /// Play again from the start at the end, until stopped.
    pub loop_playback: bool,
    /// Wait before the first message (after the publishers are created, so subscribers can match).
    pub delay: Duration,
    /// Start this far after the first message of the selected topics.
    pub start_offset: Duration,
    /// Play this much recording time, from the start (after the offset).
    pub playback_duration: Option<Duration>,
    /// Play messages up to this recording time (ns since the epoch, inclusive).
    pub playback_until_ns: Option<i64>,
    pub select: Selection,
    /// Output names: stored topic → topic to publish on.
    pub remap: BTreeMap<String, String>,
    /// Publish `/clock` at this rate (Hz) with the recording time.
    pub clock_hz: Option<f64>,
    /// QoS per topic that replaces what was recorded.
    pub qos_overrides: BTreeMap<String, QosOverride>,
    pub start_paused: bool,
    pub read_ahead_bytes: u64,
    /// ROS type per topic for topics stored without one (sequences of other clients).
    pub types: BTreeMap<String, String>,
    /// Serve the `rosbag2_interfaces` control services under the node.
    pub services: bool,
}

impl Default for PlayOptions {
    fn default() -> Self {
        PlayOptions {
            rate: Rate::Factor(1.0),
            loop_playback: false,
            delay: Duration::ZERO,
            start_offset: Duration::ZERO,
            playback_duration: None,
            playback_until_ns: None,
            select: Selection::default(),
            remap: BTreeMap::new(),
            clock_hz: None,
            qos_overrides: BTreeMap::new(),
            start_paused: false,
            read_ahead_bytes: DEFAULT_READ_AHEAD_BYTES,
            types: BTreeMap::new(),
            services: true,
        }
    }
}

/// Which stored topics are played: those named or matching `regex` (all when neither is given),
/// less those matching `exclude`. Regular expressions match the whole name, as in rosbag2.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub topics: Vec<String>,
    pub regex: Option<Regex>,
    pub exclude: Option<Regex>,
}

impl Selection {
    /// Compiles `--regex` / `--exclude-regex` patterns (anchored: the whole name must match).
    pub fn pattern(flag: &str, re: &str) -> Result<Regex> {
        Regex::new(&format!("^(?:{re})$"))
            .map_err(|e| Error::invalid(format!("{flag} {re:?} is not a regular expression: {e}")))
    }

    pub fn wants(&self, topic: &str) -> bool {
        let named = self
            .topics
            .iter()
            .any(|t| crate::names::display_topic(t) == topic);
        let included = (self.topics.is_empty() && self.regex.is_none())
            || named
            || self.regex.as_ref().is_some_and(|r| r.is_match(topic));
        included && !self.exclude.as_ref().is_some_and(|r| r.is_match(topic))
    }
}

/// One topic's entry of a `--qos-profile-overrides-path` file (rosbag2's format); keys left out
/// keep the recorded value.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct QosOverride {
    pub history: Option<String>,
    pub depth: Option<u32>,
    pub reliability: Option<String>,
    pub durability: Option<String>,
    // Accepted for compatibility with rosbag2's files; the DDS backend applies none of them.
    pub deadline: Option<serde_yaml_ng::Value>,
    pub lifespan: Option<serde_yaml_ng::Value>,
    pub liveliness: Option<serde_yaml_ng::Value>,
    pub liveliness_lease_duration: Option<serde_yaml_ng::Value>,
    pub avoid_ros_namespace_conventions: Option<bool>,
}

/// Reads a rosbag2 QoS overrides file: `{topic: {reliability, durability, history, depth, ...}}`.
pub fn read_qos_overrides(path: &Path) -> Result<BTreeMap<String, QosOverride>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::invalid(format!("cannot read {}: {e}", path.display())))?;
    parse_qos_overrides(&text, &path.display().to_string())
}

/// The overrides in `text` (a QoS overrides file; `origin` names it in errors), each checked.
pub fn parse_qos_overrides(text: &str, origin: &str) -> Result<BTreeMap<String, QosOverride>> {
    let map: BTreeMap<String, QosOverride> = serde_yaml_ng::from_str(text).map_err(|e| {
        Error::invalid(format!(
            "{origin}: not a QoS overrides file ({e}); expected `/topic: {{reliability: reliable, durability: transient_local, history: keep_last, depth: 10}}`"
        ))
    })?;
    let map: BTreeMap<String, QosOverride> = map
        .into_iter()
        .map(|(t, o)| (crate::names::display_topic(&t), o))
        .collect();
    for (t, o) in &map {
        o.apply(Qos::DEFAULT)
            .map_err(|e| Error::invalid(format!("{origin}: {t}: {e}")))?;
    }
    Ok(map)
}

impl QosOverride {
    /// `base` with this override's values.
    pub fn apply(&self, base: Qos) -> std::result::Result<Qos, String> {
        let mut q = base;
        match self.reliability.as_deref() {
            None | Some("system_default") => {}
            Some("reliable") => q.reliability = Reliability::Reliable,
            Some("best_effort") => q.reliability = Reliability::BestEffort,
            Some(o) => return Err(format!("reliability {o:?}: use reliable or best_effort")),
        }
        match self.durability.as_deref() {
            None | Some("system_default") => {}
            Some("volatile") => q.durability = Durability::Volatile,
            Some("transient_local") => q.durability = Durability::TransientLocal,
            Some(o) => return Err(format!("durability {o:?}: use volatile or transient_local")),
        }
        match self.history.as_deref() {
            None | Some("keep_last") | Some("system_default") => {}
            Some(o) => return Err(format!("history {o:?}: only keep_last is supported")),
        }
        if let Some(d) = self.depth {
            if d == 0 {
                return Err("depth 0: keep_last needs a depth of at least 1".into());
            }
            q.depth = d;
        }
        Ok(q)
    }
}

/// The QoS to publish a topic with: the recorded publishers' when they agree (the deepest history
/// of them); when they differ, reliable if any was (a reliable writer serves best-effort readers
/// too) and volatile unless all were transient local; none recorded: `/tf_static` latched, every
/// other topic ROS 2's default (reliable, volatile, keep last 10).
pub fn offer_qos(topic: &str, offered: &[Qos]) -> Qos {
    if offered.is_empty() {
        return if topic == "/tf_static" {
            Qos::LATCHED
        } else {
            Qos::DEFAULT
        };
    }
    let reliability = if offered
        .iter()
        .any(|q| q.reliability == Reliability::Reliable)
    {
        Reliability::Reliable
    } else {
        Reliability::BestEffort
    };
    let durability = if offered
        .iter()
        .all(|q| q.durability == Durability::TransientLocal)
    {
        Durability::TransientLocal
    } else {
        Durability::Volatile
    };
    Qos {
        reliability,
        durability,
        depth: offered.iter().map(|q| q.depth).max().unwrap_or(10).max(1),
    }
}

/// `old:=new` remapping rules (topics with or without their leading `/`).
pub fn parse_remaps(rules: &[String]) -> Result<BTreeMap<String, String>> {
    rules
        .iter()
        .map(|r| match r.split_once(":=") {
            Some((a, b)) if !a.trim_matches('/').is_empty() && !b.trim_matches('/').is_empty() => {
                Ok((
                    crate::names::display_topic(a),
                    crate::names::display_topic(b),
                ))
            }
            _ => Err(Error::invalid(format!(
                "--remap {r:?}: expected OLD:=NEW, e.g. /camera/image_raw:=/replay/image"
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_like_rosbag2() {
        let all = Selection::default();
        assert!(all.wants("/imu"));
        let s = Selection {
            topics: vec!["imu".into()],
            regex: Some(Selection::pattern("--regex", "/camera/.*").unwrap()),
            exclude: Some(Selection::pattern("--exclude-regex", ".*/compressed").unwrap()),
        };
        assert!(s.wants("/imu"));
        assert!(s.wants("/camera/image_raw"));
        assert!(!s.wants("/camera/image_raw/compressed"));
        assert!(!s.wants("/gps"));
        // whole-name match: /imu2 is not /imu, and /x/camera/a does not match /camera/.*
        assert!(!s.wants("/imu2"));
        assert!(!s.wants("/x/camera/a"));
        assert!(Selection::pattern("--regex", "(").is_err());
    }

    #[test]
    fn recorded_qos_is_offered_again() {
        assert_eq!(offer_qos("/tf_static", &[]), Qos::LATCHED);
        assert_eq!(offer_qos("/imu", &[]), Qos::DEFAULT);
        assert_eq!(offer_qos("/imu", &[Qos::SENSOR_DATA]), Qos::SENSOR_DATA);
        let mixed = offer_qos("/x", &[Qos::SENSOR_DATA, Qos::LATCHED]);
        assert_eq!(
            (mixed.reliability, mixed.durability, mixed.depth),
            (Reliability::Reliable, Durability::Volatile, 5)
        );
    }

    #[test]
    fn qos_overrides_read_rosbag2_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("q.yaml");
        std::fs::write(
            &p,
            "/imu:\n  reliability: best_effort\n  depth: 100\n  history: keep_last\ntf_static:\n  durability: transient_local\n  deadline:\n    sec: 0\n    nsec: 0\n",
        )
        .unwrap();
        let m = read_qos_overrides(&p).unwrap();
        let imu = m["/imu"].apply(Qos::DEFAULT).unwrap();
        assert_eq!((imu.reliability, imu.depth), (Reliability::BestEffort, 100));
        assert_eq!(
            m["/tf_static"].apply(Qos::DEFAULT).unwrap().durability,
            Durability::TransientLocal
        );
        std::fs::write(&p, "/imu:\n  reliabilty: reliable\n").unwrap();
        let e = read_qos_overrides(&p).unwrap_err().to_string();
        assert!(e.contains("reliabilty"), "{e}");
        std::fs::write(&p, "/imu:\n  reliability: sometimes\n").unwrap();
        assert!(read_qos_overrides(&p).is_err());
    }

    #[test]
    fn remaps() {
        let m = parse_remaps(&["/a:=b/c".into()]).unwrap();
        assert_eq!(m["/a"], "/b/c");
        assert!(parse_remaps(&["/a=/b".into()]).is_err());
        assert!(parse_remaps(&[":=/b".into()]).is_err());
    }
}
