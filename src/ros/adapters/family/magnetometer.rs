//! Magnetometer (`sensor_msgs/MagneticField`), stored in microtesla as the ontology documents
//! (ROS: tesla).

use super::{cdr, conv, invertible, v3, Family};
use crate::protocol::Generation;
use crate::ros::adapters::columns::{Columns, HeaderB, VecB};
use crate::ros::adapters::rows::Row;
use crate::ros::adapters::Convert;
use crate::ros::cdr::Array;
use crate::ros::msgs::geometry_msgs as gm;
use crate::ros::msgs::sensor_msgs as sm;

/// Microtesla per tesla.
const UT: f64 = 1e6;

struct MagF {
    header: HeaderB,
    field: VecB<3>,
}

impl Family for MagF {
    fn finish(&mut self, cols: &mut Columns) {
        self.header.finish("header", cols);
        self.field.finish("magnetic_field", cols);
    }
}

pub(crate) fn decoder(gen: Generation) -> Box<dyn Convert> {
    conv::<sm::MagneticField, _>(
        gen,
        MagF {
            header: HeaderB::new(gen),
            field: VecB::new(),
        },
        |m, f| {
            // tesla → microtesla, the unit the ontology documents; variances scale by 1e12. Each
            // the double nearest the product that the encoder's division maps back exactly.
            let c = m
                .magnetic_field_covariance
                .map(|v| invertible(v, |v| v * UT * UT, |y| y / (UT * UT)));
            f.header.push(Some(&m.header));
            let v = v3(&m.magnetic_field).map(|x| invertible(x, |x| x * UT, |y| y / UT));
            f.field.push(v, Some(&c), None);
            Ok(())
        },
        |m| Some(&m.header),
    )
}

pub(crate) fn encode(r: &Row<'_>) -> Result<Vec<u8>, String> {
    // stored in microtesla (variances ×1e12): back to tesla
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
