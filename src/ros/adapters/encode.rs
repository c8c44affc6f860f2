//! Ontology rows → ROS 2 CDR: the inverse of the adapters, for replay and export.
//!
//! [`encoder_for`] gives the encoder of a ROS type; [`ros_type_of_tag`] the ROS type of a topic
//! written without ROS metadata (the official SDK, other uploaders). Raw-CDR topics need no encoder:
//! their `data` column is the message as received. What comes back byte-exact is documented per
//! type in the README ("Exporting to rosbag2 bags").

use super::rows::Row;
use crate::ontology::Ontology;
use crate::protocol::Generation;
use crate::ros::cdr::{Array, Endian};
use crate::ros::msgs::geometry_msgs as gm;
use crate::ros::msgs::sensor_msgs as sm;
use crate::ros::msgs::std_msgs as stdm;
use crate::ros::msgs::{nav_msgs, tf2_msgs, RosMessage};

/// Encodes one row as CDR (little endian, encapsulation header included), or says why it cannot.
pub type Encoder = fn(&Row<'_>) -> Result<Vec<u8>, String>;

fn cdr<M: RosMessage>(m: M) -> Result<Vec<u8>, String> {
    Ok(m.to_cdr(Endian::Little))
}

/// [`cdr`] for messages carrying a blob of `blob` bytes: the buffer is sized once, not grown by
/// doubling (each doubling of a multi-megabyte buffer is a copy and fresh pages to fault in).
fn cdr_sized<M: RosMessage>(m: M, blob: usize) -> Result<Vec<u8>, String> {
    let mut w = crate::ros::cdr::CdrWriter::with_capacity(Endian::Little, blob + 512);
    crate::ros::cdr::CdrCodec::write(&m, &mut w);
    Ok(w.finish())
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
        _ => return None,
    })
}

/// The encoder of `ros_type`, or `None` when replay of its typed rows is not supported yet.
pub fn encoder_for(ros_type: &str) -> Option<Encoder> {
    Some(match ros_type {
        "sensor_msgs/msg/Imu" => imu,
        "sensor_msgs/msg/NavSatFix" => nav_sat_fix,
        "sensor_msgs/msg/Image" => image,
        "sensor_msgs/msg/CompressedImage" => compressed_image,
        "tf2_msgs/msg/TFMessage" => tf_message,
        "nav_msgs/msg/Odometry" => odometry,
        "sensor_msgs/msg/PointCloud2" => point_cloud,
        "sensor_msgs/msg/LaserScan" => laser_scan,
        "sensor_msgs/msg/MagneticField" => magnetic_field,
        "sensor_msgs/msg/Temperature" => |r| {
            let (header, v, var) = value(r);
            // stored in kelvin
            cdr(sm::Temperature {
                header,
                temperature: v - 273.15,
                variance: var,
            })
        },
        "sensor_msgs/msg/FluidPressure" => |r| {
            let (header, fluid_pressure, variance) = value(r);
            cdr(sm::FluidPressure {
                header,
                fluid_pressure,
                variance,
            })
        },
        "sensor_msgs/msg/RelativeHumidity" => |r| {
            let (header, relative_humidity, variance) = value(r);
            cdr(sm::RelativeHumidity {
                header,
                relative_humidity,
                variance,
            })
        },
        "sensor_msgs/msg/Illuminance" => |r| {
            let (header, illuminance, variance) = value(r);
            cdr(sm::Illuminance {
                header,
                illuminance,
                variance,
            })
        },
        "geometry_msgs/msg/Vector3" => |r| cdr(r.vector3("")),
        "geometry_msgs/msg/Vector3Stamped" => |r| {
            cdr(gm::Vector3Stamped {
                header: r.header("header"),
                vector: r.vector3(""),
            })
        },
        "geometry_msgs/msg/Point" => |r| cdr(r.point("")),
        "geometry_msgs/msg/PointStamped" => |r| {
            cdr(gm::PointStamped {
                header: r.header("header"),
                point: r.point(""),
            })
        },
        "geometry_msgs/msg/Quaternion" => |r| cdr(r.quaternion("")),
        "geometry_msgs/msg/QuaternionStamped" => |r| {
            cdr(gm::QuaternionStamped {
                header: r.header("header"),
                quaternion: r.quaternion(""),
            })
        },
        "geometry_msgs/msg/Pose" => |r| cdr(pose(r)),
        "geometry_msgs/msg/PoseStamped" => |r| {
            cdr(gm::PoseStamped {
                header: r.header("header"),
                pose: pose(r),
            })
        },
        "geometry_msgs/msg/PoseWithCovariance" => |r| cdr(pose_cov(r)),
        "geometry_msgs/msg/PoseWithCovarianceStamped" => |r| {
            cdr(gm::PoseWithCovarianceStamped {
                header: r.header("header"),
                pose: pose_cov(r),
            })
        },
        "geometry_msgs/msg/Twist" => |r| cdr(twist(r, "linear", "angular")),
        "geometry_msgs/msg/TwistStamped" => |r| {
            cdr(gm::TwistStamped {
                header: r.header("header"),
                twist: twist(r, "linear", "angular"),
            })
        },
        "geometry_msgs/msg/TwistWithCovariance" => |r| {
            cdr(gm::TwistWithCovariance {
                twist: twist(r, "linear", "angular"),
                covariance: Array(r.cov("covariance")),
            })
        },
        "geometry_msgs/msg/TwistWithCovarianceStamped" => |r| {
            cdr(gm::TwistWithCovarianceStamped {
                header: r.header("header"),
                twist: gm::TwistWithCovariance {
                    twist: twist(r, "linear", "angular"),
                    covariance: Array(r.cov("covariance")),
                },
            })
        },
        "geometry_msgs/msg/Accel" => |r| cdr(accel(r)),
        "geometry_msgs/msg/AccelStamped" => |r| {
            cdr(gm::AccelStamped {
                header: r.header("header"),
                accel: accel(r),
            })
        },
        "geometry_msgs/msg/AccelWithCovariance" => |r| {
            cdr(gm::AccelWithCovariance {
                accel: accel(r),
                covariance: Array(r.cov("covariance")),
            })
        },
        "geometry_msgs/msg/AccelWithCovarianceStamped" => |r| {
            cdr(gm::AccelWithCovarianceStamped {
                header: r.header("header"),
                accel: gm::AccelWithCovariance {
                    accel: accel(r),
                    covariance: Array(r.cov("covariance")),
                },
            })
        },
        "geometry_msgs/msg/Wrench" => |r| cdr(wrench(r)),
        "geometry_msgs/msg/WrenchStamped" => |r| {
            cdr(gm::WrenchStamped {
                header: r.header("header"),
                wrench: wrench(r),
            })
        },
        "geometry_msgs/msg/Transform" => |r| {
            cdr(gm::Transform {
                translation: r.vector3("translation"),
                rotation: r.quaternion("rotation"),
            })
        },
        "geometry_msgs/msg/TransformStamped" => |r| {
            cdr(gm::TransformStamped {
                header: r.header("header"),
                child_frame_id: r.string("target_frame_id"),
                transform: gm::Transform {
                    translation: r.vector3("translation"),
                    rotation: r.quaternion("rotation"),
                },
            })
        },
        "sensor_msgs/msg/JointState" => |r| {
            cdr(sm::JointState {
                header: r.header("header"),
                name: r.strings("names"),
                position: r.f64s("positions"),
                velocity: r.f64s("velocities"),
                effort: r.f64s("efforts"),
            })
        },
        "sensor_msgs/msg/Joy" => |r| {
            cdr(sm::Joy {
                header: r.header("header"),
                axes: r.f32s("axes"),
                buttons: r.i32s("buttons"),
            })
        },
        "std_msgs/msg/String" => |r| {
            cdr(stdm::String {
                data: r.string("data"),
            })
        },
        "std_msgs/msg/Bool" => |r| {
            cdr(stdm::Bool {
                data: r.bool("data"),
            })
        },
        "std_msgs/msg/Float64" => |r| {
            cdr(stdm::Float64 {
                data: r.f64("data"),
            })
        },
        _ => return None,
    })
}

fn imu(r: &Row<'_>) -> Result<Vec<u8>, String> {
    // a null orientation is REP 145's "no estimate": covariance[0] = -1
    let (orientation, orientation_covariance) = if r.present("orientation") {
        (r.quaternion("orientation"), r.cov("orientation.covariance"))
    } else {
        let mut c = [0.0; 9];
        c[0] = -1.0;
        (gm::Quaternion::default(), c)
    };
    cdr(sm::Imu {
        header: r.header("header"),
        orientation,
        orientation_covariance: Array(orientation_covariance),
        angular_velocity: r.vector3("angular_velocity"),
        angular_velocity_covariance: Array(r.cov("angular_velocity.covariance")),
        linear_acceleration: r.vector3("acceleration"),
        linear_acceleration_covariance: Array(r.cov("acceleration.covariance")),
    })
}

fn nav_sat_fix(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(sm::NavSatFix {
        header: r.header("header"),
        status: if r.present("status") {
            sm::NavSatStatus {
                status: r.i8("status.status"),
                service: r.u16("status.service"),
            }
        } else {
            sm::NavSatStatus {
                status: -2, // STATUS_UNKNOWN
                service: 0,
            }
        },
        latitude: r.f64("position.x"),
        longitude: r.f64("position.y"),
        altitude: r.f64("position.z"),
        position_covariance: Array(r.cov("position.covariance")),
        position_covariance_type: r.u8("position.covariance_type"),
    })
}

fn image(r: &Row<'_>) -> Result<Vec<u8>, String> {
    let format = r.string("format");
    if !(format.is_empty() || format == "raw") {
        return Err(format!(
            "the frame is stored compressed ({format}); replay it as sensor_msgs/msg/CompressedImage with --type TOPIC=sensor_msgs/msg/CompressedImage"
        ));
    }
    let data = r.shared_bytes("data");
    let blob = data.len();
    cdr_sized(
        sm::Image {
            header: r.header("header"),
            height: r.u32("height"),
            width: r.u32("width"),
            encoding: r.string("encoding"),
            is_bigendian: r.bool("is_bigendian") as u8,
            step: r.u32("stride"),
            data,
        },
        blob,
    )
}

fn compressed_image(r: &Row<'_>) -> Result<Vec<u8>, String> {
    let data = r.shared_bytes("data");
    let blob = data.len();
    cdr_sized(
        sm::CompressedImage {
            header: r.header("header"),
            format: r.string("format"),
            data,
        },
        blob,
    )
}

fn transform(r: &Row<'_>) -> gm::TransformStamped {
    gm::TransformStamped {
        header: r.header("transforms.item.header"),
        child_frame_id: r.string("transforms.item.target_frame_id"),
        transform: gm::Transform {
            translation: r.vector3("transforms.item.translation"),
            rotation: r.quaternion("transforms.item.rotation"),
        },
    }
}

fn tf_message(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(tf2_msgs::TFMessage {
        transforms: r.items("transforms").map(|t| transform(&t)).collect(),
    })
}

fn odometry(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(nav_msgs::Odometry {
        header: r.header("header"),
        child_frame_id: r.string("target_frame_id"),
        pose: gm::PoseWithCovariance {
            pose: gm::Pose {
                position: r.point("pose.position"),
                orientation: r.quaternion("pose.orientation"),
            },
            covariance: Array(r.cov("pose.covariance")),
        },
        twist: gm::TwistWithCovariance {
            twist: gm::Twist {
                linear: r.vector3("velocity.linear"),
                angular: r.vector3("velocity.angular"),
            },
            covariance: Array(r.cov("velocity.covariance")),
        },
    })
}

fn point_cloud(r: &Row<'_>) -> Result<Vec<u8>, String> {
    let fields = r
        .items("fields")
        .map(|f| sm::PointField {
            name: f.string("fields.item.name"),
            offset: f.u32("fields.item.offset"),
            datatype: f.u8("fields.item.datatype"),
            count: f.u32("fields.item.count"),
        })
        .collect();
    let data = r.shared_bytes("data");
    let blob = data.len();
    cdr_sized(
        sm::PointCloud2 {
            header: r.header("header"),
            height: r.u32("height"),
            width: r.u32("width"),
            fields,
            is_bigendian: r.bool("is_bigendian"),
            point_step: r.u32("point_step"),
            row_step: r.u32("row_step"),
            data,
            is_dense: r.bool("is_dense"),
        },
        blob,
    )
}

fn laser_scan(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(sm::LaserScan {
        header: r.header("header"),
        angle_min: r.f32("angle_min"),
        angle_max: r.f32("angle_max"),
        angle_increment: r.f32("angle_increment"),
        time_increment: r.f32("time_increment"),
        scan_time: r.f32("scan_time"),
        range_min: r.f32("range_min"),
        range_max: r.f32("range_max"),
        ranges: r.f32s("ranges"),
        intensities: r.f32s("intensities"),
    })
}

fn magnetic_field(r: &Row<'_>) -> Result<Vec<u8>, String> {
    // stored in microtesla (variances ×1e12): back to tesla
    const UT: f64 = 1e6;
    let v = r.vector3("magnetic_field");
    let c: [f64; 9] = r.cov("magnetic_field.covariance");
    cdr(sm::MagneticField {
        header: r.header("header"),
        magnetic_field: gm::Vector3 {
            x: v.x / UT,
            y: v.y / UT,
            z: v.z / UT,
        },
        magnetic_field_covariance: Array(c.map(|x| x / (UT * UT))),
    })
}

fn pose(r: &Row<'_>) -> gm::Pose {
    gm::Pose {
        position: r.point("position"),
        orientation: r.quaternion("orientation"),
    }
}

fn pose_cov(r: &Row<'_>) -> gm::PoseWithCovariance {
    gm::PoseWithCovariance {
        pose: pose(r),
        covariance: Array(r.cov("covariance")),
    }
}

fn twist(r: &Row<'_>, a: &str, b: &str) -> gm::Twist {
    gm::Twist {
        linear: r.vector3(a),
        angular: r.vector3(b),
    }
}

fn accel(r: &Row<'_>) -> gm::Accel {
    let t = twist(r, "linear", "angular");
    gm::Accel {
        linear: t.linear,
        angular: t.angular,
    }
}

fn wrench(r: &Row<'_>) -> gm::Wrench {
    gm::Wrench {
        force: r.vector3("force"),
        torque: r.vector3("torque"),
    }
}

/// (header, value, variance) of the scalar-measurement family; a null variance is 0, unknown.
fn value(r: &Row<'_>) -> (stdm::Header, f64, f64) {
    (
        r.header("header"),
        r.f64("value"),
        r.opt_f64("variance").unwrap_or(0.0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ros::adapters::{adapter_for, rows::Flat};

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
