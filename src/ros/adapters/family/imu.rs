//! IMU (`sensor_msgs/Imu`).

use super::{cdr, conv, cov_of, q4, v3, Family};
use crate::protocol::Generation;
use crate::ros::adapters::columns::{Columns, HeaderB, VecB};
use crate::ros::adapters::rows::Row;
use crate::ros::adapters::Convert;
use crate::ros::cdr::Array;
use crate::ros::msgs::geometry_msgs as gm;
use crate::ros::msgs::sensor_msgs as sm;

struct ImuF {
    header: HeaderB,
    acc: VecB<3>,
    gyro: VecB<3>,
    ori: VecB<4>,
}

impl Family for ImuF {
    fn finish(&mut self, cols: &mut Columns) {
        self.header.finish("header", cols);
        self.acc.finish("acceleration", cols);
        self.gyro.finish("angular_velocity", cols);
        self.ori.finish("orientation", cols);
    }
}

pub(crate) fn decoder(gen: Generation) -> Box<dyn Convert> {
    conv::<sm::Imu, _>(
        gen,
        ImuF {
            header: HeaderB::new(gen),
            acc: VecB::new(),
            gyro: VecB::new(),
            ori: VecB::new(),
        },
        |m, f| {
            f.header.push(Some(&m.header));
            f.acc.push(
                v3(&m.linear_acceleration),
                cov_of(&m.linear_acceleration_covariance),
                None,
            );
            f.gyro.push(
                v3(&m.angular_velocity),
                cov_of(&m.angular_velocity_covariance),
                None,
            );
            // REP 145: orientation_covariance[0] == -1 means "no orientation estimate"; stored
            // null (the SDK's rule) when it is exactly what a null reads back as, else as received
            if no_orientation(m) {
                f.ori.push_null();
            } else {
                f.ori
                    .push(q4(&m.orientation), cov_of(&m.orientation_covariance), None);
            }
            Ok(())
        },
        |m| Some(&m.header),
    )
}

/// REP 145's "no orientation estimate" in its canonical form: covariance `[-1, 0, …]` and the zero
/// quaternion, all zeros `+0.0`.
fn no_orientation(m: &sm::Imu) -> bool {
    let c = &m.orientation_covariance;
    c[0].to_bits() == (-1.0f64).to_bits()
        && c[1..].iter().all(|v| v.to_bits() == 0)
        && q4(&m.orientation).iter().all(|v| v.to_bits() == 0)
}

pub(crate) fn encode(r: &Row<'_>) -> Result<Vec<u8>, String> {
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
