//! Scalar measurements with a variance: Temperature (stored in kelvin; ROS: °C), Pressure
//! (`FluidPressure`, Pa), Humidity (`RelativeHumidity`, fraction 0-1), Illumination
//! (`Illuminance`, lux).

use arrow::array::Float64Builder;

use super::{cdr, conv, invertible, Family};
use crate::protocol::Generation;
use crate::ros::adapters::columns::{put_prim, Columns, HeaderB};
use crate::ros::adapters::rows::Row;
use crate::ros::adapters::Convert;
use crate::ros::msgs::sensor_msgs as sm;
use crate::ros::msgs::std_msgs::{self as stdm, Header};
use crate::ros::RosError;

/// Kelvin at 0 °C.
const ZERO_C: f64 = 273.15;

struct ValueF {
    header: HeaderB,
    value: Float64Builder,
    variance: Float64Builder,
}

impl ValueF {
    fn new(gen: Generation) -> Self {
        ValueF {
            header: HeaderB::new(gen),
            value: Float64Builder::new(),
            variance: Float64Builder::new(),
        }
    }
    #[inline]
    fn push(&mut self, h: &Header, value: f64, variance: f64) -> Result<(), RosError> {
        self.header.push(Some(h));
        self.value.append_value(value);
        // +0.0 means unknown (SDK rule) and is what a null reads back as; anything else (negative,
        // -0.0, NaN) is stored as received
        self.variance
            .append_option((variance.to_bits() != 0).then_some(variance));
        Ok(())
    }
}

impl Family for ValueF {
    fn finish(&mut self, cols: &mut Columns) {
        self.header.finish("header", cols);
        put_prim(cols, "value".into(), &mut self.value);
        put_prim(cols, "variance".into(), &mut self.variance);
    }
}

/// (header, value, variance) of a stored row; a null variance is 0, unknown.
fn value(r: &Row<'_>) -> (stdm::Header, f64, f64) {
    (
        r.header("header"),
        r.f64("value"),
        r.opt_f64("variance").unwrap_or(0.0),
    )
}

pub(crate) fn temperature(gen: Generation) -> Box<dyn Convert> {
    conv::<sm::Temperature, _>(
        gen,
        ValueF::new(gen),
        // °C → K as the ontology stores (the double nearest the sum that the encoder's
        // subtraction maps back exactly, where one exists); a variance is the same in both
        |m, f| {
            let k = invertible(m.temperature, |c| c + ZERO_C, |k| k - ZERO_C);
            f.push(&m.header, k, m.variance)
        },
        |m| Some(&m.header),
    )
}

pub(crate) fn encode_temperature(r: &Row<'_>) -> Result<Vec<u8>, String> {
    let (header, v, variance) = value(r);
    cdr(sm::Temperature {
        header,
        temperature: v - ZERO_C,
        variance,
    })
}

pub(crate) fn fluid_pressure(gen: Generation) -> Box<dyn Convert> {
    conv::<sm::FluidPressure, _>(
        gen,
        ValueF::new(gen),
        |m, f| f.push(&m.header, m.fluid_pressure, m.variance),
        |m| Some(&m.header),
    )
}

pub(crate) fn encode_fluid_pressure(r: &Row<'_>) -> Result<Vec<u8>, String> {
    let (header, fluid_pressure, variance) = value(r);
    cdr(sm::FluidPressure {
        header,
        fluid_pressure,
        variance,
    })
}

pub(crate) fn relative_humidity(gen: Generation) -> Box<dyn Convert> {
    conv::<sm::RelativeHumidity, _>(
        gen,
        ValueF::new(gen),
        |m, f| f.push(&m.header, m.relative_humidity, m.variance),
        |m| Some(&m.header),
    )
}

pub(crate) fn encode_relative_humidity(r: &Row<'_>) -> Result<Vec<u8>, String> {
    let (header, relative_humidity, variance) = value(r);
    cdr(sm::RelativeHumidity {
        header,
        relative_humidity,
        variance,
    })
}

pub(crate) fn illuminance(gen: Generation) -> Box<dyn Convert> {
    conv::<sm::Illuminance, _>(
        gen,
        ValueF::new(gen),
        |m, f| f.push(&m.header, m.illuminance, m.variance),
        |m| Some(&m.header),
    )
}

pub(crate) fn encode_illuminance(r: &Row<'_>) -> Result<Vec<u8>, String> {
    let (header, illuminance, variance) = value(r);
    cdr(sm::Illuminance {
        header,
        illuminance,
        variance,
    })
}
