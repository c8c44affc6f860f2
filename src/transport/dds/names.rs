//! ROS 2 ↔ DDS naming (the `rmw` conventions every ROS 2 middleware follows): topic `/a/b` travels
//! as DDS topic `rt/a/b`, type `pkg/msg/Type` as `pkg::msg::dds_::Type_`. Services use `rq/…Request`
//! and `rr/…Reply` topics, which ros2-client builds itself.

/// Why a ROS type name cannot be mapped to DDS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a ROS 2 type name of the form `package/msg/Type`")]
pub struct BadTypeName(pub String);

/// DDS topic prefix of ROS topics (as opposed to `rq/`, `rr/` of services).
const TOPIC_PREFIX: &str = "rt";

/// `/camera/image_raw` → `rt/camera/image_raw`. `fully_qualified` is a resolved ROS name.
pub fn dds_topic(fully_qualified: &str) -> String {
    format!("{TOPIC_PREFIX}{fully_qualified}")
}

/// `rt/camera/image_raw` → `/camera/image_raw`; `None` for DDS topics that are not ROS topics
/// (service request/reply topics, `ros_discovery_info`, plain DDS applications).
pub fn ros_topic(dds_name: &str) -> Option<String> {
    let rest = dds_name.strip_prefix(TOPIC_PREFIX)?;
    (rest.starts_with('/') && rest.len() > 1).then(|| rest.to_string())
}

fn valid_segment(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `sensor_msgs/msg/Image` → `sensor_msgs::msg::dds_::Image_` (also `srv` and `action` kinds).
pub fn dds_type(ros_type: &str) -> Result<String, BadTypeName> {
    let bad = || BadTypeName(ros_type.to_string());
    let mut parts = ros_type.split('/');
    let (Some(pkg), Some(kind), Some(name), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if !(valid_segment(pkg) && valid_segment(kind) && valid_segment(name)) {
        return Err(bad());
    }
    Ok(format!("{pkg}::{kind}::dds_::{name}_"))
}

/// `sensor_msgs::msg::dds_::Image_` → `sensor_msgs/msg/Image`; `None` if the DDS type does not
/// follow the ROS convention.
pub fn ros_type(dds_type: &str) -> Option<String> {
    let mut parts = dds_type.split("::");
    let (Some(pkg), Some(kind), Some("dds_"), Some(name), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let name = name.strip_suffix('_')?;
    (valid_segment(pkg) && valid_segment(kind) && valid_segment(name))
        .then(|| format!("{pkg}/{kind}/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_map_both_ways() {
        assert_eq!(dds_topic("/camera/image_raw"), "rt/camera/image_raw");
        assert_eq!(
            ros_topic("rt/camera/image_raw").as_deref(),
            Some("/camera/image_raw")
        );
        assert_eq!(ros_topic("rq/rec/startRequest"), None);
        assert_eq!(ros_topic("rr/rec/startReply"), None);
        assert_eq!(ros_topic("ros_discovery_info"), None);
        assert_eq!(ros_topic("rt/"), None);
        assert_eq!(ros_topic("rtx/a"), None);
    }

    #[test]
    fn types_map_both_ways() {
        assert_eq!(
            dds_type("sensor_msgs/msg/Image").unwrap(),
            "sensor_msgs::msg::dds_::Image_"
        );
        assert_eq!(
            ros_type("sensor_msgs::msg::dds_::Image_").as_deref(),
            Some("sensor_msgs/msg/Image")
        );
        assert_eq!(
            ros_type("std_srvs::srv::dds_::Trigger_Request_").as_deref(),
            Some("std_srvs/srv/Trigger_Request")
        );
        assert!(dds_type("sensor_msgs/Image").is_err());
        assert!(dds_type("sensor_msgs/msg/Image/x").is_err());
        assert!(dds_type("a b/msg/C").is_err());
        assert_eq!(ros_type("DDS::String"), None);
        assert_eq!(ros_type("a::msg::dds_::NoUnderscore"), None);
    }
}
