//! LaserScan (`sensor_msgs/LaserScan`).

use std::sync::Arc;

use arrow::array::{ArrayBuilder, Float32Builder, ListBuilder};

use super::{cdr, conv, Family};
use crate::protocol::Generation;
use crate::ros::adapters::columns::{put_prim, Columns, HeaderB};
use crate::ros::adapters::rows::Row;
use crate::ros::adapters::Convert;
use crate::ros::msgs::sensor_msgs as sm;

struct ScanF {
    header: HeaderB,
    f: [Float32Builder; 7],
    ranges: ListBuilder<Float32Builder>,
    intensities: ListBuilder<Float32Builder>,
}

const SCAN_F: [&str; 7] = [
    "angle_min",
    "angle_max",
    "angle_increment",
    "time_increment",
    "scan_time",
    "range_min",
    "range_max",
];

impl Family for ScanF {
    fn finish(&mut self, cols: &mut Columns) {
        self.header.finish("header", cols);
        for (b, n) in self.f.iter_mut().zip(SCAN_F) {
            put_prim(cols, n.into(), b);
        }
        cols.put("ranges", Arc::new(self.ranges.finish()));
        cols.put("intensities", Arc::new(self.intensities.finish()));
    }
    fn bytes(&self) -> usize {
        (self.ranges.values_ref().len() + self.intensities.values_ref().len()) * 4
    }
}

pub(crate) fn decoder(gen: Generation) -> Box<dyn Convert> {
    let f32l = || ListBuilder::new(Float32Builder::new());
    conv::<sm::LaserScan, _>(
        gen,
        ScanF {
            header: HeaderB::new(gen),
            f: std::array::from_fn(|_| Float32Builder::new()),
            ranges: f32l(),
            intensities: f32l(),
        },
        |m, f| {
            f.header.push(Some(&m.header));
            let vals = [
                m.angle_min,
                m.angle_max,
                m.angle_increment,
                m.time_increment,
                m.scan_time,
                m.range_min,
                m.range_max,
            ];
            for (b, v) in f.f.iter_mut().zip(vals) {
                b.append_value(v);
            }
            f.ranges.values().append_slice(&m.ranges);
            f.ranges.append(true);
            // no intensities → null (SDK rule)
            f.intensities.values().append_slice(&m.intensities);
            f.intensities.append(!m.intensities.is_empty());
            Ok(())
        },
        |m| Some(&m.header),
    )
}

pub(crate) fn encode(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(sm::LaserScan {
        header: r.header("header"),
        angle_min: r.f32("angle_min"),
        angle_max: r.f32("angle_max"),
        angle_increment: r.f32("angle_increment"),
        time_increment: r.f32("time_increment"),
        scan_time: r.f32("scan_time"),
        range_min: r.f32("range_min"),
        range_max: r.f32("range_max"),
        ranges: r.f32s("ranges"),
        intensities: r.f32s("intensities"),
    })
}
