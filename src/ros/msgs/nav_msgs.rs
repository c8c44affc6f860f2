//! `nav_msgs`.

use super::geometry_msgs::{PoseWithCovariance, TwistWithCovariance};
use super::std_msgs::Header;

ros_message! {
    Odometry = "nav_msgs/msg/Odometry" {
        header: Header,
        child_frame_id: String,
        pose: PoseWithCovariance,
        twist: TwistWithCovariance,
    }
}
