//! `sensor_msgs`.

use bytes::Bytes;

use super::geometry_msgs::{Quaternion, Vector3};
use super::std_msgs::Header;
use super::RosMessage;
use crate::ros::cdr::{Array, CdrCodec, CdrReader, CdrWriter};
use crate::ros::RosError;

ros_message! {
    Imu = "sensor_msgs/msg/Imu" {
        header: Header,
        orientation: Quaternion,
        orientation_covariance: Array<f64, 9>,
        angular_velocity: Vector3,
        angular_velocity_covariance: Array<f64, 9>,
        linear_acceleration: Vector3,
        linear_acceleration_covariance: Array<f64, 9>,
    }
}

ros_message! { NavSatStatus = "sensor_msgs/msg/NavSatStatus" { status: i8, service: u16 } }

ros_message! {
    NavSatFix = "sensor_msgs/msg/NavSatFix" {
        header: Header,
        status: NavSatStatus,
        latitude: f64,
        longitude: f64,
        altitude: f64,
        position_covariance: Array<f64, 9>,
        position_covariance_type: u8,
    }
}

ros_message! {
    Image = "sensor_msgs/msg/Image" {
        header: Header,
        height: u32,
        width: u32,
        encoding: String,
        is_bigendian: u8,
        step: u32,
        data: Bytes,
    }
}

ros_message! { CompressedImage = "sensor_msgs/msg/CompressedImage" { header: Header, format: String, data: Bytes } }

ros_message! {
    RegionOfInterest = "sensor_msgs/msg/RegionOfInterest" {
        x_offset: u32,
        y_offset: u32,
        height: u32,
        width: u32,
        do_rectify: bool,
    }
}

ros_message! {
    CameraInfo = "sensor_msgs/msg/CameraInfo" {
        header: Header,
        height: u32,
        width: u32,
        distortion_model: String,
        d: Vec<f64>,
        k: Array<f64, 9>,
        r: Array<f64, 9>,
        p: Array<f64, 12>,
        binning_x: u32,
        binning_y: u32,
        roi: RegionOfInterest,
    }
}

ros_message! {
    JointState = "sensor_msgs/msg/JointState" {
        header: Header,
        name: Vec<String>,
        position: Vec<f64>,
        velocity: Vec<f64>,
        effort: Vec<f64>,
    }
}

ros_message! {
    BatteryState = "sensor_msgs/msg/BatteryState" {
        header: Header,
        voltage: f32,
        temperature: f32,
        current: f32,
        charge: f32,
        capacity: f32,
        design_capacity: f32,
        percentage: f32,
        power_supply_status: u8,
        power_supply_health: u8,
        power_supply_technology: u8,
        present: bool,
        cell_voltage: Vec<f32>,
        cell_temperature: Vec<f32>,
        location: String,
        serial_number: String,
    }
}

ros_message! { PointField = "sensor_msgs/msg/PointField" { name: String, offset: u32, datatype: u8, count: u32 } }

ros_message! {
    PointCloud2 = "sensor_msgs/msg/PointCloud2" {
        header: Header,
        height: u32,
        width: u32,
        fields: Vec<PointField>,
        is_bigendian: bool,
        point_step: u32,
        row_step: u32,
        data: Bytes,
        is_dense: bool,
    }
}

ros_message! {
    LaserScan = "sensor_msgs/msg/LaserScan" {
        header: Header,
        angle_min: f32,
        angle_max: f32,
        angle_increment: f32,
        time_increment: f32,
        scan_time: f32,
        range_min: f32,
        range_max: f32,
        ranges: Vec<f32>,
        intensities: Vec<f32>,
    }
}

ros_message! {
    MagneticField = "sensor_msgs/msg/MagneticField" {
        header: Header,
        magnetic_field: Vector3,
        magnetic_field_covariance: Array<f64, 9>,
    }
}

/// `sensor_msgs/msg/Range`. `variance` was added in Jazzy: Humble/Iron messages end after
/// `range`, and decode with `variance = 0` (unknown).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Range {
    pub header: Header,
    pub radiation_type: u8,
    pub field_of_view: f32,
    pub min_range: f32,
    pub max_range: f32,
    pub range: f32,
    pub variance: f32,
}

impl CdrCodec for Range {
    const MIN_SIZE: usize = Header::MIN_SIZE + 1 + 4 * 4;
    fn read(r: &mut CdrReader<'_>) -> Result<Self, RosError> {
        let header = Header::read(r)?;
        let radiation_type = r.read_u8()?;
        let field_of_view = r.read_f32()?;
        let min_range = r.read_f32()?;
        let max_range = r.read_f32()?;
        let range = r.read_f32()?;
        let variance = if r.remaining() >= 4 {
            r.read_f32()?
        } else {
            0.0
        };
        Ok(Range {
            header,
            radiation_type,
            field_of_view,
            min_range,
            max_range,
            range,
            variance,
        })
    }
    fn write(&self, w: &mut CdrWriter) {
        self.header.write(w);
        w.write_u8(self.radiation_type);
        for v in [
            self.field_of_view,
            self.min_range,
            self.max_range,
            self.range,
            self.variance,
        ] {
            w.write_f32(v);
        }
    }
}

impl RosMessage for Range {
    const TYPE_NAME: &'static str = "sensor_msgs/msg/Range";
}

ros_message! { Temperature = "sensor_msgs/msg/Temperature" { header: Header, temperature: f64, variance: f64 } }
ros_message! { FluidPressure = "sensor_msgs/msg/FluidPressure" { header: Header, fluid_pressure: f64, variance: f64 } }
ros_message! {
    RelativeHumidity = "sensor_msgs/msg/RelativeHumidity" { header: Header, relative_humidity: f64, variance: f64 }
}
ros_message! { Illuminance = "sensor_msgs/msg/Illuminance" { header: Header, illuminance: f64, variance: f64 } }
ros_message! { Joy = "sensor_msgs/msg/Joy" { header: Header, axes: Vec<f32>, buttons: Vec<i32> } }
