//! `builtin_interfaces`.

ros_message! {
    /// `builtin_interfaces/msg/Time`: seconds and nanoseconds since the Unix epoch.
    Time = "builtin_interfaces/msg/Time" { sec: i32, nanosec: u32 }
}

ros_message! {
    Duration = "builtin_interfaces/msg/Duration" { sec: i32, nanosec: u32 }
}

impl Time {
    pub fn is_zero(&self) -> bool {
        self.sec == 0 && self.nanosec == 0
    }

    /// Nanoseconds since the epoch.
    pub fn as_nanos(&self) -> i64 {
        self.sec as i64 * 1_000_000_000 + self.nanosec as i64
    }
}
