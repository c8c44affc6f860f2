//! `diagnostic_msgs`: what the recorder publishes on `/diagnostics`.

use super::std_msgs::Header;

ros_message! { KeyValue = "diagnostic_msgs/msg/KeyValue" { key: String, value: String } }

ros_message! {
    /// `level`: 0 OK, 1 WARN, 2 ERROR, 3 STALE.
    DiagnosticStatus = "diagnostic_msgs/msg/DiagnosticStatus" {
        level: u8,
        name: String,
        message: String,
        hardware_id: String,
        values: Vec<KeyValue>,
    }
}

ros_message! {
    DiagnosticArray = "diagnostic_msgs/msg/DiagnosticArray" { header: Header, status: Vec<DiagnosticStatus> }
}

impl DiagnosticStatus {
    pub const OK: u8 = 0;
    pub const WARN: u8 = 1;
    pub const ERROR: u8 = 2;
    pub const STALE: u8 = 3;
}
