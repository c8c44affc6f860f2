//! `geometry_msgs`: vectors, poses, twists, accelerations, wrenches, transforms and their Stamped
//! and WithCovariance forms.

use super::std_msgs::Header;
use crate::ros::cdr::Array;

ros_message! { Vector3 = "geometry_msgs/msg/Vector3" { x: f64, y: f64, z: f64 } }
ros_message! { Point = "geometry_msgs/msg/Point" { x: f64, y: f64, z: f64 } }
ros_message! { Quaternion = "geometry_msgs/msg/Quaternion" { x: f64, y: f64, z: f64, w: f64 } }
ros_message! { Vector3Stamped = "geometry_msgs/msg/Vector3Stamped" { header: Header, vector: Vector3 } }
ros_message! { PointStamped = "geometry_msgs/msg/PointStamped" { header: Header, point: Point } }
ros_message! { QuaternionStamped = "geometry_msgs/msg/QuaternionStamped" { header: Header, quaternion: Quaternion } }

ros_message! { Pose = "geometry_msgs/msg/Pose" { position: Point, orientation: Quaternion } }
ros_message! { PoseStamped = "geometry_msgs/msg/PoseStamped" { header: Header, pose: Pose } }
ros_message! { PoseWithCovariance = "geometry_msgs/msg/PoseWithCovariance" { pose: Pose, covariance: Array<f64, 36> } }
ros_message! {
    PoseWithCovarianceStamped = "geometry_msgs/msg/PoseWithCovarianceStamped" { header: Header, pose: PoseWithCovariance }
}

ros_message! { Twist = "geometry_msgs/msg/Twist" { linear: Vector3, angular: Vector3 } }
ros_message! { TwistStamped = "geometry_msgs/msg/TwistStamped" { header: Header, twist: Twist } }
ros_message! { TwistWithCovariance = "geometry_msgs/msg/TwistWithCovariance" { twist: Twist, covariance: Array<f64, 36> } }
ros_message! {
    TwistWithCovarianceStamped = "geometry_msgs/msg/TwistWithCovarianceStamped" { header: Header, twist: TwistWithCovariance }
}

ros_message! { Accel = "geometry_msgs/msg/Accel" { linear: Vector3, angular: Vector3 } }
ros_message! { AccelStamped = "geometry_msgs/msg/AccelStamped" { header: Header, accel: Accel } }
ros_message! { AccelWithCovariance = "geometry_msgs/msg/AccelWithCovariance" { accel: Accel, covariance: Array<f64, 36> } }
ros_message! {
    AccelWithCovarianceStamped = "geometry_msgs/msg/AccelWithCovarianceStamped" { header: Header, accel: AccelWithCovariance }
}

ros_message! { Wrench = "geometry_msgs/msg/Wrench" { force: Vector3, torque: Vector3 } }
ros_message! { WrenchStamped = "geometry_msgs/msg/WrenchStamped" { header: Header, wrench: Wrench } }

ros_message! { Transform = "geometry_msgs/msg/Transform" { translation: Vector3, rotation: Quaternion } }
ros_message! {
    TransformStamped = "geometry_msgs/msg/TransformStamped" { header: Header, child_frame_id: String, transform: Transform }
}
