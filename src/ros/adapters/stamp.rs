//! Which time a message is stored at (`timestamp_ns`): when it was received (system or simulated
//! ROS time), or the stamp of its `std_msgs/Header`. Recorded in the topic's metadata.

use serde::{Deserialize, Serialize};

use crate::ros::cdr::CdrReader;
use crate::ros::RosError;

/// The time source of a topic's `timestamp_ns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampSource {
    /// The time the message was received (the bag's log time on import).
    #[default]
    ReceiveTime,
    /// The receive time in ROS simulated time: the last `/clock` received (`use_sim_time`).
    SimTime,
    /// The message's `header.stamp`; messages whose stamp is zero keep their receive time.
    HeaderStamp,
}

impl TimestampSource {
    /// The inverse of [`TimestampSource::as_str`].
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::ReceiveTime, Self::SimTime, Self::HeaderStamp]
            .into_iter()
            .find(|t| t.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TimestampSource::ReceiveTime => "receive_time",
            TimestampSource::SimTime => "sim_time",
            TimestampSource::HeaderStamp => "header_stamp",
        }
    }
}

/// Whether `ros_type` starts with a `std_msgs/Header` (from its built-in definition; a type the
/// bridge has no definition for cannot be told).
pub fn starts_with_header(ros_type: &str) -> bool {
    let Some(def) = crate::ros::msgs::definition(ros_type) else {
        return false;
    };
    let first = def
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .find(|l| !l.is_empty());
    matches!(
        first.and_then(|l| l.split_whitespace().next()),
        Some("std_msgs/Header" | "Header" | "std_msgs/msg/Header")
    )
}

/// The `builtin_interfaces/Time` a message starts with (a `std_msgs/Header`'s stamp, a
/// `rosgraph_msgs/msg/Clock`), in ns since the epoch.
pub fn leading_time_ns(cdr: &[u8]) -> Result<i64, RosError> {
    let mut r = CdrReader::new(cdr)?;
    let sec = r.read_i32()?;
    let nanosec = r.read_u32()?;
    Ok(sec as i64 * 1_000_000_000 + nanosec as i64)
}

/// The `header.stamp` of a message that starts with a `std_msgs/Header`; `None` when it is zero
/// (left unset by its publisher).
pub fn header_stamp_ns(cdr: &[u8]) -> Result<Option<i64>, RosError> {
    Ok(Some(leading_time_ns(cdr)?).filter(|&t| t != 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensor_types_start_with_a_header_and_tf_does_not() {
        assert!(starts_with_header("sensor_msgs/msg/Imu"));
        assert!(starts_with_header("sensor_msgs/msg/Image"));
        assert!(starts_with_header("nav_msgs/msg/Odometry"));
        assert!(!starts_with_header("tf2_msgs/msg/TFMessage"));
        assert!(!starts_with_header("std_msgs/msg/String"));
        assert!(!starts_with_header("custom_msgs/msg/Unknown"));
    }

    #[test]
    fn the_stamp_is_read_in_either_byte_order_and_zero_means_unset() {
        let le = [0, 1, 0, 0, 0x10, 0, 0, 0, 0x20, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(header_stamp_ns(&le).unwrap(), Some(16_000_000_032));
        let be = [0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0x20, 0, 0, 0, 0];
        assert_eq!(header_stamp_ns(&be).unwrap(), Some(16_000_000_032));
        let zero = [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(header_stamp_ns(&zero).unwrap(), None);
        assert!(header_stamp_ns(&[0, 1, 0, 0, 1, 2]).is_err());
    }
}
