//! `std_msgs`: the header and the scalar wrappers.

use super::builtin_interfaces::Time;

ros_message! {
    Header = "std_msgs/msg/Header" { stamp: Time, frame_id: std::string::String }
}

impl Header {
    /// Zero stamp and empty frame: what publishers leave when they have no header to give.
    pub fn is_empty(&self) -> bool {
        self.stamp.is_zero() && self.frame_id.is_empty()
    }
}

ros_message! { String = "std_msgs/msg/String" { data: std::string::String } }
ros_message! { Bool = "std_msgs/msg/Bool" { data: bool } }
ros_message! { Int8 = "std_msgs/msg/Int8" { data: i8 } }
ros_message! { Int16 = "std_msgs/msg/Int16" { data: i16 } }
ros_message! { Int32 = "std_msgs/msg/Int32" { data: i32 } }
ros_message! { Int64 = "std_msgs/msg/Int64" { data: i64 } }
ros_message! { UInt8 = "std_msgs/msg/UInt8" { data: u8 } }
ros_message! { UInt16 = "std_msgs/msg/UInt16" { data: u16 } }
ros_message! { UInt32 = "std_msgs/msg/UInt32" { data: u32 } }
ros_message! { UInt64 = "std_msgs/msg/UInt64" { data: u64 } }
ros_message! { Float32 = "std_msgs/msg/Float32" { data: f32 } }
ros_message! { Float64 = "std_msgs/msg/Float64" { data: f64 } }
