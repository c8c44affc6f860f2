//! Column builders and the schema-driven assembly that turns them into one batch.
//!
//! Adapters append leaf values into plain builders, keyed by the *field path* in the ontology
//! (`acceleration.covariance`, `header.frame_id`, `transforms.item.rotation.w`). Paths are the same
//! in both generations; only order and header layout differ, so [`Columns::assemble`] walks the
//! ontology schema of the generation in use and picks each column by path: a missing nullable
//! column becomes nulls, a missing non-nullable one is an error (caught by the tests), and struct
//! or list levels take their validity and offsets from what the adapter recorded.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    new_null_array, Array, ArrayRef, BinaryBuilder, BooleanBufferBuilder, FixedSizeListArray,
    Float64Builder, Int16Builder, Int32Builder, ListArray, ListBuilder, PrimitiveBuilder,
    RecordBatch, RecordBatchOptions, StringBuilder, StructArray, UInt32Builder,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{ArrowPrimitiveType, DataType, Field, SchemaRef};

use crate::protocol::Generation;
use crate::ros::msgs::std_msgs::Header;
use crate::ros::RosError;

pub(crate) fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Finished columns by path, plus struct validities and list offsets.
#[derive(Default)]
pub(crate) struct Columns {
    arrays: HashMap<String, ArrayRef>,
    validity: HashMap<String, NullBuffer>,
    lists: HashMap<String, (OffsetBuffer<i32>, Option<NullBuffer>)>,
}

impl Columns {
    pub fn put(&mut self, path: impl Into<String>, a: ArrayRef) {
        self.arrays.insert(path.into(), a);
    }

    /// Marks which rows of the struct at `path` are present (absent = all present).
    pub fn validity(&mut self, path: impl Into<String>, v: Option<NullBuffer>) {
        if let Some(v) = v {
            self.validity.insert(path.into(), v);
        }
    }

    /// A list of structs at `path`; its items' columns live under `path.item`.
    pub fn list(
        &mut self,
        path: impl Into<String>,
        offsets: OffsetBuffer<i32>,
        nulls: Option<NullBuffer>,
    ) {
        self.lists.insert(path.into(), (offsets, nulls));
    }

    /// Builds the batch for `schema` from the recorded columns.
    pub fn assemble(mut self, schema: &SchemaRef, rows: usize) -> Result<RecordBatch, RosError> {
        let mut out = Vec::with_capacity(schema.fields().len());
        for f in schema.fields() {
            out.push(self.field(f, f.name(), rows)?);
        }
        let opts = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(
            schema.clone(),
            out,
            &opts,
        )?)
    }

    fn field(&mut self, f: &Field, path: &str, rows: usize) -> Result<ArrayRef, RosError> {
        match self.build(f.data_type(), path, rows)? {
            Some(a) => Ok(a),
            None if f.is_nullable() => Ok(new_null_array(f.data_type(), rows)),
            None => Err(RosError::Arrow(format!(
                "no values for the non-nullable column `{path}`"
            ))),
        }
    }

    fn build(
        &mut self,
        dt: &DataType,
        path: &str,
        rows: usize,
    ) -> Result<Option<ArrayRef>, RosError> {
        if let Some(a) = self.arrays.remove(path) {
            if a.len() != rows {
                return Err(RosError::Arrow(format!(
                    "column `{path}` has {} rows, expected {rows}",
                    a.len()
                )));
            }
            return conform(a, dt, path).map(Some);
        }
        match dt {
            DataType::Struct(fields) => {
                let validity = self.validity.remove(path);
                let prefix = format!("{path}.");
                let any = self
                    .arrays
                    .keys()
                    .chain(self.lists.keys())
                    .any(|k| k.starts_with(&prefix));
                if !any {
                    return Ok(None);
                }
                let mut children = Vec::with_capacity(fields.len());
                for c in fields.iter() {
                    children.push(self.field(c, &format!("{path}.{}", c.name()), rows)?);
                }
                Ok(Some(Arc::new(StructArray::try_new(
                    fields.clone(),
                    children,
                    validity,
                )?)))
            }
            DataType::List(item) => {
                let Some((offsets, nulls)) = self.lists.remove(path) else {
                    return Ok(None);
                };
                let n = offsets.last() as usize;
                let values = self.field(item, &format!("{path}.item"), n)?;
                Ok(Some(Arc::new(ListArray::try_new(
                    item.clone(),
                    offsets,
                    values,
                    nulls,
                )?)))
            }
            _ => Ok(None),
        }
    }
}

/// Gives `a` exactly the type `dt` (field names, nullability, widths), casting only when needed.
fn conform(a: ArrayRef, dt: &DataType, path: &str) -> Result<ArrayRef, RosError> {
    if a.data_type() == dt {
        return Ok(a);
    }
    match (a.data_type(), dt) {
        (DataType::List(_), DataType::List(to)) => {
            let l = a.as_any().downcast_ref::<ListArray>().expect("list");
            let values = conform(l.values().clone(), to.data_type(), path)?;
            Ok(Arc::new(ListArray::try_new(
                to.clone(),
                l.offsets().clone(),
                values,
                l.nulls().cloned(),
            )?))
        }
        (DataType::FixedSizeList(_, n), DataType::FixedSizeList(to, m)) if n == m => {
            let l = a
                .as_any()
                .downcast_ref::<FixedSizeListArray>()
                .expect("fixed size list");
            let values = conform(l.values().clone(), to.data_type(), path)?;
            Ok(Arc::new(FixedSizeListArray::try_new(
                to.clone(),
                *m,
                values,
                l.nulls().cloned(),
            )?))
        }
        _ => arrow::compute::cast(&a, dt).map_err(|e| {
            RosError::Arrow(format!(
                "column `{path}`: cannot make {} into {dt}: {e}",
                a.data_type()
            ))
        }),
    }
}

/// Validity of optional structs.
pub(crate) struct Validity {
    bits: BooleanBufferBuilder,
    nulls: usize,
}

impl Default for Validity {
    fn default() -> Self {
        Validity {
            bits: BooleanBufferBuilder::new(0),
            nulls: 0,
        }
    }
}

impl Validity {
    #[inline]
    pub fn push(&mut self, present: bool) {
        self.bits.append(present);
        self.nulls += !present as usize;
    }

    pub fn finish(&mut self) -> Option<NullBuffer> {
        let b = self.bits.finish();
        let had = self.nulls;
        self.nulls = 0;
        (had > 0).then(|| NullBuffer::new(b))
    }
}

/// A `list<item: double>` column.
pub(crate) type F64List = ListBuilder<Float64Builder>;

pub(crate) fn put_prim<T: ArrowPrimitiveType>(
    cols: &mut Columns,
    path: String,
    b: &mut PrimitiveBuilder<T>,
) {
    cols.put(path, Arc::new(b.finish()));
}

/// A ROS header, in the generation's layout: legacy `{seq, stamp{sec, nanosec}, frame_id}`,
/// current `{timestamp{seconds, nanoseconds}, frame_id, sample_counter}`.
pub(crate) struct HeaderB {
    gen: Generation,
    present: Validity,
    sec: Int32Builder,
    nanosec: UInt32Builder,
    frame: StringBuilder,
}

impl HeaderB {
    pub fn new(gen: Generation) -> Self {
        HeaderB {
            gen,
            present: Validity::default(),
            sec: Int32Builder::new(),
            nanosec: UInt32Builder::new(),
            frame: StringBuilder::new(),
        }
    }

    /// The reference's rule: the legacy bridge always fills the header; the current one leaves it
    /// null when the ROS header is empty (zero stamp, empty frame).
    #[inline]
    pub fn push(&mut self, h: Option<&Header>) {
        let h = h.filter(|h| self.gen == Generation::Legacy || !h.is_empty());
        match h {
            Some(h) => {
                self.present.push(true);
                self.sec.append_value(h.stamp.sec);
                self.nanosec.append_value(h.stamp.nanosec);
                self.frame.append_value(&h.frame_id);
            }
            None => {
                self.present.push(false);
                self.sec.append_value(0);
                self.nanosec.append_value(0);
                self.frame.append_null();
            }
        }
    }

    pub fn finish(&mut self, path: &str, cols: &mut Columns) {
        let v = self.present.finish();
        let (stamp, sec, nsec) = match self.gen {
            Generation::Legacy => ("stamp", "sec", "nanosec"),
            Generation::Current => ("timestamp", "seconds", "nanoseconds"),
        };
        let stamp = join(path, stamp);
        cols.put(join(&stamp, sec), Arc::new(self.sec.finish()));
        cols.put(join(&stamp, nsec), Arc::new(self.nanosec.finish()));
        cols.put(join(path, "frame_id"), Arc::new(self.frame.finish()));
        cols.validity(stamp, v.clone());
        cols.validity(path.to_string(), v);
    }
}

/// Whether a ROS covariance is stored null: only when every element is `+0.0`, ROS's "unknown",
/// which is exactly what a null reads back as. Anything else (a REP 145 leading -1, negative or
/// `-0.0` variances, NaN) is stored as received, so replay gives back the bytes; readers tell
/// "not provided" by the -1 as ROS readers do.
#[inline]
pub(crate) fn unknown_cov(c: &[f64]) -> bool {
    c.iter().all(|v| v.to_bits() == 0)
}

/// A Vector/Point/Quaternion struct (`N` = 2, 3 or 4 components) with its covariance; nested header
/// left null as the SDK does.
pub(crate) struct VecB<const N: usize> {
    present: Validity,
    comps: [Float64Builder; N],
    cov: F64List,
    cov_type: Int16Builder,
}

const NAMES: [&str; 4] = ["x", "y", "z", "w"];

impl<const N: usize> VecB<N> {
    pub fn new() -> Self {
        VecB {
            present: Validity::default(),
            comps: std::array::from_fn(|_| Float64Builder::new()),
            cov: ListBuilder::new(Float64Builder::new()),
            cov_type: Int16Builder::new(),
        }
    }

    /// Appends a present value; `cov` is stored unless it is all `+0.0` ([`unknown_cov`]);
    /// `cov_type` (NavSatFix's own field) is stored whether or not the covariance is.
    #[inline]
    pub fn push(&mut self, v: [f64; N], cov: Option<&[f64]>, cov_type: Option<i16>) {
        self.present.push(true);
        for (b, x) in self.comps.iter_mut().zip(v) {
            b.append_value(x);
        }
        match cov.filter(|c| !unknown_cov(c)) {
            Some(c) => {
                self.cov.values().append_slice(c);
                self.cov.append(true);
            }
            None => self.cov.append(false),
        }
        self.cov_type.append_option(cov_type);
    }

    #[inline]
    pub fn push_null(&mut self) {
        self.present.push(false);
        for b in self.comps.iter_mut() {
            b.append_null();
        }
        self.cov.append(false);
        self.cov_type.append_null();
    }

    pub fn finish(&mut self, path: &str, cols: &mut Columns) {
        cols.validity(path.to_string(), self.present.finish());
        for (i, b) in self.comps.iter_mut().enumerate() {
            put_prim(cols, join(path, NAMES[i]), b);
        }
        cols.put(join(path, "covariance"), Arc::new(self.cov.finish()));
        put_prim(cols, join(path, "covariance_type"), &mut self.cov_type);
    }
}

/// A top-level or nested `covariance` + `covariance_type` pair (Pose, Velocity...).
pub(crate) struct CovB {
    cov: F64List,
}

impl CovB {
    pub fn new() -> Self {
        CovB {
            cov: ListBuilder::new(Float64Builder::new()),
        }
    }

    #[inline]
    pub fn push(&mut self, c: Option<&[f64]>) {
        match c.filter(|c| !unknown_cov(c)) {
            Some(c) => {
                self.cov.values().append_slice(c);
                self.cov.append(true);
            }
            None => self.cov.append(false),
        }
    }

    pub fn finish(&mut self, path: &str, cols: &mut Columns) {
        cols.put(join(path, "covariance"), Arc::new(self.cov.finish()));
    }
}

/// Bytes of variable-size columns, to let callers cap a batch's memory.
pub(crate) fn binary_len(b: &BinaryBuilder) -> usize {
    b.values_slice().len()
}
