//! The ROS 2 message types the bridge converts, as plain Rust structs (field names and order as in
//! the `.msg` files), each decodable from and encodable to raw CDR.
//!
//! Message definitions (the `.msg` text with its dependencies, as rosbag2 and MCAP store them and as
//! the official SDK keeps under `_ros_.msgdef`) come from `msgdefs.txt`, generated with `rosbags` by
//! `scripts/gen_cdr_fixtures.py`.

use std::collections::HashMap;
use std::sync::OnceLock;

use bytes::Bytes;

use super::cdr::{CdrCodec, CdrReader, CdrWriter, Endian};
use super::RosError;

/// A ROS 2 message type.
pub trait RosMessage: CdrCodec + Send + 'static {
    /// `pkg/msg/Type`.
    const TYPE_NAME: &'static str;

    /// Decodes a whole serialized message (encapsulation header included). Trailing bytes (DDS
    /// alignment padding) are ignored.
    fn from_cdr(data: &[u8]) -> Result<Self, RosError> {
        Self::read(&mut CdrReader::new(data)?)
    }

    /// Like [`RosMessage::from_cdr`]; byte blobs share `data`'s memory.
    fn from_cdr_bytes(data: &Bytes) -> Result<Self, RosError> {
        Self::read(&mut CdrReader::from_bytes(data)?)
    }

    /// Serializes with the encapsulation header.
    fn to_cdr(&self, endian: Endian) -> Vec<u8> {
        let mut w = CdrWriter::new(endian);
        self.write(&mut w);
        w.finish()
    }

    /// The full message definition (rosbag2 / MCAP `ros2msg` form).
    fn definition() -> &'static str {
        definition(Self::TYPE_NAME).unwrap_or("")
    }
}

/// The message definition of a known type (`pkg/msg/Type`), dependencies included.
pub fn definition(ros_type: &str) -> Option<&'static str> {
    static DEFS: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    DEFS.get_or_init(|| {
        let text: &'static str = include_str!("msgdefs.txt");
        let mut map = HashMap::new();
        for block in text.split("### ").filter(|b| !b.is_empty()) {
            if let Some((name, def)) = block.split_once('\n') {
                map.insert(name.trim(), def);
            }
        }
        map
    })
    .get(ros_type)
    .copied()
}

/// Declares a message struct with its CDR codec: fields are read and written in declaration order.
macro_rules! ros_message {
    ($(#[$m:meta])* $name:ident = $type_name:literal { $($field:ident: $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
        pub struct $name {
            $(pub $field: $ty,)*
        }

        impl $crate::ros::cdr::CdrCodec for $name {
            const MIN_SIZE: usize = 0 $(+ <$ty as $crate::ros::cdr::CdrCodec>::MIN_SIZE)*;
            #[inline]
            fn read(r: &mut $crate::ros::cdr::CdrReader<'_>) -> Result<Self, $crate::ros::RosError> {
                Ok($name { $($field: <$ty as $crate::ros::cdr::CdrCodec>::read(r)?,)* })
            }
            #[inline]
            #[allow(unused_variables)]
            fn write(&self, w: &mut $crate::ros::cdr::CdrWriter) {
                $($crate::ros::cdr::CdrCodec::write(&self.$field, w);)*
            }
        }

        impl $crate::ros::msgs::RosMessage for $name {
            const TYPE_NAME: &'static str = $type_name;
        }
    };
}

pub mod builtin_interfaces;
pub mod diagnostic_msgs;
pub mod geometry_msgs;
pub mod nav_msgs;
pub mod nmea_msgs;
pub mod sensor_msgs;
pub mod std_msgs;
pub mod tf2_msgs;

/// Every ROS type name this module decodes.
pub const TYPE_NAMES: &[&str] = &[
    builtin_interfaces::Time::TYPE_NAME,
    builtin_interfaces::Duration::TYPE_NAME,
    std_msgs::Header::TYPE_NAME,
    std_msgs::String::TYPE_NAME,
    std_msgs::Bool::TYPE_NAME,
    std_msgs::Int8::TYPE_NAME,
    std_msgs::Int16::TYPE_NAME,
    std_msgs::Int32::TYPE_NAME,
    std_msgs::Int64::TYPE_NAME,
    std_msgs::UInt8::TYPE_NAME,
    std_msgs::UInt16::TYPE_NAME,
    std_msgs::UInt32::TYPE_NAME,
    std_msgs::UInt64::TYPE_NAME,
    std_msgs::Float32::TYPE_NAME,
    std_msgs::Float64::TYPE_NAME,
    geometry_msgs::Vector3::TYPE_NAME,
    geometry_msgs::Vector3Stamped::TYPE_NAME,
    geometry_msgs::Point::TYPE_NAME,
    geometry_msgs::PointStamped::TYPE_NAME,
    geometry_msgs::Quaternion::TYPE_NAME,
    geometry_msgs::QuaternionStamped::TYPE_NAME,
    geometry_msgs::Pose::TYPE_NAME,
    geometry_msgs::PoseStamped::TYPE_NAME,
    geometry_msgs::PoseWithCovariance::TYPE_NAME,
    geometry_msgs::PoseWithCovarianceStamped::TYPE_NAME,
    geometry_msgs::Twist::TYPE_NAME,
    geometry_msgs::TwistStamped::TYPE_NAME,
    geometry_msgs::TwistWithCovariance::TYPE_NAME,
    geometry_msgs::TwistWithCovarianceStamped::TYPE_NAME,
    geometry_msgs::Accel::TYPE_NAME,
    geometry_msgs::AccelStamped::TYPE_NAME,
    geometry_msgs::AccelWithCovariance::TYPE_NAME,
    geometry_msgs::AccelWithCovarianceStamped::TYPE_NAME,
    geometry_msgs::Wrench::TYPE_NAME,
    geometry_msgs::WrenchStamped::TYPE_NAME,
    geometry_msgs::Transform::TYPE_NAME,
    geometry_msgs::TransformStamped::TYPE_NAME,
    sensor_msgs::Imu::TYPE_NAME,
    sensor_msgs::NavSatStatus::TYPE_NAME,
    sensor_msgs::NavSatFix::TYPE_NAME,
    sensor_msgs::Image::TYPE_NAME,
    sensor_msgs::CompressedImage::TYPE_NAME,
    sensor_msgs::RegionOfInterest::TYPE_NAME,
    sensor_msgs::CameraInfo::TYPE_NAME,
    sensor_msgs::JointState::TYPE_NAME,
    sensor_msgs::BatteryState::TYPE_NAME,
    sensor_msgs::PointField::TYPE_NAME,
    sensor_msgs::PointCloud2::TYPE_NAME,
    sensor_msgs::LaserScan::TYPE_NAME,
    sensor_msgs::MagneticField::TYPE_NAME,
    sensor_msgs::Range::TYPE_NAME,
    sensor_msgs::Temperature::TYPE_NAME,
    sensor_msgs::FluidPressure::TYPE_NAME,
    sensor_msgs::RelativeHumidity::TYPE_NAME,
    sensor_msgs::Illuminance::TYPE_NAME,
    sensor_msgs::Joy::TYPE_NAME,
    nav_msgs::Odometry::TYPE_NAME,
    tf2_msgs::TFMessage::TYPE_NAME,
    nmea_msgs::Sentence::TYPE_NAME,
];

/// Dispatches on a ROS type name to an expression generic over the message type.
macro_rules! with_type {
    ($name:expr, $M:ident => $e:expr) => {{
        use $crate::ros::msgs::*;
        macro_rules! arm {
            ($t:ty) => {{
                type $M = $t;
                Some($e)
            }};
        }
        match $name {
            "builtin_interfaces/msg/Time" => arm!(builtin_interfaces::Time),
            "builtin_interfaces/msg/Duration" => arm!(builtin_interfaces::Duration),
            "std_msgs/msg/Header" => arm!(std_msgs::Header),
            "std_msgs/msg/String" => arm!(std_msgs::String),
            "std_msgs/msg/Bool" => arm!(std_msgs::Bool),
            "std_msgs/msg/Int8" => arm!(std_msgs::Int8),
            "std_msgs/msg/Int16" => arm!(std_msgs::Int16),
            "std_msgs/msg/Int32" => arm!(std_msgs::Int32),
            "std_msgs/msg/Int64" => arm!(std_msgs::Int64),
            "std_msgs/msg/UInt8" => arm!(std_msgs::UInt8),
            "std_msgs/msg/UInt16" => arm!(std_msgs::UInt16),
            "std_msgs/msg/UInt32" => arm!(std_msgs::UInt32),
            "std_msgs/msg/UInt64" => arm!(std_msgs::UInt64),
            "std_msgs/msg/Float32" => arm!(std_msgs::Float32),
            "std_msgs/msg/Float64" => arm!(std_msgs::Float64),
            "geometry_msgs/msg/Vector3" => arm!(geometry_msgs::Vector3),
            "geometry_msgs/msg/Vector3Stamped" => arm!(geometry_msgs::Vector3Stamped),
            "geometry_msgs/msg/Point" => arm!(geometry_msgs::Point),
            "geometry_msgs/msg/PointStamped" => arm!(geometry_msgs::PointStamped),
            "geometry_msgs/msg/Quaternion" => arm!(geometry_msgs::Quaternion),
            "geometry_msgs/msg/QuaternionStamped" => arm!(geometry_msgs::QuaternionStamped),
            "geometry_msgs/msg/Pose" => arm!(geometry_msgs::Pose),
            "geometry_msgs/msg/PoseStamped" => arm!(geometry_msgs::PoseStamped),
            "geometry_msgs/msg/PoseWithCovariance" => arm!(geometry_msgs::PoseWithCovariance),
            "geometry_msgs/msg/PoseWithCovarianceStamped" => {
                arm!(geometry_msgs::PoseWithCovarianceStamped)
            }
            "geometry_msgs/msg/Twist" => arm!(geometry_msgs::Twist),
            "geometry_msgs/msg/TwistStamped" => arm!(geometry_msgs::TwistStamped),
            "geometry_msgs/msg/TwistWithCovariance" => arm!(geometry_msgs::TwistWithCovariance),
            "geometry_msgs/msg/TwistWithCovarianceStamped" => {
                arm!(geometry_msgs::TwistWithCovarianceStamped)
            }
            "geometry_msgs/msg/Accel" => arm!(geometry_msgs::Accel),
            "geometry_msgs/msg/AccelStamped" => arm!(geometry_msgs::AccelStamped),
            "geometry_msgs/msg/AccelWithCovariance" => arm!(geometry_msgs::AccelWithCovariance),
            "geometry_msgs/msg/AccelWithCovarianceStamped" => {
                arm!(geometry_msgs::AccelWithCovarianceStamped)
            }
            "geometry_msgs/msg/Wrench" => arm!(geometry_msgs::Wrench),
            "geometry_msgs/msg/WrenchStamped" => arm!(geometry_msgs::WrenchStamped),
            "geometry_msgs/msg/Transform" => arm!(geometry_msgs::Transform),
            "geometry_msgs/msg/TransformStamped" => arm!(geometry_msgs::TransformStamped),
            "sensor_msgs/msg/Imu" => arm!(sensor_msgs::Imu),
            "sensor_msgs/msg/NavSatStatus" => arm!(sensor_msgs::NavSatStatus),
            "sensor_msgs/msg/NavSatFix" => arm!(sensor_msgs::NavSatFix),
            "sensor_msgs/msg/Image" => arm!(sensor_msgs::Image),
            "sensor_msgs/msg/CompressedImage" => arm!(sensor_msgs::CompressedImage),
            "sensor_msgs/msg/RegionOfInterest" => arm!(sensor_msgs::RegionOfInterest),
            "sensor_msgs/msg/CameraInfo" => arm!(sensor_msgs::CameraInfo),
            "sensor_msgs/msg/JointState" => arm!(sensor_msgs::JointState),
            "sensor_msgs/msg/BatteryState" => arm!(sensor_msgs::BatteryState),
            "sensor_msgs/msg/PointField" => arm!(sensor_msgs::PointField),
            "sensor_msgs/msg/PointCloud2" => arm!(sensor_msgs::PointCloud2),
            "sensor_msgs/msg/LaserScan" => arm!(sensor_msgs::LaserScan),
            "sensor_msgs/msg/MagneticField" => arm!(sensor_msgs::MagneticField),
            "sensor_msgs/msg/Range" => arm!(sensor_msgs::Range),
            "sensor_msgs/msg/Temperature" => arm!(sensor_msgs::Temperature),
            "sensor_msgs/msg/FluidPressure" => arm!(sensor_msgs::FluidPressure),
            "sensor_msgs/msg/RelativeHumidity" => arm!(sensor_msgs::RelativeHumidity),
            "sensor_msgs/msg/Illuminance" => arm!(sensor_msgs::Illuminance),
            "sensor_msgs/msg/Joy" => arm!(sensor_msgs::Joy),
            "nav_msgs/msg/Odometry" => arm!(nav_msgs::Odometry),
            "tf2_msgs/msg/TFMessage" => arm!(tf2_msgs::TFMessage),
            "nmea_msgs/msg/Sentence" => arm!(nmea_msgs::Sentence),
            _ => None,
        }
    }};
}
#[allow(unused_imports)]
pub(crate) use with_type;

/// Decodes `data` as `ros_type` and renders it as JSON (field names as in the `.msg`), or `None`
/// for a type this module does not know. Used by tests and diagnostics.
pub fn decode_to_json(ros_type: &str, data: &[u8]) -> Option<Result<serde_json::Value, RosError>> {
    fn j<M: RosMessage + serde::Serialize>(data: &[u8]) -> Result<serde_json::Value, RosError> {
        let m = M::from_cdr(data)?;
        serde_json::to_value(&m).map_err(|e| RosError::InvalidMessage {
            ros_type: M::TYPE_NAME,
            detail: e.to_string(),
        })
    }
    with_type!(ros_type, M => j::<M>(data))
}

/// Decodes then re-encodes `data` as `ros_type` (same byte order); `None` for an unknown type.
pub fn reencode(ros_type: &str, data: &[u8]) -> Option<Result<Vec<u8>, RosError>> {
    fn re<M: RosMessage>(data: &[u8]) -> Result<Vec<u8>, RosError> {
        let endian = Endian::from_header(data)?;
        Ok(M::from_cdr(data)?.to_cdr(endian))
    }
    with_type!(ros_type, M => re::<M>(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_a_definition() {
        for t in TYPE_NAMES {
            let d = definition(t).unwrap_or_else(|| panic!("no definition for {t}"));
            assert!(!d.trim().is_empty(), "{t}");
        }
        assert!(sensor_msgs::Imu::definition().starts_with("std_msgs/Header header\n"));
        assert!(sensor_msgs::Imu::definition().contains("MSG: geometry_msgs/Quaternion\n"));
    }
}
