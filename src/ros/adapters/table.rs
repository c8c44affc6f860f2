//! The tables, one per direction: ROS type → (ontology class, decoder) for ingest; ROS type →
//! encoder for replay and export; ontology tag → ROS type for topics written without ROS metadata
//! (the official SDK, other uploaders). Each family's decoder and encoder live side by side in
//! [`super::family`].

use super::family::{
    battery, camera_info, frame_transform, geometry as geo, gps, image, imu, joint_state, joy,
    laser_scan, magnetometer, motion_state, nmea, point_cloud, range, std_scalars as scalar, time,
    value, Encoder,
};
use super::{AdapterOptions, Convert};
use crate::ontology::Ontology;
use crate::protocol::Generation;
use crate::ros::msgs::sensor_msgs as sm;
use crate::ros::msgs::std_msgs as stdm;
use crate::ros::msgs::{nav_msgs, tf2_msgs, RosMessage};

/// (ontology class, conversion) for `ros_type`, or `None` when it has no typed mapping.
pub(crate) fn build(
    ros_type: &str,
    gen: Generation,
    opts: &AdapterOptions,
) -> Option<(&'static str, Box<dyn Convert>)> {
    use Generation::Current;
    Some(match ros_type {
        // std_msgs
        "std_msgs/msg/String" => ("String", scalar::string(gen)),
        "std_msgs/msg/Bool" => ("Boolean", scalar::bool(gen)),
        "std_msgs/msg/Int8" => ("Integer8", scalar::int8(gen)),
        "std_msgs/msg/Int16" => ("Integer16", scalar::int16(gen)),
        "std_msgs/msg/Int32" => ("Integer32", scalar::int32(gen)),
        "std_msgs/msg/Int64" => ("Integer64", scalar::int64(gen)),
        "std_msgs/msg/UInt8" => ("Unsigned8", scalar::uint8(gen)),
        "std_msgs/msg/UInt16" => ("Unsigned16", scalar::uint16(gen)),
        "std_msgs/msg/UInt32" => ("Unsigned32", scalar::uint32(gen)),
        "std_msgs/msg/UInt64" => ("Unsigned64", scalar::uint64(gen)),
        "std_msgs/msg/Float32" => ("Floating32", scalar::float32(gen)),
        "std_msgs/msg/Float64" => ("Floating64", scalar::float64(gen)),
        "std_msgs/msg/Header" if gen == Current => ("Header", time::header(gen)),
        "builtin_interfaces/msg/Time" if gen == Current => ("Time", time::time(gen)),
        "builtin_interfaces/msg/Duration" if gen == Current => ("Duration", time::duration(gen)),

        // geometry_msgs
        "geometry_msgs/msg/Vector3" => ("Vector3d", geo::vector3(gen)),
        "geometry_msgs/msg/Vector3Stamped" => ("Vector3d", geo::vector3_stamped(gen)),
        "geometry_msgs/msg/Point" => ("Point3d", geo::point(gen)),
        "geometry_msgs/msg/PointStamped" => ("Point3d", geo::point_stamped(gen)),
        "geometry_msgs/msg/Quaternion" => ("Quaternion", geo::quaternion(gen)),
        "geometry_msgs/msg/QuaternionStamped" => ("Quaternion", geo::quaternion_stamped(gen)),
        "geometry_msgs/msg/Pose" => ("Pose", geo::pose(gen)),
        "geometry_msgs/msg/PoseStamped" => ("Pose", geo::pose_stamped(gen)),
        "geometry_msgs/msg/PoseWithCovariance" => ("Pose", geo::pose_with_covariance(gen)),
        "geometry_msgs/msg/PoseWithCovarianceStamped" => {
            ("Pose", geo::pose_with_covariance_stamped(gen))
        }
        "geometry_msgs/msg/Twist" => ("Velocity", geo::twist(gen)),
        "geometry_msgs/msg/TwistStamped" => ("Velocity", geo::twist_stamped(gen)),
        "geometry_msgs/msg/TwistWithCovariance" => ("Velocity", geo::twist_with_covariance(gen)),
        "geometry_msgs/msg/TwistWithCovarianceStamped" => {
            ("Velocity", geo::twist_with_covariance_stamped(gen))
        }
        "geometry_msgs/msg/Accel" => ("Acceleration", geo::accel(gen)),
        "geometry_msgs/msg/AccelStamped" => ("Acceleration", geo::accel_stamped(gen)),
        "geometry_msgs/msg/AccelWithCovariance" => {
            ("Acceleration", geo::accel_with_covariance(gen))
        }
        "geometry_msgs/msg/AccelWithCovarianceStamped" => {
            ("Acceleration", geo::accel_with_covariance_stamped(gen))
        }
        "geometry_msgs/msg/Wrench" => ("ForceTorque", geo::wrench(gen)),
        "geometry_msgs/msg/WrenchStamped" => ("ForceTorque", geo::wrench_stamped(gen)),
        "geometry_msgs/msg/Transform" => ("Transform", geo::transform(gen)),
        "geometry_msgs/msg/TransformStamped" => ("Transform", geo::transform_stamped(gen)),
        "tf2_msgs/msg/TFMessage" => ("FrameTransform", frame_transform::decoder(gen)),
        "nav_msgs/msg/Odometry" => ("MotionState", motion_state::decoder(gen)),

        // sensor_msgs
        "sensor_msgs/msg/Imu" => ("IMU", imu::decoder(gen)),
        "sensor_msgs/msg/NavSatFix" => ("GPS", gps::nav_sat_fix(gen)),
        "sensor_msgs/msg/NavSatStatus" => ("GPSStatus", gps::nav_sat_status(gen)),
        "sensor_msgs/msg/Image" => image::image(gen, opts.image),
        "sensor_msgs/msg/CompressedImage" => ("CompressedImage", image::compressed_image(gen)),
        "sensor_msgs/msg/CameraInfo" => ("CameraInfo", camera_info::camera_info(gen)),
        "sensor_msgs/msg/RegionOfInterest" => ("ROI", camera_info::region_of_interest(gen)),
        "sensor_msgs/msg/JointState" => ("RobotJoint", joint_state::decoder(gen)),
        "sensor_msgs/msg/BatteryState" => ("BatteryState", battery::decoder(gen)),
        "nmea_msgs/msg/Sentence" => ("NMEASentence", nmea::decoder(gen)),
        "sensor_msgs/msg/MagneticField" => ("Magnetometer", magnetometer::decoder(gen)),
        "sensor_msgs/msg/PointCloud2" => ("PointCloud2", point_cloud::decoder(gen)),
        "sensor_msgs/msg/LaserScan" => ("LaserScan", laser_scan::decoder(gen)),
        "sensor_msgs/msg/Range" => ("Range", range::decoder(gen)),
        "sensor_msgs/msg/Temperature" => ("Temperature", value::temperature(gen)),
        "sensor_msgs/msg/FluidPressure" => ("Pressure", value::fluid_pressure(gen)),
        "sensor_msgs/msg/RelativeHumidity" => ("Humidity", value::relative_humidity(gen)),
        "sensor_msgs/msg/Illuminance" => ("Illumination", value::illuminance(gen)),
        "sensor_msgs/msg/Joy" => ("Joy", joy::decoder(gen)),
        _ => return None,
    })
}

/// The encoder of `ros_type`, or `None` when replay of its typed rows is not supported yet.
pub fn encoder_for(ros_type: &str) -> Option<Encoder> {
    Some(match ros_type {
        "std_msgs/msg/String" => scalar::encode_string,
        "std_msgs/msg/Bool" => scalar::encode_bool,
        "std_msgs/msg/Int8" => scalar::encode_int8,
        "std_msgs/msg/Int16" => scalar::encode_int16,
        "std_msgs/msg/Int32" => scalar::encode_int32,
        "std_msgs/msg/Int64" => scalar::encode_int64,
        "std_msgs/msg/UInt8" => scalar::encode_uint8,
        "std_msgs/msg/UInt16" => scalar::encode_uint16,
        "std_msgs/msg/UInt32" => scalar::encode_uint32,
        "std_msgs/msg/UInt64" => scalar::encode_uint64,
        "std_msgs/msg/Float32" => scalar::encode_float32,
        "std_msgs/msg/Float64" => scalar::encode_float64,
        "std_msgs/msg/Header" => time::encode_header,
        "builtin_interfaces/msg/Time" => time::encode_time,
        "builtin_interfaces/msg/Duration" => time::encode_duration,

        "geometry_msgs/msg/Vector3" => geo::encode_vector3,
        "geometry_msgs/msg/Vector3Stamped" => geo::encode_vector3_stamped,
        "geometry_msgs/msg/Point" => geo::encode_point,
        "geometry_msgs/msg/PointStamped" => geo::encode_point_stamped,
        "geometry_msgs/msg/Quaternion" => geo::encode_quaternion,
        "geometry_msgs/msg/QuaternionStamped" => geo::encode_quaternion_stamped,
        "geometry_msgs/msg/Pose" => geo::encode_pose,
        "geometry_msgs/msg/PoseStamped" => geo::encode_pose_stamped,
        "geometry_msgs/msg/PoseWithCovariance" => geo::encode_pose_with_covariance,
        "geometry_msgs/msg/PoseWithCovarianceStamped" => geo::encode_pose_with_covariance_stamped,
        "geometry_msgs/msg/Twist" => geo::encode_twist,
        "geometry_msgs/msg/TwistStamped" => geo::encode_twist_stamped,
        "geometry_msgs/msg/TwistWithCovariance" => geo::encode_twist_with_covariance,
        "geometry_msgs/msg/TwistWithCovarianceStamped" => geo::encode_twist_with_covariance_stamped,
        "geometry_msgs/msg/Accel" => geo::encode_accel,
        "geometry_msgs/msg/AccelStamped" => geo::encode_accel_stamped,
        "geometry_msgs/msg/AccelWithCovariance" => geo::encode_accel_with_covariance,
        "geometry_msgs/msg/AccelWithCovarianceStamped" => geo::encode_accel_with_covariance_stamped,
        "geometry_msgs/msg/Wrench" => geo::encode_wrench,
        "geometry_msgs/msg/WrenchStamped" => geo::encode_wrench_stamped,
        "geometry_msgs/msg/Transform" => geo::encode_transform,
        "geometry_msgs/msg/TransformStamped" => geo::encode_transform_stamped,
        "tf2_msgs/msg/TFMessage" => frame_transform::encode,
        "nav_msgs/msg/Odometry" => motion_state::encode,

        "sensor_msgs/msg/Imu" => imu::encode,
        "sensor_msgs/msg/NavSatFix" => gps::encode_nav_sat_fix,
        "sensor_msgs/msg/NavSatStatus" => gps::encode_nav_sat_status,
        "sensor_msgs/msg/Image" => image::encode_image,
        "sensor_msgs/msg/CompressedImage" => image::encode_compressed_image,
        "sensor_msgs/msg/CameraInfo" => camera_info::encode_camera_info,
        "sensor_msgs/msg/RegionOfInterest" => camera_info::encode_region_of_interest,
        "sensor_msgs/msg/JointState" => joint_state::encode,
        "sensor_msgs/msg/BatteryState" => battery::encode,
        "nmea_msgs/msg/Sentence" => nmea::encode,
        "sensor_msgs/msg/Range" => range::encode,
        "sensor_msgs/msg/MagneticField" => magnetometer::encode,
        "sensor_msgs/msg/PointCloud2" => point_cloud::encode,
        "sensor_msgs/msg/LaserScan" => laser_scan::encode,
        "sensor_msgs/msg/Temperature" => value::encode_temperature,
        "sensor_msgs/msg/FluidPressure" => value::encode_fluid_pressure,
        "sensor_msgs/msg/RelativeHumidity" => value::encode_relative_humidity,
        "sensor_msgs/msg/Illuminance" => value::encode_illuminance,
        "sensor_msgs/msg/Joy" => joy::encode,
        _ => return None,
    })
}

/// The SDK class of an ontology tag, in either generation's spelling, built-in or extension.
pub fn class_of_tag(tag: &str) -> Option<&'static str> {
    [Generation::Current, Generation::Legacy]
        .into_iter()
        .flat_map(|g| [Ontology::for_generation(g), Ontology::extensions(g)])
        .find_map(|o| o.get(tag))
        .map(|t| t.class.as_str())
}

/// The ROS type a topic written by another client replays as, from its ontology tag.
pub fn ros_type_of_tag(tag: &str) -> Option<&'static str> {
    Some(match class_of_tag(tag)? {
        "IMU" => sm::Imu::TYPE_NAME,
        "GPS" => sm::NavSatFix::TYPE_NAME,
        "Image" => sm::Image::TYPE_NAME,
        "CompressedImage" => sm::CompressedImage::TYPE_NAME,
        "FrameTransform" => tf2_msgs::TFMessage::TYPE_NAME,
        "MotionState" => nav_msgs::Odometry::TYPE_NAME,
        "PointCloud2" => sm::PointCloud2::TYPE_NAME,
        "LaserScan" => sm::LaserScan::TYPE_NAME,
        "Magnetometer" => sm::MagneticField::TYPE_NAME,
        "Temperature" => sm::Temperature::TYPE_NAME,
        "Pressure" => sm::FluidPressure::TYPE_NAME,
        "Humidity" => sm::RelativeHumidity::TYPE_NAME,
        "Illumination" => sm::Illuminance::TYPE_NAME,
        "String" => stdm::String::TYPE_NAME,
        "Boolean" => stdm::Bool::TYPE_NAME,
        "Floating64" => stdm::Float64::TYPE_NAME,
        "Floating32" => stdm::Float32::TYPE_NAME,
        "Integer8" => stdm::Int8::TYPE_NAME,
        "Integer16" => stdm::Int16::TYPE_NAME,
        "Integer32" => stdm::Int32::TYPE_NAME,
        "Integer64" => stdm::Int64::TYPE_NAME,
        "Unsigned8" => stdm::UInt8::TYPE_NAME,
        "Unsigned16" => stdm::UInt16::TYPE_NAME,
        "Unsigned32" => stdm::UInt32::TYPE_NAME,
        "Unsigned64" => stdm::UInt64::TYPE_NAME,
        "Header" => stdm::Header::TYPE_NAME,
        "Time" => crate::ros::msgs::builtin_interfaces::Time::TYPE_NAME,
        "Duration" => crate::ros::msgs::builtin_interfaces::Duration::TYPE_NAME,
        "GPSStatus" => sm::NavSatStatus::TYPE_NAME,
        "CameraInfo" => sm::CameraInfo::TYPE_NAME,
        "ROI" => sm::RegionOfInterest::TYPE_NAME,
        "RobotJoint" => sm::JointState::TYPE_NAME,
        "BatteryState" => sm::BatteryState::TYPE_NAME,
        "NMEASentence" => crate::ros::msgs::nmea_msgs::Sentence::TYPE_NAME,
        "Range" => sm::Range::TYPE_NAME,
        "Joy" => sm::Joy::TYPE_NAME,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ros::adapters::{adapter_for, rows::Flat};
    use crate::ros::cdr::{Array, Endian};
    use crate::ros::msgs::geometry_msgs as gm;

    /// Every class the table names is an ontology class, reachable from both generations' tags.
    #[test]
    fn tags_of_both_generations_name_a_ros_type() {
        for class in [
            "IMU",
            "GPS",
            "Image",
            "FrameTransform",
            "PointCloud2",
            "RosMessageCdr",
        ] {
            for gen in [Generation::Legacy, Generation::Current] {
                let ty = crate::ontology::Ontology::class_or_extension(gen, class)
                    .unwrap_or_else(|| panic!("{class} on {gen}"));
                assert_eq!(class_of_tag(&ty.tag), Some(class), "{} on {gen}", ty.tag);
                assert_eq!(ros_type_of_tag(&ty.tag).is_some(), class != "RosMessageCdr");
            }
        }
    }

    /// One list per direction, and neither may forget a type: every ROS type with a typed mapping
    /// on some generation has an encoder, and every ontology tag the tag table knows replays as a
    /// ROS type that decodes back into that tag's class.
    #[test]
    fn every_typed_ros_type_has_an_encoder() {
        let opts = AdapterOptions::default();
        let mut missing = Vec::new();
        let mut typed = 0;
        for ty in crate::ros::msgs::TYPE_NAMES {
            for gen in [Generation::Legacy, Generation::Current] {
                let Some((class, _)) = build(ty, gen, &opts) else {
                    continue;
                };
                typed += 1;
                if encoder_for(ty).is_none() {
                    missing.push(format!("{ty} ({class} on {gen})"));
                }
                let ty_tag = &Ontology::class_or_extension(gen, class).unwrap().tag;
                if let Some(back) = ros_type_of_tag(ty_tag) {
                    let (back_class, _) = build(back, gen, &opts)
                        .unwrap_or_else(|| panic!("tag {ty_tag} replays as {back}, not typed"));
                    assert_eq!(back_class, class, "tag {ty_tag} replays as {back}");
                }
            }
        }
        assert!(missing.is_empty(), "typed without an encoder: {missing:?}");
        assert!(typed > 100, "{typed}");
    }

    /// decode → encode gives back the bytes for the types whose mapping is lossless.
    #[test]
    fn typed_rows_encode_back_to_the_received_bytes() {
        let imu = sm::Imu {
            header: stdm::Header {
                stamp: crate::ros::msgs::builtin_interfaces::Time { sec: 7, nanosec: 9 },
                frame_id: "imu".into(),
            },
            orientation: gm::Quaternion {
                x: 0.0,
                y: 0.0,
                z: 0.0,
                w: 1.0,
            },
            linear_acceleration: gm::Vector3 {
                x: 1.0,
                y: -2.0,
                z: 9.81,
            },
            linear_acceleration_covariance: Array([0.1, 0.0, 0.0, 0.0, 0.1, 0.0, 0.0, 0.0, 0.1]),
            ..Default::default()
        };
        let tf = tf2_msgs::TFMessage {
            transforms: vec![
                gm::TransformStamped {
                    child_frame_id: "a".into(),
                    ..Default::default()
                },
                gm::TransformStamped {
                    child_frame_id: "b".into(),
                    transform: gm::Transform {
                        translation: gm::Vector3 {
                            x: 1.0,
                            y: 2.0,
                            z: 3.0,
                        },
                        rotation: gm::Quaternion {
                            w: 1.0,
                            ..Default::default()
                        },
                    },
                    ..Default::default()
                },
            ],
        };
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (sm::Imu::TYPE_NAME, imu.to_cdr(Endian::Little)),
            (tf2_msgs::TFMessage::TYPE_NAME, tf.to_cdr(Endian::Little)),
            (
                stdm::String::TYPE_NAME,
                stdm::String { data: "hi".into() }.to_cdr(Endian::Little),
            ),
        ];
        for gen in [Generation::Legacy, Generation::Current] {
            for (ty, bytes) in &cases {
                let mut a = adapter_for(ty, gen).unwrap();
                a.push(1, bytes).unwrap();
                let batch = a.finish().unwrap();
                let flat = Flat::new(&batch);
                let enc = encoder_for(ty).unwrap();
                assert_eq!(&enc(&flat.row(0)).unwrap(), bytes, "{ty} on {gen}");
            }
        }
    }
}
