//! GPS (`sensor_msgs/NavSatFix`) and GPSStatus (`sensor_msgs/NavSatStatus` on its own).

use std::sync::Arc;

use arrow::array::{Int8Builder, UInt16Builder};

use super::{cdr, conv, cov_of, no_header, Family};
use crate::protocol::Generation;
use crate::ros::adapters::columns::{Columns, HeaderB, Validity, VecB};
use crate::ros::adapters::rows::Row;
use crate::ros::adapters::Convert;
use crate::ros::cdr::Array;
use crate::ros::msgs::sensor_msgs as sm;

struct GpsF {
    header: HeaderB,
    position: VecB<3>,
    status_present: Validity,
    status: Int8Builder,
    service: UInt16Builder,
}

impl Family for GpsF {
    fn finish(&mut self, cols: &mut Columns) {
        self.header.finish("header", cols);
        self.position.finish("position", cols);
        cols.validity("status", self.status_present.finish());
        cols.put("status.status", Arc::new(self.status.finish()));
        cols.put("status.service", Arc::new(self.service.finish()));
    }
}

pub(crate) fn nav_sat_fix(gen: Generation) -> Box<dyn Convert> {
    conv::<sm::NavSatFix, _>(
        gen,
        GpsF {
            header: HeaderB::new(gen),
            position: VecB::new(),
            status_present: Validity::default(),
            status: Int8Builder::new(),
            service: UInt16Builder::new(),
        },
        |m, f| {
            f.header.push(Some(&m.header));
            f.position.push(
                [m.latitude, m.longitude, m.altitude],
                cov_of(&m.position_covariance),
                Some(m.position_covariance_type as i16),
            );
            // null (as the SDK leaves an unknown status) only for STATUS_UNKNOWN (-2) with service
            // 0, what a null reads back as; any other status, valid or not, as received
            f.status_present
                .push(!(m.status.status == -2 && m.status.service == 0));
            f.status.append_value(m.status.status);
            f.service.append_value(m.status.service);
            Ok(())
        },
        |m| Some(&m.header),
    )
}

pub(crate) fn encode_nav_sat_fix(r: &Row<'_>) -> Result<Vec<u8>, String> {
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

struct StatusF(Int8Builder, UInt16Builder);

impl Family for StatusF {
    fn finish(&mut self, cols: &mut Columns) {
        cols.put("status", Arc::new(self.0.finish()));
        cols.put("service", Arc::new(self.1.finish()));
    }
}

pub(crate) fn nav_sat_status(gen: Generation) -> Box<dyn Convert> {
    conv::<sm::NavSatStatus, _>(
        gen,
        StatusF(Int8Builder::new(), UInt16Builder::new()),
        |m, f| {
            f.0.append_value(m.status);
            f.1.append_value(m.service);
            Ok(())
        },
        no_header,
    )
}

pub(crate) fn encode_nav_sat_status(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(sm::NavSatStatus {
        status: r.i8("status"),
        service: r.u16("service"),
    })
}
