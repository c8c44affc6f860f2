//! One file per ontology family, each holding both directions side by side so they cannot drift:
//! the column builders that decode ROS CDR into the family's columns, and the encoders that turn a
//! stored row back into ROS CDR. The tables from ROS types to these live in [`super::table`].
//!
//! This file holds what the families share: the generic decode-and-append [`Conv`] and the CDR
//! writing helpers of the encoders.

pub(crate) mod battery;
pub(crate) mod camera_info;
pub(crate) mod frame_transform;
pub(crate) mod geometry;
pub(crate) mod gps;
pub(crate) mod image;
pub(crate) mod imu;
pub(crate) mod joint_state;
pub(crate) mod joy;
pub(crate) mod laser_scan;
pub(crate) mod magnetometer;
pub(crate) mod motion_state;
pub(crate) mod nmea;
pub(crate) mod point_cloud;
pub(crate) mod range;
pub(crate) mod raw;
pub(crate) mod std_scalars;
pub(crate) mod time;
pub(crate) mod value;

use std::sync::Arc;

use arrow::array::{ArrayBuilder, BinaryBuilder, Int64Builder, RecordBatch};
use arrow::datatypes::SchemaRef;

use super::columns::{binary_len, Columns, HeaderB};
use super::rows::{Row, TopicHints};
use super::{ts_builder, Convert};
use crate::protocol::Generation;
use crate::ros::cdr::{CdrCodec, CdrWriter, Endian};
use crate::ros::msgs::geometry_msgs as gm;
use crate::ros::msgs::std_msgs::Header;
use crate::ros::msgs::RosMessage;
use crate::ros::RosError;

/// Encodes one row as CDR (little endian, encapsulation header included), or says why it cannot.
pub type Encoder = fn(&Row<'_>) -> Result<Vec<u8>, String>;

/// A family's column builders.
pub(crate) trait Family: Send + Sync + 'static {
    fn finish(&mut self, cols: &mut Columns);
    fn bytes(&self) -> usize {
        0
    }
    /// What the topic's metadata must carry for the rows seen so far to encode back exactly.
    fn hints(&self) -> TopicHints {
        TopicHints::default()
    }
}

type PushFn<M, F> = fn(&M, &mut F) -> Result<(), RosError>;
type HeaderFn<M> = fn(&M) -> Option<&Header>;

/// Decode `M`, append through `push` into family `F`.
struct Conv<M, F> {
    ts: Int64Builder,
    env: Option<HeaderB>,
    fam: F,
    push: PushFn<M, F>,
    header: HeaderFn<M>,
    rows: usize,
}

impl<M: RosMessage, F: Family> Convert for Conv<M, F> {
    #[inline]
    fn push(&mut self, timestamp_ns: i64, cdr: &[u8]) -> Result<(), RosError> {
        let m = M::from_cdr(cdr)?;
        self.append(timestamp_ns, m)
    }

    fn push_bytes(&mut self, timestamp_ns: i64, cdr: &bytes::Bytes) -> Result<(), RosError> {
        let m = M::from_cdr_bytes(cdr)?;
        self.append(timestamp_ns, m)
    }

    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch, RosError> {
        let mut cols = Columns::default();
        cols.put("timestamp_ns", Arc::new(self.ts.finish()));
        if let Some(env) = &mut self.env {
            env.finish("message_header", &mut cols);
        }
        self.fam.finish(&mut cols);
        let rows = std::mem::take(&mut self.rows);
        cols.assemble(schema, rows)
    }

    fn len(&self) -> usize {
        self.rows
    }

    fn buffered_bytes(&self) -> usize {
        self.fam.bytes()
    }

    fn hints(&self) -> TopicHints {
        self.fam.hints()
    }
}

impl<M: RosMessage, F: Family> Conv<M, F> {
    #[inline]
    fn append(&mut self, timestamp_ns: i64, m: M) -> Result<(), RosError> {
        (self.push)(&m, &mut self.fam)?;
        self.ts.append_value(timestamp_ns);
        if let Some(env) = &mut self.env {
            env.push((self.header)(&m));
        }
        self.rows += 1;
        Ok(())
    }
}

fn conv<M: RosMessage, F: Family>(
    gen: Generation,
    fam: F,
    push: PushFn<M, F>,
    header: HeaderFn<M>,
) -> Box<dyn Convert> {
    let env = (gen == Generation::Legacy).then(|| HeaderB::new(gen));
    Box::new(Conv {
        ts: ts_builder(),
        env,
        fam,
        push,
        header,
        rows: 0,
    })
}

/// Finishes a blob column and leaves the builder sized for a batch like this one: large columns then
/// fill without regrowing (pages are only committed when written).
fn finish_binary(b: &mut BinaryBuilder) -> arrow::array::ArrayRef {
    let (rows, bytes) = (b.len(), binary_len(b));
    let mut full = std::mem::replace(b, BinaryBuilder::with_capacity(rows, bytes));
    Arc::new(full.finish())
}

fn check_room(b: &BinaryBuilder, more: usize) -> Result<(), RosError> {
    match binary_len(b).checked_add(more) {
        Some(n) if n <= i32::MAX as usize => Ok(()),
        _ => Err(RosError::Arrow(
            "binary column over 2 GiB: finish() the batch first".into(),
        )),
    }
}

/// `x` converted by `to` (a unit conversion), moved by at most two ulps — the size of the
/// conversion's own rounding error — to a double that `back` (the encoder's inverse) maps to `x`
/// exactly, where one exists: replay then gives the bytes back. Where none does (`x` finer than
/// the converted unit's doubles can tell apart, or out of range), the correctly rounded value.
pub(crate) fn invertible(x: f64, to: impl Fn(f64) -> f64, back: impl Fn(f64) -> f64) -> f64 {
    let y = to(x);
    let exact = |c: f64| back(c).to_bits() == x.to_bits();
    if !y.is_finite() || exact(y) {
        return y;
    }
    [
        y.next_up(),
        y.next_down(),
        y.next_up().next_up(),
        y.next_down().next_down(),
    ]
    .into_iter()
    .find(|&c| c.is_finite() && exact(c))
    .unwrap_or(y)
}

fn no_header<M>(_: &M) -> Option<&Header> {
    None
}

fn cov_of<const N: usize>(c: &[f64; N]) -> Option<&[f64]> {
    Some(&c[..])
}

fn v3(v: &gm::Vector3) -> [f64; 3] {
    [v.x, v.y, v.z]
}
fn p3(v: &gm::Point) -> [f64; 3] {
    [v.x, v.y, v.z]
}
fn q4(q: &gm::Quaternion) -> [f64; 4] {
    [q.x, q.y, q.z, q.w]
}

fn cdr<M: RosMessage>(m: M) -> Result<Vec<u8>, String> {
    Ok(m.to_cdr(Endian::Little))
}

/// [`cdr`] for messages carrying a blob of `blob` bytes: the buffer is sized once, not grown by
/// doubling (each doubling of a multi-megabyte buffer is a copy and fresh pages to fault in).
fn cdr_sized<M: RosMessage>(m: M, blob: usize) -> Result<Vec<u8>, String> {
    let mut w = CdrWriter::with_capacity(Endian::Little, blob + 512);
    CdrCodec::write(&m, &mut w);
    Ok(w.finish())
}
