//! The std_msgs scalar wrappers (`String`, `Bool`, `Int8` … `UInt64`, `Float32`, `Float64`):
//! one `data` column.

use std::sync::Arc;

use arrow::array::{BooleanBuilder, PrimitiveBuilder, StringBuilder};
use arrow::datatypes::{
    ArrowPrimitiveType, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};

use super::{cdr, conv, no_header, Family};
use crate::protocol::Generation;
use crate::ros::adapters::columns::{put_prim, Columns};
use crate::ros::adapters::rows::Row;
use crate::ros::adapters::Convert;
use crate::ros::msgs::std_msgs as stdm;
use crate::ros::msgs::RosMessage;

/// `data` of a std_msgs scalar.
struct Data<B>(B);

impl Family for Data<BooleanBuilder> {
    fn finish(&mut self, cols: &mut Columns) {
        cols.put("data", Arc::new(self.0.finish()));
    }
}

impl Family for Data<StringBuilder> {
    fn finish(&mut self, cols: &mut Columns) {
        cols.put("data", Arc::new(self.0.finish()));
    }
}

pub(crate) fn string(gen: Generation) -> Box<dyn Convert> {
    conv::<stdm::String, _>(
        gen,
        Data(StringBuilder::new()),
        |m, f| {
            f.0.append_value(&m.data);
            Ok(())
        },
        no_header,
    )
}

pub(crate) fn encode_string(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(stdm::String {
        data: r.string("data"),
    })
}

pub(crate) fn bool(gen: Generation) -> Box<dyn Convert> {
    conv::<stdm::Bool, _>(
        gen,
        Data(BooleanBuilder::new()),
        |m, f| {
            f.0.append_value(m.data);
            Ok(())
        },
        no_header,
    )
}

pub(crate) fn encode_bool(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(stdm::Bool {
        data: r.bool("data"),
    })
}

fn scalar<M: RosMessage, T: ArrowPrimitiveType>(
    gen: Generation,
    get: fn(&M) -> T::Native,
) -> Box<dyn Convert> {
    // fn pointers cannot capture `get`: keep it next to the builder
    struct Scalar<M, T: ArrowPrimitiveType> {
        b: PrimitiveBuilder<T>,
        get: fn(&M) -> T::Native,
    }
    impl<M: 'static, T: ArrowPrimitiveType> Family for Scalar<M, T> {
        fn finish(&mut self, cols: &mut Columns) {
            put_prim(cols, "data".into(), &mut self.b);
        }
    }
    conv::<M, Scalar<M, T>>(
        gen,
        Scalar {
            b: PrimitiveBuilder::<T>::new(),
            get,
        },
        |m, f| {
            f.b.append_value((f.get)(m));
            Ok(())
        },
        no_header,
    )
}

/// The decoder `$dec` and encoder `$enc` of a numeric wrapper `$msg` (Arrow type `$arrow`, read
/// back with `Row::$get`).
macro_rules! numeric {
    ($($dec:ident, $enc:ident: $msg:ident, $arrow:ty, $get:ident;)*) => {$(
        pub(crate) fn $dec(gen: Generation) -> Box<dyn Convert> {
            scalar::<stdm::$msg, $arrow>(gen, |m| m.data)
        }

        pub(crate) fn $enc(r: &Row<'_>) -> Result<Vec<u8>, String> {
            cdr(stdm::$msg { data: r.$get("data") })
        }
    )*};
}

numeric! {
    int8, encode_int8: Int8, Int8Type, i8;
    int16, encode_int16: Int16, Int16Type, i16;
    int32, encode_int32: Int32, Int32Type, i32;
    int64, encode_int64: Int64, Int64Type, i64;
    uint8, encode_uint8: UInt8, UInt8Type, u8;
    uint16, encode_uint16: UInt16, UInt16Type, u16;
    uint32, encode_uint32: UInt32, UInt32Type, u32;
    uint64, encode_uint64: UInt64, UInt64Type, u64;
    float32, encode_float32: Float32, Float32Type, f32;
    float64, encode_float64: Float64, Float64Type, f64;
}
