//! Joy (`sensor_msgs/Joy`).

use std::sync::Arc;

use arrow::array::{Float32Builder, Int32Builder, ListBuilder};

use super::{cdr, conv, Family};
use crate::protocol::Generation;
use crate::ros::adapters::columns::{Columns, HeaderB};
use crate::ros::adapters::rows::Row;
use crate::ros::adapters::Convert;
use crate::ros::msgs::sensor_msgs as sm;

struct JoyF {
    header: HeaderB,
    axes: ListBuilder<Float32Builder>,
    buttons: ListBuilder<Int32Builder>,
}

impl Family for JoyF {
    fn finish(&mut self, cols: &mut Columns) {
        self.header.finish("header", cols);
        cols.put("axes", Arc::new(self.axes.finish()));
        cols.put("buttons", Arc::new(self.buttons.finish()));
    }
}

pub(crate) fn decoder(gen: Generation) -> Box<dyn Convert> {
    conv::<sm::Joy, _>(
        gen,
        JoyF {
            header: HeaderB::new(gen),
            axes: ListBuilder::new(Float32Builder::new()),
            buttons: ListBuilder::new(Int32Builder::new()),
        },
        |m, f| {
            f.header.push(Some(&m.header));
            f.axes.values().append_slice(&m.axes);
            f.axes.append(true);
            f.buttons.values().append_slice(&m.buttons);
            f.buttons.append(true);
            Ok(())
        },
        |m| Some(&m.header),
    )
}

pub(crate) fn encode(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(sm::Joy {
        header: r.header("header"),
        axes: r.f32s("axes"),
        buttons: r.i32s("buttons"),
    })
}
