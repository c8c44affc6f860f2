//! `tf2_msgs` (the `/tf` and `/tf_static` topics).

use super::geometry_msgs::TransformStamped;

ros_message! { TFMessage = "tf2_msgs/msg/TFMessage" { transforms: Vec<TransformStamped> } }
