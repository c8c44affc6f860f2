//! Range (`sensor_msgs/Range`).

use std::sync::Arc;

use arrow::array::{Float32Builder, Float64Builder, UInt8Builder};

use super::{cdr, conv, Family};
use crate::protocol::Generation;
use crate::ros::adapters::columns::{put_prim, Columns, HeaderB};
use crate::ros::adapters::rows::Row;
use crate::ros::adapters::Convert;
use crate::ros::msgs::sensor_msgs as sm;

struct RangeF {
    header: HeaderB,
    radiation: UInt8Builder,
    f: [Float32Builder; 4],
    variance: Float64Builder,
}

const RANGE_F: [&str; 4] = ["field_of_view", "min_range", "max_range", "range"];

impl Family for RangeF {
    fn finish(&mut self, cols: &mut Columns) {
        self.header.finish("header", cols);
        cols.put("radiation_type", Arc::new(self.radiation.finish()));
        for (b, n) in self.f.iter_mut().zip(RANGE_F) {
            put_prim(cols, n.into(), b);
        }
        put_prim(cols, "variance".into(), &mut self.variance);
    }
}

pub(crate) fn decoder(gen: Generation) -> Box<dyn Convert> {
    conv::<sm::Range, _>(
        gen,
        RangeF {
            header: HeaderB::new(gen),
            radiation: UInt8Builder::new(),
            f: std::array::from_fn(|_| Float32Builder::new()),
            variance: Float64Builder::new(),
        },
        |m, f| {
            f.header.push(Some(&m.header));
            f.radiation.append_value(m.radiation_type);
            for (b, v) in
                f.f.iter_mut()
                    .zip([m.field_of_view, m.min_range, m.max_range, m.range])
            {
                b.append_value(v);
            }
            // null only for +0.0, what a null reads back as; anything else as received
            f.variance
                .append_option((m.variance.to_bits() != 0).then_some(m.variance as f64));
            Ok(())
        },
        |m| Some(&m.header),
    )
}

pub(crate) fn encode(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(sm::Range {
        header: r.header("header"),
        radiation_type: r.u8("radiation_type"),
        field_of_view: r.f32("field_of_view"),
        min_range: r.f32("min_range"),
        max_range: r.f32("max_range"),
        range: r.f32("range"),
        // stored null only when +0.0 ("unknown")
        variance: r.opt_f64("variance").unwrap_or(0.0) as f32,
    })
}
