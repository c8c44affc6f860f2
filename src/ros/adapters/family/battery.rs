//! BatteryState (`sensor_msgs/BatteryState`).

use arrow::array::{BooleanBuilder, Float32Builder, ListBuilder, StringBuilder, UInt8Builder};
use std::sync::Arc;

use super::{cdr, conv, Family};
use crate::protocol::Generation;
use crate::ros::adapters::columns::{put_prim, Columns, HeaderB};
use crate::ros::adapters::rows::Row;
use crate::ros::adapters::Convert;
use crate::ros::msgs::sensor_msgs as sm;

struct BatteryF {
    header: HeaderB,
    f: [Float32Builder; 7],
    u: [UInt8Builder; 3],
    present: BooleanBuilder,
    location: StringBuilder,
    serial: StringBuilder,
    cell_v: ListBuilder<Float32Builder>,
    cell_t: ListBuilder<Float32Builder>,
}

const BATTERY_F: [&str; 7] = [
    "voltage",
    "temperature",
    "current",
    "charge",
    "capacity",
    "design_capacity",
    "percentage",
];
const BATTERY_U: [&str; 3] = [
    "power_supply_status",
    "power_supply_health",
    "power_supply_technology",
];

impl Family for BatteryF {
    fn finish(&mut self, cols: &mut Columns) {
        self.header.finish("header", cols);
        for (b, n) in self.f.iter_mut().zip(BATTERY_F) {
            put_prim(cols, n.into(), b);
        }
        for (b, n) in self.u.iter_mut().zip(BATTERY_U) {
            put_prim(cols, n.into(), b);
        }
        cols.put("present", Arc::new(self.present.finish()));
        cols.put("location", Arc::new(self.location.finish()));
        cols.put("serial_number", Arc::new(self.serial.finish()));
        cols.put("cell_voltage", Arc::new(self.cell_v.finish()));
        cols.put("cell_temperature", Arc::new(self.cell_t.finish()));
    }
}

pub(crate) fn decoder(gen: Generation) -> Box<dyn Convert> {
    let f32l = || ListBuilder::new(Float32Builder::new());
    conv::<sm::BatteryState, _>(
        gen,
        BatteryF {
            header: HeaderB::new(gen),
            f: std::array::from_fn(|_| Float32Builder::new()),
            u: std::array::from_fn(|_| UInt8Builder::new()),
            present: BooleanBuilder::new(),
            location: StringBuilder::new(),
            serial: StringBuilder::new(),
            cell_v: f32l(),
            cell_t: f32l(),
        },
        |m, f| {
            f.header.push(Some(&m.header));
            let vals = [
                m.voltage,
                m.temperature,
                m.current,
                m.charge,
                m.capacity,
                m.design_capacity,
                m.percentage,
            ];
            for (i, (b, v)) in f.f.iter_mut().zip(vals).enumerate() {
                // NaN = "unmeasured" in ROS: null for the optional columns (all but voltage, percentage)
                if v.is_nan() && i != 0 && i != 6 {
                    b.append_null();
                } else {
                    b.append_value(v);
                }
            }
            for (b, v) in f.u.iter_mut().zip([
                m.power_supply_status,
                m.power_supply_health,
                m.power_supply_technology,
            ]) {
                b.append_value(v);
            }
            f.present.append_value(m.present);
            f.location.append_value(&m.location);
            f.serial.append_value(&m.serial_number);
            f.cell_v.values().append_slice(&m.cell_voltage);
            f.cell_v.append(true);
            f.cell_t.values().append_slice(&m.cell_temperature);
            f.cell_t.append(true);
            Ok(())
        },
        |m| Some(&m.header),
    )
}

pub(crate) fn encode(r: &Row<'_>) -> Result<Vec<u8>, String> {
    // a null measurement is ROS's NaN, "unmeasured"
    let f = |n: &str| r.opt_f32(n).unwrap_or(f32::NAN);
    cdr(sm::BatteryState {
        header: r.header("header"),
        voltage: f("voltage"),
        temperature: f("temperature"),
        current: f("current"),
        charge: f("charge"),
        capacity: f("capacity"),
        design_capacity: f("design_capacity"),
        percentage: f("percentage"),
        power_supply_status: r.u8("power_supply_status"),
        power_supply_health: r.u8("power_supply_health"),
        power_supply_technology: r.u8("power_supply_technology"),
        present: r.bool("present"),
        cell_voltage: r.f32s("cell_voltage"),
        cell_temperature: r.f32s("cell_temperature"),
        location: r.string("location"),
        serial_number: r.string("serial_number"),
    })
}
