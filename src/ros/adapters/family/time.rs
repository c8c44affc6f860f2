//! `std_msgs/Header`, `builtin_interfaces/Time` and `Duration` published as topics of their own
//! (current generation only: the legacy ontology has no such classes).

use std::sync::Arc;

use arrow::array::{Int32Builder, UInt32Builder};

use super::{cdr, conv, no_header, Family, PushFn};
use crate::protocol::Generation;
use crate::ros::adapters::columns::{Columns, HeaderB};
use crate::ros::adapters::rows::Row;
use crate::ros::adapters::Convert;
use crate::ros::msgs::builtin_interfaces as bi;
use crate::ros::msgs::std_msgs as stdm;

struct HeaderTopicF(HeaderB);

impl Family for HeaderTopicF {
    fn finish(&mut self, cols: &mut Columns) {
        self.0.finish("", cols);
    }
}

struct TimeF {
    sec: Int32Builder,
    nsec: UInt32Builder,
}

impl Family for TimeF {
    fn finish(&mut self, cols: &mut Columns) {
        cols.put("seconds", Arc::new(self.sec.finish()));
        cols.put("nanoseconds", Arc::new(self.nsec.finish()));
    }
}

fn time_f() -> TimeF {
    TimeF {
        sec: Int32Builder::new(),
        nsec: UInt32Builder::new(),
    }
}

pub(crate) fn header(gen: Generation) -> Box<dyn Convert> {
    conv::<stdm::Header, _>(
        gen,
        HeaderTopicF(HeaderB::new(gen)),
        |m, f| {
            f.0.push(Some(m));
            Ok(())
        },
        no_header,
    )
}

pub(crate) fn time(gen: Generation) -> Box<dyn Convert> {
    let push: PushFn<bi::Time, TimeF> = |m, f| {
        f.sec.append_value(m.sec);
        f.nsec.append_value(m.nanosec);
        Ok(())
    };
    conv(gen, time_f(), push, no_header)
}

pub(crate) fn duration(gen: Generation) -> Box<dyn Convert> {
    let push: PushFn<bi::Duration, TimeF> = |m, f| {
        f.sec.append_value(m.sec);
        f.nsec.append_value(m.nanosec);
        Ok(())
    };
    conv(gen, time_f(), push, no_header)
}

pub(crate) fn encode_header(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(r.header(""))
}

pub(crate) fn encode_time(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(bi::Time {
        sec: r.i32("seconds"),
        nanosec: r.u32("nanoseconds"),
    })
}

pub(crate) fn encode_duration(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(bi::Duration {
        sec: r.i32("seconds"),
        nanosec: r.u32("nanoseconds"),
    })
}
