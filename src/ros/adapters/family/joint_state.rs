//! RobotJoint (`sensor_msgs/JointState`).

use std::sync::Arc;

use arrow::array::{Float64Builder, ListBuilder, StringBuilder};

use super::{cdr, conv, Family};
use crate::protocol::Generation;
use crate::ros::adapters::columns::{Columns, F64List, HeaderB};
use crate::ros::adapters::rows::Row;
use crate::ros::adapters::Convert;
use crate::ros::msgs::sensor_msgs as sm;

struct JointF {
    header: HeaderB,
    names: ListBuilder<StringBuilder>,
    pos: F64List,
    vel: F64List,
    eff: F64List,
}

impl Family for JointF {
    fn finish(&mut self, cols: &mut Columns) {
        self.header.finish("header", cols);
        cols.put("names", Arc::new(self.names.finish()));
        cols.put("positions", Arc::new(self.pos.finish()));
        cols.put("velocities", Arc::new(self.vel.finish()));
        cols.put("efforts", Arc::new(self.eff.finish()));
    }
}

pub(crate) fn decoder(gen: Generation) -> Box<dyn Convert> {
    let f64l = || ListBuilder::new(Float64Builder::new());
    conv::<sm::JointState, _>(
        gen,
        JointF {
            header: HeaderB::new(gen),
            names: ListBuilder::new(StringBuilder::new()),
            pos: f64l(),
            vel: f64l(),
            eff: f64l(),
        },
        |m, f| {
            f.header.push(Some(&m.header));
            for n in &m.name {
                f.names.values().append_value(n);
            }
            f.names.append(true);
            for (b, v) in [
                (&mut f.pos, &m.position),
                (&mut f.vel, &m.velocity),
                (&mut f.eff, &m.effort),
            ] {
                b.values().append_slice(v);
                b.append(true);
            }
            Ok(())
        },
        |m| Some(&m.header),
    )
}

pub(crate) fn encode(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(sm::JointState {
        header: r.header("header"),
        name: r.strings("names"),
        position: r.f64s("positions"),
        velocity: r.f64s("velocities"),
        effort: r.f64s("efforts"),
    })
}
