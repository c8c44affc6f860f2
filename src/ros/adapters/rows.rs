//! Reading ontology rows back by field path: the inverse of [`super::columns`]. A batch is flattened
//! once into leaf arrays keyed by path (`acceleration.x`, `transforms.item.rotation.w`); the
//! encoders then read values of one row by path, whatever the generation's column order. Missing
//! columns and nulls read as the ROS default (0, empty), which is what the adapters stored them for.

use std::collections::HashMap;
use std::ops::Range;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, FixedSizeListArray, LargeBinaryArray,
    ListArray, RecordBatch, StringArray, StructArray,
};
use arrow::datatypes::{
    ArrowPrimitiveType, DataType, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
    Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};

use crate::ros::msgs::builtin_interfaces::Time;
use crate::ros::msgs::geometry_msgs::{Point, Quaternion, Vector3};
use crate::ros::msgs::std_msgs::Header;

/// An Arrow buffer as the owner of a `bytes::Bytes`.
struct ArrowBytes(arrow::buffer::Buffer);

impl AsRef<[u8]> for ArrowBytes {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// What a topic's metadata tells the encoders beyond its rows: ROS values that no ontology column
/// can hold and that are the same for the whole topic (written by the adapter when the topic is
/// created, after its first batch). Current generation: keys of the `_ros_` block; legacy:
/// `ros:`-prefixed keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicHints {
    /// The ROS `format` string of a CompressedImage topic (`rgb8; jpeg compressed bgr8`) where the
    /// ontology column holds only its codec (`jpeg`).
    pub compressed_format: Option<String>,
    /// An Image topic's `is_bigendian` byte when it is neither 0 nor 1 (the column is a boolean).
    pub is_bigendian: Option<u8>,
}

/// The metadata key of [`TopicHints::compressed_format`] (in `_ros_`, or `ros:` + it).
pub const COMPRESSED_FORMAT_KEY: &str = "compressed_format";
/// The metadata key of [`TopicHints::is_bigendian`].
pub const IS_BIGENDIAN_KEY: &str = "is_bigendian";

impl TopicHints {
    /// The hints of a topic's metadata (either generation's layout); none when absent.
    pub fn from_metadata(meta: &serde_json::Value) -> TopicHints {
        let get = |key: &str| {
            meta.get("_ros_")
                .and_then(|r| r.get(key))
                .or_else(|| meta.get(format!("ros:{key}")))
        };
        TopicHints {
            compressed_format: get(COMPRESSED_FORMAT_KEY)
                .and_then(serde_json::Value::as_str)
                .map(str::to_string),
            is_bigendian: get(IS_BIGENDIAN_KEY)
                .and_then(serde_json::Value::as_u64)
                .and_then(|v| u8::try_from(v).ok()),
        }
    }

    /// The hints as metadata keys (unprefixed), for the adapter to write.
    pub fn entries(&self) -> Vec<(&'static str, serde_json::Value)> {
        let mut out = Vec::new();
        if let Some(f) = &self.compressed_format {
            out.push((COMPRESSED_FORMAT_KEY, serde_json::Value::from(f.clone())));
        }
        if let Some(b) = self.is_bigendian {
            out.push((IS_BIGENDIAN_KEY, serde_json::Value::from(b)));
        }
        out
    }
}

/// A batch flattened by path.
pub struct Flat {
    leaves: HashMap<String, ArrayRef>,
    rows: usize,
    hints: TopicHints,
}

impl Flat {
    pub fn new(batch: &RecordBatch) -> Flat {
        let mut leaves = HashMap::new();
        for (f, c) in batch.schema().fields().iter().zip(batch.columns()) {
            flatten(f.name(), c, &mut leaves);
        }
        Flat {
            leaves,
            rows: batch.num_rows(),
            hints: TopicHints::default(),
        }
    }

    /// The rows of a topic whose metadata carries `hints`.
    pub fn with_hints(mut self, hints: TopicHints) -> Flat {
        self.hints = hints;
        self
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn row(&self, i: usize) -> Row<'_> {
        Row { flat: self, i }
    }

    fn get(&self, path: &str) -> Option<&ArrayRef> {
        self.leaves.get(path)
    }
}

/// `p.name`, or `name` at the top level (`p` empty).
fn sub(p: &str, name: &str) -> String {
    if p.is_empty() {
        name.to_string()
    } else {
        format!("{p}.{name}")
    }
}

fn flatten(path: &str, a: &ArrayRef, out: &mut HashMap<String, ArrayRef>) {
    out.insert(path.to_string(), a.clone());
    match a.data_type() {
        DataType::Struct(_) => {
            let s: &StructArray = a.as_struct();
            for (f, c) in s.fields().iter().zip(s.columns()) {
                flatten(&format!("{path}.{}", f.name()), c, out);
            }
        }
        DataType::List(item) if matches!(item.data_type(), DataType::Struct(_)) => {
            let l: &ListArray = a.as_list();
            flatten(&format!("{path}.item"), l.values(), out);
        }
        _ => {}
    }
}

/// One row (or one item of a list of structs, whose leaves share the flat map).
#[derive(Clone, Copy)]
pub struct Row<'a> {
    flat: &'a Flat,
    i: usize,
}

impl<'a> Row<'a> {
    /// The topic's [`TopicHints`].
    pub fn hints(&self) -> &'a TopicHints {
        &self.flat.hints
    }

    fn leaf(&self, path: &str) -> Option<&'a ArrayRef> {
        self.flat.get(path).filter(|a| a.is_valid(self.i))
    }

    /// Whether the value (or struct) at `path` is present.
    pub fn present(&self, path: &str) -> bool {
        self.leaf(path).is_some()
    }

    fn prim<T: ArrowPrimitiveType>(&self, path: &str) -> Option<T::Native> {
        let a = self.leaf(path)?;
        if a.data_type() == &T::DATA_TYPE {
            return Some(a.as_primitive::<T>().value(self.i));
        }
        let c = arrow::compute::cast(&a.slice(self.i, 1), &T::DATA_TYPE).ok()?;
        c.is_valid(0).then(|| c.as_primitive::<T>().value(0))
    }

    pub fn f64(&self, p: &str) -> f64 {
        self.prim::<Float64Type>(p).unwrap_or_default()
    }
    pub fn opt_f64(&self, p: &str) -> Option<f64> {
        self.prim::<Float64Type>(p)
    }
    pub fn f32(&self, p: &str) -> f32 {
        self.prim::<Float32Type>(p).unwrap_or_default()
    }
    pub fn opt_f32(&self, p: &str) -> Option<f32> {
        self.prim::<Float32Type>(p)
    }
    pub fn i8(&self, p: &str) -> i8 {
        self.prim::<Int8Type>(p).unwrap_or_default()
    }
    pub fn i16(&self, p: &str) -> i16 {
        self.prim::<Int16Type>(p).unwrap_or_default()
    }
    pub fn i32(&self, p: &str) -> i32 {
        self.prim::<Int32Type>(p).unwrap_or_default()
    }
    pub fn i64(&self, p: &str) -> i64 {
        self.prim::<Int64Type>(p).unwrap_or_default()
    }
    pub fn u8(&self, p: &str) -> u8 {
        self.prim::<UInt8Type>(p).unwrap_or_default()
    }
    pub fn u16(&self, p: &str) -> u16 {
        self.prim::<UInt16Type>(p).unwrap_or_default()
    }
    pub fn u32(&self, p: &str) -> u32 {
        self.prim::<UInt32Type>(p).unwrap_or_default()
    }
    pub fn u64(&self, p: &str) -> u64 {
        self.prim::<UInt64Type>(p).unwrap_or_default()
    }

    pub fn bool(&self, p: &str) -> bool {
        self.leaf(p)
            .and_then(|a| a.as_any().downcast_ref::<BooleanArray>())
            .map(|a| a.value(self.i))
            .unwrap_or_default()
    }

    pub fn string(&self, p: &str) -> String {
        self.leaf(p)
            .and_then(|a| a.as_any().downcast_ref::<StringArray>())
            .map(|a| a.value(self.i).to_string())
            .unwrap_or_default()
    }

    pub fn bytes(&self, p: &str) -> &'a [u8] {
        let Some(a) = self.leaf(p) else { return &[] };
        if let Some(b) = a.as_any().downcast_ref::<BinaryArray>() {
            b.value(self.i)
        } else if let Some(b) = a.as_any().downcast_ref::<LargeBinaryArray>() {
            b.value(self.i)
        } else {
            &[]
        }
    }

    /// [`Row::bytes`] as shared memory: a view of the Arrow buffer, no copy.
    pub fn shared_bytes(&self, p: &str) -> bytes::Bytes {
        let Some(a) = self.leaf(p) else {
            return bytes::Bytes::new();
        };
        let (values, o) = if let Some(b) = a.as_any().downcast_ref::<BinaryArray>() {
            let o = b.value_offsets();
            (b.values(), o[self.i] as usize..o[self.i + 1] as usize)
        } else if let Some(b) = a.as_any().downcast_ref::<LargeBinaryArray>() {
            let o = b.value_offsets();
            (b.values(), o[self.i] as usize..o[self.i + 1] as usize)
        } else {
            return bytes::Bytes::new();
        };
        if a.is_null(self.i) {
            return bytes::Bytes::new();
        }
        bytes::Bytes::from_owner(ArrowBytes(values.slice_with_length(o.start, o.len())))
    }

    /// The values array of the list (variable or fixed size) at `p`, and this row's range in it.
    fn list(&self, p: &str) -> Option<(&'a ArrayRef, Range<usize>)> {
        let a = self.leaf(p)?;
        if let Some(l) = a.as_any().downcast_ref::<ListArray>() {
            let o = l.value_offsets();
            return Some((l.values(), o[self.i] as usize..o[self.i + 1] as usize));
        }
        let l = a.as_any().downcast_ref::<FixedSizeListArray>()?;
        let n = l.value_length() as usize;
        Some((l.values(), self.i * n..(self.i + 1) * n))
    }

    fn list_of<T: ArrowPrimitiveType>(&self, p: &str) -> Vec<T::Native> {
        let Some((values, r)) = self.list(p) else {
            return vec![];
        };
        let v = values.slice(r.start, r.len());
        match arrow::compute::cast(&v, &T::DATA_TYPE) {
            Ok(c) => {
                let c = c.as_primitive::<T>();
                (0..c.len()).map(|k| c.value(k)).collect()
            }
            Err(_) => vec![],
        }
    }

    pub fn f64s(&self, p: &str) -> Vec<f64> {
        self.list_of::<Float64Type>(p)
    }
    pub fn f32s(&self, p: &str) -> Vec<f32> {
        self.list_of::<Float32Type>(p)
    }
    pub fn i32s(&self, p: &str) -> Vec<i32> {
        self.list_of::<Int32Type>(p)
    }

    pub fn strings(&self, p: &str) -> Vec<String> {
        let Some((values, r)) = self.list(p) else {
            return vec![];
        };
        let Some(s) = values.as_any().downcast_ref::<StringArray>() else {
            return vec![];
        };
        r.map(|k| s.value(k).to_string()).collect()
    }

    /// The items of a list of structs at `p`, each readable under `p.item`.
    pub fn items(&self, p: &str) -> impl Iterator<Item = Row<'a>> + use<'a> {
        let flat = self.flat;
        self.list(p)
            .map(|(_, r)| r)
            .unwrap_or(0..0)
            .map(move |i| Row { flat, i })
    }

    /// A fixed-size covariance (null or missing → zeros, the "unknown" the adapters dropped).
    pub fn cov<const N: usize>(&self, p: &str) -> [f64; N] {
        let v = self.f64s(p);
        let mut out = [0.0; N];
        if v.len() == N {
            out.copy_from_slice(&v);
        }
        out
    }

    /// The ROS header at `p`, in either generation's layout; null → the empty header.
    pub fn header(&self, p: &str) -> Header {
        let legacy = sub(p, "stamp.sec");
        let (sec, nsec) = if self.flat.get(&legacy).is_some() {
            (self.i32(&legacy), self.u32(&sub(p, "stamp.nanosec")))
        } else {
            (
                self.i32(&sub(p, "timestamp.seconds")),
                self.u32(&sub(p, "timestamp.nanoseconds")),
            )
        };
        Header {
            stamp: Time { sec, nanosec: nsec },
            frame_id: self.string(&sub(p, "frame_id")),
        }
    }

    pub fn vector3(&self, p: &str) -> Vector3 {
        Vector3 {
            x: self.f64(&sub(p, "x")),
            y: self.f64(&sub(p, "y")),
            z: self.f64(&sub(p, "z")),
        }
    }

    pub fn point(&self, p: &str) -> Point {
        let v = self.vector3(p);
        Point {
            x: v.x,
            y: v.y,
            z: v.z,
        }
    }

    pub fn quaternion(&self, p: &str) -> Quaternion {
        Quaternion {
            x: self.f64(&sub(p, "x")),
            y: self.f64(&sub(p, "y")),
            z: self.f64(&sub(p, "z")),
            w: self.f64(&sub(p, "w")),
        }
    }
}
