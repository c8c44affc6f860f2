//! One builder per ontology family, and the table from ROS types to (class, conversion).

use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, BinaryBuilder, BooleanBuilder, FixedSizeListBuilder, Float32Builder,
    Float64Builder, Int32Builder, Int64Builder, Int8Builder, ListBuilder, PrimitiveBuilder,
    RecordBatch, StringBuilder, UInt16Builder, UInt32Builder, UInt8Builder,
};
use arrow::buffer::OffsetBuffer;
use arrow::datatypes::{
    ArrowPrimitiveType, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    SchemaRef, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};

use super::columns::{binary_len, join, put_prim, Columns, CovB, F64List, HeaderB, Validity, VecB};
use super::image::{jpeg, png_wide_grayscale, ImageCompression};
use super::{ts_builder, AdapterOptions, Convert};
use crate::protocol::Generation;
use crate::ros::msgs::builtin_interfaces as bi;
use crate::ros::msgs::geometry_msgs as gm;
use crate::ros::msgs::sensor_msgs as sm;
use crate::ros::msgs::std_msgs::{self as stdm, Header};
use crate::ros::msgs::{nav_msgs, nmea_msgs, tf2_msgs, RosMessage};
use crate::ros::RosError;

/// A family's column builders.
pub(crate) trait Family: Send + Sync + 'static {
    fn finish(&mut self, cols: &mut Columns);
    fn bytes(&self) -> usize {
        0
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

fn no_header<M>(_: &M) -> Option<&Header> {
    None
}

/// The raw-CDR fallback: bytes as received.
pub(crate) struct RawConv {
    ts: Int64Builder,
    env: Option<HeaderB>,
    data: BinaryBuilder,
}

impl RawConv {
    pub fn new(gen: Generation) -> Self {
        RawConv {
            ts: ts_builder(),
            env: (gen == Generation::Legacy).then(|| HeaderB::new(gen)),
            data: BinaryBuilder::new(),
        }
    }
}

impl Convert for RawConv {
    fn push(&mut self, timestamp_ns: i64, cdr: &[u8]) -> Result<(), RosError> {
        if i32::try_from(binary_len(&self.data) + cdr.len()).is_err() {
            return Err(RosError::Arrow(
                "batch over 2 GiB: finish() it first".into(),
            ));
        }
        self.ts.append_value(timestamp_ns);
        self.data.append_value(cdr);
        if let Some(env) = &mut self.env {
            env.push(None);
        }
        Ok(())
    }

    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch, RosError> {
        let rows = self.ts.len();
        let mut cols = Columns::default();
        cols.put("timestamp_ns", Arc::new(self.ts.finish()));
        if let Some(env) = &mut self.env {
            env.finish("message_header", &mut cols);
        }
        cols.put("data", finish_binary(&mut self.data));
        cols.assemble(schema, rows)
    }

    fn len(&self) -> usize {
        self.ts.len()
    }

    fn buffered_bytes(&self) -> usize {
        binary_len(&self.data)
    }
}

// ---------------------------------------------------------------------------------------------
// families

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

/// Vector3d / Point3d / Quaternion at top level.
struct VectorF<const N: usize> {
    header: HeaderB,
    v: VecB<N>,
}

impl<const N: usize> VectorF<N> {
    fn new(gen: Generation) -> Self {
        VectorF {
            header: HeaderB::new(gen),
            v: VecB::new(),
        }
    }
    #[inline]
    fn push(&mut self, h: Option<&Header>, v: [f64; N]) -> Result<(), RosError> {
        self.header.push(h);
        self.v.push(v, None, None);
        Ok(())
    }
}

impl<const N: usize> Family for VectorF<N> {
    fn finish(&mut self, cols: &mut Columns) {
        self.header.finish("header", cols);
        self.v.finish("", cols);
    }
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

/// Pose.
struct PoseF {
    header: HeaderB,
    cov: CovB,
    position: VecB<3>,
    orientation: VecB<4>,
}

impl PoseF {
    fn new(gen: Generation) -> Self {
        PoseF {
            header: HeaderB::new(gen),
            cov: CovB::new(),
            position: VecB::new(),
            orientation: VecB::new(),
        }
    }
    #[inline]
    fn push(
        &mut self,
        h: Option<&Header>,
        p: &gm::Pose,
        cov: Option<&[f64]>,
    ) -> Result<(), RosError> {
        self.header.push(h);
        self.cov.push(cov);
        self.position.push(p3(&p.position), None, None);
        self.orientation.push(q4(&p.orientation), None, None);
        Ok(())
    }
}

impl Family for PoseF {
    fn finish(&mut self, cols: &mut Columns) {
        self.header.finish("header", cols);
        self.cov.finish("", cols);
        self.position.finish("position", cols);
        self.orientation.finish("orientation", cols);
    }
}

/// Velocity / Acceleration (`linear`, `angular`), ForceTorque (`force`, `torque`).
struct PairF {
    names: [&'static str; 2],
    header: HeaderB,
    cov: CovB,
    a: VecB<3>,
    b: VecB<3>,
}

impl PairF {
    fn new(gen: Generation, names: [&'static str; 2]) -> Self {
        PairF {
            names,
            header: HeaderB::new(gen),
            cov: CovB::new(),
            a: VecB::new(),
            b: VecB::new(),
        }
    }
    #[inline]
    fn push(
        &mut self,
        h: Option<&Header>,
        a: &gm::Vector3,
        b: &gm::Vector3,
        cov: Option<&[f64]>,
    ) -> Result<(), RosError> {
        self.header.push(h);
        self.cov.push(cov);
        self.a.push(v3(a), None, None);
        self.b.push(v3(b), None, None);
        Ok(())
    }
}

impl Family for PairF {
    fn finish(&mut self, cols: &mut Columns) {
        self.header.finish("header", cols);
        self.cov.finish("", cols);
        self.a.finish(self.names[0], cols);
        self.b.finish(self.names[1], cols);
    }
}

/// Transform.
struct TransformF {
    header: HeaderB,
    translation: VecB<3>,
    rotation: VecB<4>,
    target: StringBuilder,
}

impl TransformF {
    fn new(gen: Generation) -> Self {
        TransformF {
            header: HeaderB::new(gen),
            translation: VecB::new(),
            rotation: VecB::new(),
            target: StringBuilder::new(),
        }
    }
    #[inline]
    fn push(
        &mut self,
        h: Option<&Header>,
        t: &gm::Transform,
        child: Option<&str>,
    ) -> Result<(), RosError> {
        self.header.push(h);
        self.translation.push(v3(&t.translation), None, None);
        self.rotation.push(q4(&t.rotation), None, None);
        self.target.append_option(child);
        Ok(())
    }
    fn finish_at(&mut self, prefix: &str, cols: &mut Columns) {
        self.header.finish(&join(prefix, "header"), cols);
        self.translation.finish(&join(prefix, "translation"), cols);
        self.rotation.finish(&join(prefix, "rotation"), cols);
        cols.put(
            join(prefix, "target_frame_id"),
            Arc::new(self.target.finish()),
        );
    }
}

impl Family for TransformF {
    fn finish(&mut self, cols: &mut Columns) {
        self.finish_at("", cols);
    }
}

/// FrameTransform (`/tf`, `/tf_static`): a list of transforms, each with its own header.
struct FrameTransformF {
    offsets: Vec<i32>,
    t: TransformF,
}

impl Family for FrameTransformF {
    fn finish(&mut self, cols: &mut Columns) {
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        cols.list("transforms", OffsetBuffer::new(offsets.into()), None);
        self.t.finish_at("transforms.item", cols);
    }
}

/// MotionState (nav_msgs/Odometry).
struct MotionStateF {
    header: HeaderB,
    pose_cov: CovB,
    position: VecB<3>,
    orientation: VecB<4>,
    vel_cov: CovB,
    linear: VecB<3>,
    angular: VecB<3>,
    target: StringBuilder,
}

impl Family for MotionStateF {
    fn finish(&mut self, cols: &mut Columns) {
        self.header.finish("header", cols);
        self.pose_cov.finish("pose", cols);
        self.position.finish("pose.position", cols);
        self.orientation.finish("pose.orientation", cols);
        self.vel_cov.finish("velocity", cols);
        self.linear.finish("velocity.linear", cols);
        self.angular.finish("velocity.angular", cols);
        cols.put("target_frame_id", Arc::new(self.target.finish()));
    }
}

/// IMU.
struct ImuF {
    header: HeaderB,
    acc: VecB<3>,
    gyro: VecB<3>,
    ori: VecB<4>,
}

impl Family for ImuF {
    fn finish(&mut self, cols: &mut Columns) {
        self.header.finish("header", cols);
        self.acc.finish("acceleration", cols);
        self.gyro.finish("angular_velocity", cols);
        self.ori.finish("orientation", cols);
    }
}

/// GPS (NavSatFix).
struct GpsF {
    header: HeaderB,
    position: VecB<3>,
    status_present: Validity,
    status: Int8Builder,
    service: UInt16Builder,
}

impl Family for GpsF {
    fn finish(&mut self, cols: &mut Columns) {
        self.header.finish("header", cols);
        self.position.finish("position", cols);
        cols.validity("status", self.status_present.finish());
        cols.put("status.status", Arc::new(self.status.finish()));
        cols.put("status.service", Arc::new(self.service.finish()));
    }
}

/// Image.
struct ImageF {
    mode: ImageCompression,
    header: HeaderB,
    data: BinaryBuilder,
    format: StringBuilder,
    width: Int32Builder,
    height: Int32Builder,
    stride: Int32Builder,
    encoding: StringBuilder,
    bigendian: BooleanBuilder,
}

fn i32_of(v: u32, what: &str) -> Result<i32, RosError> {
    i32::try_from(v).map_err(|_| RosError::InvalidMessage {
        ros_type: sm::Image::TYPE_NAME,
        detail: format!("{what} {v} too large"),
    })
}

fn check_room(b: &BinaryBuilder, more: usize) -> Result<(), RosError> {
    match binary_len(b).checked_add(more) {
        Some(n) if n <= i32::MAX as usize => Ok(()),
        _ => Err(RosError::Arrow(
            "binary column over 2 GiB: finish() the batch first".into(),
        )),
    }
}

impl ImageF {
    fn push(&mut self, m: &sm::Image) -> Result<(), RosError> {
        let (w, h, s) = (
            i32_of(m.width, "width")?,
            i32_of(m.height, "height")?,
            i32_of(m.step, "step")?,
        );
        let png;
        let (data, format): (&[u8], &str) = match self.mode {
            ImageCompression::Png => {
                png = png_wide_grayscale(m)?;
                (&png, "png")
            }
            _ => (&m.data, "raw"),
        };
        check_room(&self.data, data.len())?;
        self.header.push(Some(&m.header));
        self.data.append_value(data);
        self.format.append_value(format);
        self.width.append_value(w);
        self.height.append_value(h);
        self.stride.append_value(s);
        self.encoding.append_value(&m.encoding);
        self.bigendian.append_value(m.is_bigendian != 0);
        Ok(())
    }
}

impl Family for ImageF {
    fn finish(&mut self, cols: &mut Columns) {
        self.header.finish("header", cols);
        cols.put("data", finish_binary(&mut self.data));
        cols.put("format", Arc::new(self.format.finish()));
        cols.put("width", Arc::new(self.width.finish()));
        cols.put("height", Arc::new(self.height.finish()));
        cols.put("stride", Arc::new(self.stride.finish()));
        cols.put("encoding", Arc::new(self.encoding.finish()));
        cols.put("is_bigendian", Arc::new(self.bigendian.finish()));
    }
    fn bytes(&self) -> usize {
        binary_len(&self.data)
    }
}

/// CompressedImage (also `Image` topics compressed to JPEG).
struct CompressedF {
    quality: u8,
    header: HeaderB,
    data: BinaryBuilder,
    format: StringBuilder,
}

/// The ROS `format` string → the ontology's codec set (`raw png jpeg tiff h264 hevc`), as the
/// current SDK parses it: `"jpeg"`; `"rgb8; jpeg compressed bgr8"` → `jpeg`; `"16UC1;
/// compressedDepth png"` → `png`; empty → `png`; anything else → `raw`. `jpg` is spelled `jpeg`
/// (the only spelling both generations accept).
pub fn normalize_compressed_format(ros_format: &str) -> &'static str {
    let parts: Vec<&str> = ros_format.split_whitespace().collect();
    let codec = match parts.as_slice() {
        [] => return "png",
        [one] => *one,
        _ => {
            let depth = parts.iter().position(|p| *p == "compressedDepth");
            let color = parts.iter().position(|p| *p == "compressed");
            match (depth, color) {
                (Some(i), None) => parts.get(i + 1).copied().unwrap_or("png"),
                (None, Some(i)) => parts
                    .get(i.wrapping_sub(1))
                    .copied()
                    .filter(|_| i > 0)
                    .unwrap_or("png"),
                _ => "raw",
            }
        }
    };
    match codec.trim_end_matches(';').to_ascii_lowercase().as_str() {
        "png" => "png",
        "jpeg" | "jpg" => "jpeg",
        "tiff" | "tif" => "tiff",
        "h264" => "h264",
        "hevc" | "h265" => "hevc",
        _ => "raw",
    }
}

impl CompressedF {
    fn push(&mut self, h: &Header, data: &[u8], format: &str) -> Result<(), RosError> {
        check_room(&self.data, data.len())?;
        self.header.push(Some(h));
        self.data.append_value(data);
        self.format.append_value(format);
        Ok(())
    }
}

impl Family for CompressedF {
    fn finish(&mut self, cols: &mut Columns) {
        self.header.finish("header", cols);
        cols.put("data", finish_binary(&mut self.data));
        cols.put("format", Arc::new(self.format.finish()));
    }
    fn bytes(&self) -> usize {
        binary_len(&self.data)
    }
}

/// CameraInfo.
struct CameraInfoF {
    header: HeaderB,
    height: UInt32Builder,
    width: UInt32Builder,
    model: StringBuilder,
    d: F64List,
    k: FixedSizeListBuilder<Float64Builder>,
    r: FixedSizeListBuilder<Float64Builder>,
    p: FixedSizeListBuilder<Float64Builder>,
    binning: VecB<2>,
    roi: RoiB,
}

impl Family for CameraInfoF {
    fn finish(&mut self, cols: &mut Columns) {
        self.header.finish("header", cols);
        cols.put("height", Arc::new(self.height.finish()));
        cols.put("width", Arc::new(self.width.finish()));
        cols.put("distortion_model", Arc::new(self.model.finish()));
        cols.put("distortion_parameters", Arc::new(self.d.finish()));
        cols.put("intrinsic_parameters", Arc::new(self.k.finish()));
        cols.put("rectification_parameters", Arc::new(self.r.finish()));
        cols.put("projection_parameters", Arc::new(self.p.finish()));
        self.binning.finish("binning", cols);
        self.roi.finish("roi", cols);
    }
}

/// ROI (alone, or inside CameraInfo).
struct RoiB {
    present: Validity,
    offset: VecB<2>,
    height: UInt32Builder,
    width: UInt32Builder,
    rectify: BooleanBuilder,
}

impl RoiB {
    fn new() -> Self {
        RoiB {
            present: Validity::default(),
            offset: VecB::new(),
            height: UInt32Builder::new(),
            width: UInt32Builder::new(),
            rectify: BooleanBuilder::new(),
        }
    }
    fn push(&mut self, r: Option<&sm::RegionOfInterest>) {
        self.present.push(r.is_some());
        let r = r.cloned().unwrap_or_default();
        self.offset
            .push([r.x_offset as f64, r.y_offset as f64], None, None);
        self.height.append_value(r.height);
        self.width.append_value(r.width);
        self.rectify.append_value(r.do_rectify);
    }
    fn finish(&mut self, path: &str, cols: &mut Columns) {
        cols.validity(path.to_string(), self.present.finish());
        self.offset.finish(&join(path, "offset"), cols);
        cols.put(join(path, "height"), Arc::new(self.height.finish()));
        cols.put(join(path, "width"), Arc::new(self.width.finish()));
        cols.put(join(path, "do_rectify"), Arc::new(self.rectify.finish()));
    }
}

impl Family for RoiB {
    fn finish(&mut self, cols: &mut Columns) {
        RoiB::finish(self, "", cols)
    }
}

/// RobotJoint (JointState).
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

/// BatteryState.
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

/// NMEASentence.
struct NmeaF {
    header: HeaderB,
    sentence: StringBuilder,
}

impl Family for NmeaF {
    fn finish(&mut self, cols: &mut Columns) {
        self.header.finish("header", cols);
        cols.put("sentence", Arc::new(self.sentence.finish()));
    }
}

/// Magnetometer.
struct MagF {
    header: HeaderB,
    field: VecB<3>,
}

impl Family for MagF {
    fn finish(&mut self, cols: &mut Columns) {
        self.header.finish("header", cols);
        self.field.finish("magnetic_field", cols);
    }
}

/// PointCloud2 (ROS-shaped: field list plus the point buffer as one blob).
struct CloudF {
    header: HeaderB,
    height: UInt32Builder,
    width: UInt32Builder,
    field_offsets: Vec<i32>,
    f_name: StringBuilder,
    f_offset: UInt32Builder,
    f_datatype: Int64Builder,
    f_count: UInt32Builder,
    bigendian: BooleanBuilder,
    point_step: UInt32Builder,
    row_step: UInt32Builder,
    data: BinaryBuilder,
    dense: BooleanBuilder,
}

impl CloudF {
    fn push(&mut self, m: &sm::PointCloud2) -> Result<(), RosError> {
        check_room(&self.data, m.data.len())?;
        let n = self.field_offsets.last().copied().unwrap_or(0) as usize + m.fields.len();
        let n = i32::try_from(n)
            .map_err(|_| RosError::Arrow("too many point fields in one batch".into()))?;
        self.header.push(Some(&m.header));
        self.height.append_value(m.height);
        self.width.append_value(m.width);
        for f in &m.fields {
            self.f_name.append_value(&f.name);
            self.f_offset.append_value(f.offset);
            self.f_datatype.append_value(f.datatype as i64);
            self.f_count.append_value(f.count);
        }
        self.field_offsets.push(n);
        self.bigendian.append_value(m.is_bigendian);
        self.point_step.append_value(m.point_step);
        self.row_step.append_value(m.row_step);
        self.data.append_value(&m.data);
        self.dense.append_value(m.is_dense);
        Ok(())
    }
}

impl Family for CloudF {
    fn finish(&mut self, cols: &mut Columns) {
        self.header.finish("header", cols);
        cols.put("height", Arc::new(self.height.finish()));
        cols.put("width", Arc::new(self.width.finish()));
        let offsets = std::mem::replace(&mut self.field_offsets, vec![0]);
        cols.list("fields", OffsetBuffer::new(offsets.into()), None);
        cols.put("fields.item.name", Arc::new(self.f_name.finish()));
        cols.put("fields.item.offset", Arc::new(self.f_offset.finish()));
        cols.put("fields.item.datatype", Arc::new(self.f_datatype.finish()));
        cols.put("fields.item.count", Arc::new(self.f_count.finish()));
        cols.put("is_bigendian", Arc::new(self.bigendian.finish()));
        cols.put("point_step", Arc::new(self.point_step.finish()));
        cols.put("row_step", Arc::new(self.row_step.finish()));
        cols.put("data", finish_binary(&mut self.data));
        cols.put("is_dense", Arc::new(self.dense.finish()));
    }
    fn bytes(&self) -> usize {
        binary_len(&self.data)
    }
}

/// LaserScan.
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

/// Range.
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

/// A scalar measurement with variance (Temperature, Pressure, Humidity, Illumination).
struct ValueF {
    header: HeaderB,
    value: Float64Builder,
    variance: Float64Builder,
}

impl ValueF {
    #[inline]
    fn push(&mut self, h: &Header, value: f64, variance: f64) -> Result<(), RosError> {
        self.header.push(Some(h));
        self.value.append_value(value);
        // 0 means unknown (SDK rule)
        self.variance
            .append_option((variance > 0.0).then_some(variance));
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

/// Joy.
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

/// Header / Time / Duration as topics (current generation only).
struct HeaderTopicF(HeaderB);

impl Family for HeaderTopicF {
    fn finish(&mut self, cols: &mut Columns) {
        self.0.finish("", cols);
    }
}

struct TimeF {
    sec: Int32Builder,
    nsec: UInt32Builder,
}

impl Family for TimeF {
    fn finish(&mut self, cols: &mut Columns) {
        cols.put("seconds", Arc::new(self.sec.finish()));
        cols.put("nanoseconds", Arc::new(self.nsec.finish()));
    }
}

// ---------------------------------------------------------------------------------------------
// the table

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

fn cov_of<const N: usize>(c: &[f64; N]) -> Option<&[f64]> {
    Some(&c[..])
}

/// (ontology class, conversion) for `ros_type`, or `None` when it has no typed mapping.
pub(crate) fn build(
    ros_type: &str,
    gen: Generation,
    opts: &AdapterOptions,
) -> Option<(&'static str, Box<dyn Convert>)> {
    use Generation::Current;
    let hb = || HeaderB::new(gen);
    let pose = || PoseF::new(gen);
    let vel = || PairF::new(gen, ["linear", "angular"]);
    let ft = || PairF::new(gen, ["force", "torque"]);
    let value = || ValueF {
        header: hb(),
        value: Float64Builder::new(),
        variance: Float64Builder::new(),
    };
    let f64l = || ListBuilder::new(Float64Builder::new());
    let f32l = || ListBuilder::new(Float32Builder::new());
    Some(match ros_type {
        // std_msgs
        "std_msgs/msg/String" => (
            "String",
            conv::<stdm::String, _>(
                gen,
                Data(StringBuilder::new()),
                |m, f| {
                    f.0.append_value(&m.data);
                    Ok(())
                },
                no_header,
            ),
        ),
        "std_msgs/msg/Bool" => (
            "Boolean",
            conv::<stdm::Bool, _>(
                gen,
                Data(BooleanBuilder::new()),
                |m, f| {
                    f.0.append_value(m.data);
                    Ok(())
                },
                no_header,
            ),
        ),
        "std_msgs/msg/Int8" => ("Integer8", scalar::<stdm::Int8, Int8Type>(gen, |m| m.data)),
        "std_msgs/msg/Int16" => (
            "Integer16",
            scalar::<stdm::Int16, Int16Type>(gen, |m| m.data),
        ),
        "std_msgs/msg/Int32" => (
            "Integer32",
            scalar::<stdm::Int32, Int32Type>(gen, |m| m.data),
        ),
        "std_msgs/msg/Int64" => (
            "Integer64",
            scalar::<stdm::Int64, Int64Type>(gen, |m| m.data),
        ),
        "std_msgs/msg/UInt8" => (
            "Unsigned8",
            scalar::<stdm::UInt8, UInt8Type>(gen, |m| m.data),
        ),
        "std_msgs/msg/UInt16" => (
            "Unsigned16",
            scalar::<stdm::UInt16, UInt16Type>(gen, |m| m.data),
        ),
        "std_msgs/msg/UInt32" => (
            "Unsigned32",
            scalar::<stdm::UInt32, UInt32Type>(gen, |m| m.data),
        ),
        "std_msgs/msg/UInt64" => (
            "Unsigned64",
            scalar::<stdm::UInt64, UInt64Type>(gen, |m| m.data),
        ),
        "std_msgs/msg/Float32" => (
            "Floating32",
            scalar::<stdm::Float32, Float32Type>(gen, |m| m.data),
        ),
        "std_msgs/msg/Float64" => (
            "Floating64",
            scalar::<stdm::Float64, Float64Type>(gen, |m| m.data),
        ),
        "std_msgs/msg/Header" if gen == Current => (
            "Header",
            conv::<stdm::Header, _>(
                gen,
                HeaderTopicF(hb()),
                |m, f| {
                    f.0.push(Some(m));
                    Ok(())
                },
                no_header,
            ),
        ),
        "builtin_interfaces/msg/Time" | "builtin_interfaces/msg/Duration" if gen == Current => {
            let f = TimeF {
                sec: Int32Builder::new(),
                nsec: UInt32Builder::new(),
            };
            let push_time: PushFn<bi::Time, TimeF> = |m, f| {
                f.sec.append_value(m.sec);
                f.nsec.append_value(m.nanosec);
                Ok(())
            };
            let push_dur: PushFn<bi::Duration, TimeF> = |m, f| {
                f.sec.append_value(m.sec);
                f.nsec.append_value(m.nanosec);
                Ok(())
            };
            if ros_type.ends_with("Time") {
                ("Time", conv(gen, f, push_time, no_header))
            } else {
                ("Duration", conv(gen, f, push_dur, no_header))
            }
        }

        // geometry_msgs: vectors
        "geometry_msgs/msg/Vector3" => (
            "Vector3d",
            conv::<gm::Vector3, _>(
                gen,
                VectorF::<3>::new(gen),
                |m, f| f.push(None, v3(m)),
                no_header,
            ),
        ),
        "geometry_msgs/msg/Vector3Stamped" => (
            "Vector3d",
            conv::<gm::Vector3Stamped, _>(
                gen,
                VectorF::<3>::new(gen),
                |m, f| f.push(Some(&m.header), v3(&m.vector)),
                |m| Some(&m.header),
            ),
        ),
        "geometry_msgs/msg/Point" => (
            "Point3d",
            conv::<gm::Point, _>(
                gen,
                VectorF::<3>::new(gen),
                |m, f| f.push(None, p3(m)),
                no_header,
            ),
        ),
        "geometry_msgs/msg/PointStamped" => (
            "Point3d",
            conv::<gm::PointStamped, _>(
                gen,
                VectorF::<3>::new(gen),
                |m, f| f.push(Some(&m.header), p3(&m.point)),
                |m| Some(&m.header),
            ),
        ),
        "geometry_msgs/msg/Quaternion" => (
            "Quaternion",
            conv::<gm::Quaternion, _>(
                gen,
                VectorF::<4>::new(gen),
                |m, f| f.push(None, q4(m)),
                no_header,
            ),
        ),
        "geometry_msgs/msg/QuaternionStamped" => (
            "Quaternion",
            conv::<gm::QuaternionStamped, _>(
                gen,
                VectorF::<4>::new(gen),
                |m, f| f.push(Some(&m.header), q4(&m.quaternion)),
                |m| Some(&m.header),
            ),
        ),

        // poses, twists, accels, wrenches, transforms
        "geometry_msgs/msg/Pose" => (
            "Pose",
            conv::<gm::Pose, _>(gen, pose(), |m, f| f.push(None, m, None), no_header),
        ),
        "geometry_msgs/msg/PoseStamped" => (
            "Pose",
            conv::<gm::PoseStamped, _>(
                gen,
                pose(),
                |m, f| f.push(Some(&m.header), &m.pose, None),
                |m| Some(&m.header),
            ),
        ),
        "geometry_msgs/msg/PoseWithCovariance" => (
            "Pose",
            conv::<gm::PoseWithCovariance, _>(
                gen,
                pose(),
                |m, f| f.push(None, &m.pose, cov_of(&m.covariance)),
                no_header,
            ),
        ),
        "geometry_msgs/msg/PoseWithCovarianceStamped" => (
            "Pose",
            conv::<gm::PoseWithCovarianceStamped, _>(
                gen,
                pose(),
                |m, f| f.push(Some(&m.header), &m.pose.pose, cov_of(&m.pose.covariance)),
                |m| Some(&m.header),
            ),
        ),
        "geometry_msgs/msg/Twist" => (
            "Velocity",
            conv::<gm::Twist, _>(
                gen,
                vel(),
                |m, f| f.push(None, &m.linear, &m.angular, None),
                no_header,
            ),
        ),
        "geometry_msgs/msg/TwistStamped" => (
            "Velocity",
            conv::<gm::TwistStamped, _>(
                gen,
                vel(),
                |m, f| f.push(Some(&m.header), &m.twist.linear, &m.twist.angular, None),
                |m| Some(&m.header),
            ),
        ),
        "geometry_msgs/msg/TwistWithCovariance" => (
            "Velocity",
            conv::<gm::TwistWithCovariance, _>(
                gen,
                vel(),
                |m, f| {
                    f.push(
                        None,
                        &m.twist.linear,
                        &m.twist.angular,
                        cov_of(&m.covariance),
                    )
                },
                no_header,
            ),
        ),
        "geometry_msgs/msg/TwistWithCovarianceStamped" => (
            "Velocity",
            conv::<gm::TwistWithCovarianceStamped, _>(
                gen,
                vel(),
                |m, f| {
                    f.push(
                        Some(&m.header),
                        &m.twist.twist.linear,
                        &m.twist.twist.angular,
                        cov_of(&m.twist.covariance),
                    )
                },
                |m| Some(&m.header),
            ),
        ),
        "geometry_msgs/msg/Accel" => (
            "Acceleration",
            conv::<gm::Accel, _>(
                gen,
                vel(),
                |m, f| f.push(None, &m.linear, &m.angular, None),
                no_header,
            ),
        ),
        "geometry_msgs/msg/AccelStamped" => (
            "Acceleration",
            conv::<gm::AccelStamped, _>(
                gen,
                vel(),
                |m, f| f.push(Some(&m.header), &m.accel.linear, &m.accel.angular, None),
                |m| Some(&m.header),
            ),
        ),
        "geometry_msgs/msg/AccelWithCovariance" => (
            "Acceleration",
            conv::<gm::AccelWithCovariance, _>(
                gen,
                vel(),
                |m, f| {
                    f.push(
                        None,
                        &m.accel.linear,
                        &m.accel.angular,
                        cov_of(&m.covariance),
                    )
                },
                no_header,
            ),
        ),
        "geometry_msgs/msg/AccelWithCovarianceStamped" => (
            "Acceleration",
            conv::<gm::AccelWithCovarianceStamped, _>(
                gen,
                vel(),
                |m, f| {
                    f.push(
                        Some(&m.header),
                        &m.accel.accel.linear,
                        &m.accel.accel.angular,
                        cov_of(&m.accel.covariance),
                    )
                },
                |m| Some(&m.header),
            ),
        ),
        "geometry_msgs/msg/Wrench" => (
            "ForceTorque",
            conv::<gm::Wrench, _>(
                gen,
                ft(),
                |m, f| f.push(None, &m.force, &m.torque, None),
                no_header,
            ),
        ),
        "geometry_msgs/msg/WrenchStamped" => (
            "ForceTorque",
            conv::<gm::WrenchStamped, _>(
                gen,
                ft(),
                |m, f| f.push(Some(&m.header), &m.wrench.force, &m.wrench.torque, None),
                |m| Some(&m.header),
            ),
        ),
        "geometry_msgs/msg/Transform" => (
            "Transform",
            conv::<gm::Transform, _>(
                gen,
                TransformF::new(gen),
                |m, f| f.push(None, m, None),
                no_header,
            ),
        ),
        "geometry_msgs/msg/TransformStamped" => (
            "Transform",
            conv::<gm::TransformStamped, _>(
                gen,
                TransformF::new(gen),
                |m, f| f.push(Some(&m.header), &m.transform, Some(&m.child_frame_id)),
                |m| Some(&m.header),
            ),
        ),
        "tf2_msgs/msg/TFMessage" => (
            "FrameTransform",
            conv::<tf2_msgs::TFMessage, _>(
                gen,
                FrameTransformF {
                    offsets: vec![0],
                    t: TransformF::new(gen),
                },
                |m, f| {
                    let last = *f.offsets.last().unwrap_or(&0) as usize;
                    let end = i32::try_from(last + m.transforms.len())
                        .map_err(|_| RosError::Arrow("too many transforms in one batch".into()))?;
                    for t in &m.transforms {
                        f.t.push(Some(&t.header), &t.transform, Some(&t.child_frame_id))?;
                    }
                    f.offsets.push(end);
                    Ok(())
                },
                no_header,
            ),
        ),
        "nav_msgs/msg/Odometry" => (
            "MotionState",
            conv::<nav_msgs::Odometry, _>(
                gen,
                MotionStateF {
                    header: hb(),
                    pose_cov: CovB::new(),
                    position: VecB::new(),
                    orientation: VecB::new(),
                    vel_cov: CovB::new(),
                    linear: VecB::new(),
                    angular: VecB::new(),
                    target: StringBuilder::new(),
                },
                |m, f| {
                    f.header.push(Some(&m.header));
                    f.pose_cov.push(cov_of(&m.pose.covariance));
                    f.position.push(p3(&m.pose.pose.position), None, None);
                    f.orientation.push(q4(&m.pose.pose.orientation), None, None);
                    f.vel_cov.push(cov_of(&m.twist.covariance));
                    f.linear.push(v3(&m.twist.twist.linear), None, None);
                    f.angular.push(v3(&m.twist.twist.angular), None, None);
                    f.target.append_value(&m.child_frame_id);
                    Ok(())
                },
                |m| Some(&m.header),
            ),
        ),

        // sensor_msgs
        "sensor_msgs/msg/Imu" => (
            "IMU",
            conv::<sm::Imu, _>(
                gen,
                ImuF {
                    header: hb(),
                    acc: VecB::new(),
                    gyro: VecB::new(),
                    ori: VecB::new(),
                },
                |m, f| {
                    f.header.push(Some(&m.header));
                    f.acc.push(
                        v3(&m.linear_acceleration),
                        cov_of(&m.linear_acceleration_covariance),
                        None,
                    );
                    f.gyro.push(
                        v3(&m.angular_velocity),
                        cov_of(&m.angular_velocity_covariance),
                        None,
                    );
                    // REP 145: orientation_covariance[0] == -1 means "no orientation estimate"
                    if m.orientation_covariance[0] == -1.0 {
                        f.ori.push_null();
                    } else {
                        f.ori
                            .push(q4(&m.orientation), cov_of(&m.orientation_covariance), None);
                    }
                    Ok(())
                },
                |m| Some(&m.header),
            ),
        ),
        "sensor_msgs/msg/NavSatFix" => (
            "GPS",
            conv::<sm::NavSatFix, _>(
                gen,
                GpsF {
                    header: hb(),
                    position: VecB::new(),
                    status_present: Validity::default(),
                    status: Int8Builder::new(),
                    service: UInt16Builder::new(),
                },
                |m, f| {
                    f.header.push(Some(&m.header));
                    f.position.push(
                        [m.latitude, m.longitude, m.altitude],
                        cov_of(&m.position_covariance),
                        Some(m.position_covariance_type as i16),
                    );
                    // valid when status >= STATUS_NO_FIX (-1), as the SDK decides
                    f.status_present.push(m.status.status >= -1);
                    f.status.append_value(m.status.status);
                    f.service.append_value(m.status.service);
                    Ok(())
                },
                |m| Some(&m.header),
            ),
        ),
        "sensor_msgs/msg/NavSatStatus" => {
            struct StatusF(Int8Builder, UInt16Builder);
            impl Family for StatusF {
                fn finish(&mut self, cols: &mut Columns) {
                    cols.put("status", Arc::new(self.0.finish()));
                    cols.put("service", Arc::new(self.1.finish()));
                }
            }
            (
                "GPSStatus",
                conv::<sm::NavSatStatus, _>(
                    gen,
                    StatusF(Int8Builder::new(), UInt16Builder::new()),
                    |m, f| {
                        f.0.append_value(m.status);
                        f.1.append_value(m.service);
                        Ok(())
                    },
                    no_header,
                ),
            )
        }
        "sensor_msgs/msg/Image" => match opts.image {
            ImageCompression::Jpeg { quality } => (
                "CompressedImage",
                conv::<sm::Image, _>(
                    gen,
                    CompressedF {
                        quality,
                        header: hb(),
                        data: BinaryBuilder::new(),
                        format: StringBuilder::new(),
                    },
                    |m, f| {
                        let j = jpeg(m, f.quality)?;
                        f.push(&m.header, &j, "jpeg")
                    },
                    |m| Some(&m.header),
                ),
            ),
            mode => (
                "Image",
                conv::<sm::Image, _>(
                    gen,
                    ImageF {
                        mode,
                        header: hb(),
                        data: BinaryBuilder::new(),
                        format: StringBuilder::new(),
                        width: Int32Builder::new(),
                        height: Int32Builder::new(),
                        stride: Int32Builder::new(),
                        encoding: StringBuilder::new(),
                        bigendian: BooleanBuilder::new(),
                    },
                    |m, f| f.push(m),
                    |m| Some(&m.header),
                ),
            ),
        },
        "sensor_msgs/msg/CompressedImage" => (
            "CompressedImage",
            conv::<sm::CompressedImage, _>(
                gen,
                CompressedF {
                    quality: 0,
                    header: hb(),
                    data: BinaryBuilder::new(),
                    format: StringBuilder::new(),
                },
                |m, f| f.push(&m.header, &m.data, normalize_compressed_format(&m.format)),
                |m| Some(&m.header),
            ),
        ),
        "sensor_msgs/msg/CameraInfo" => (
            "CameraInfo",
            conv::<sm::CameraInfo, _>(
                gen,
                CameraInfoF {
                    header: hb(),
                    height: UInt32Builder::new(),
                    width: UInt32Builder::new(),
                    model: StringBuilder::new(),
                    d: f64l(),
                    k: FixedSizeListBuilder::new(Float64Builder::new(), 9),
                    r: FixedSizeListBuilder::new(Float64Builder::new(), 9),
                    p: FixedSizeListBuilder::new(Float64Builder::new(), 12),
                    binning: VecB::new(),
                    roi: RoiB::new(),
                },
                |m, f| {
                    f.header.push(Some(&m.header));
                    f.height.append_value(m.height);
                    f.width.append_value(m.width);
                    f.model.append_value(&m.distortion_model);
                    f.d.values().append_slice(&m.d);
                    f.d.append(true);
                    for (b, v) in [
                        (&mut f.k, &m.k[..]),
                        (&mut f.r, &m.r[..]),
                        (&mut f.p, &m.p[..]),
                    ] {
                        b.values().append_slice(v);
                        b.append(true);
                    }
                    // 0 and 1 both mean "no binning"; an all-zero ROI means "full image" (SDK rules)
                    if m.binning_x > 1 && m.binning_y > 1 {
                        f.binning
                            .push([m.binning_x as f64, m.binning_y as f64], None, None);
                    } else {
                        f.binning.push_null();
                    }
                    let empty = m.roi == sm::RegionOfInterest::default();
                    f.roi.push((!empty).then_some(&m.roi));
                    Ok(())
                },
                |m| Some(&m.header),
            ),
        ),
        "sensor_msgs/msg/RegionOfInterest" => (
            "ROI",
            conv::<sm::RegionOfInterest, _>(
                gen,
                RoiB::new(),
                |m, f| {
                    f.push(Some(m));
                    Ok(())
                },
                no_header,
            ),
        ),
        "sensor_msgs/msg/JointState" => (
            "RobotJoint",
            conv::<sm::JointState, _>(
                gen,
                JointF {
                    header: hb(),
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
            ),
        ),
        "sensor_msgs/msg/BatteryState" => (
            "BatteryState",
            conv::<sm::BatteryState, _>(
                gen,
                BatteryF {
                    header: hb(),
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
            ),
        ),
        "nmea_msgs/msg/Sentence" => (
            "NMEASentence",
            conv::<nmea_msgs::Sentence, _>(
                gen,
                NmeaF {
                    header: hb(),
                    sentence: StringBuilder::new(),
                },
                |m, f| {
                    f.header.push(Some(&m.header));
                    f.sentence.append_value(&m.sentence);
                    Ok(())
                },
                |m| Some(&m.header),
            ),
        ),
        "sensor_msgs/msg/MagneticField" => (
            "Magnetometer",
            conv::<sm::MagneticField, _>(
                gen,
                MagF {
                    header: hb(),
                    field: VecB::new(),
                },
                |m, f| {
                    // tesla → microtesla, the unit the ontology documents; variances scale by 1e12
                    const UT: f64 = 1e6;
                    let c = m.magnetic_field_covariance.map(|v| v * UT * UT);
                    f.header.push(Some(&m.header));
                    let v = v3(&m.magnetic_field).map(|x| x * UT);
                    f.field.push(v, Some(&c), None);
                    Ok(())
                },
                |m| Some(&m.header),
            ),
        ),
        "sensor_msgs/msg/PointCloud2" => (
            "PointCloud2",
            conv::<sm::PointCloud2, _>(
                gen,
                CloudF {
                    header: hb(),
                    height: UInt32Builder::new(),
                    width: UInt32Builder::new(),
                    field_offsets: vec![0],
                    f_name: StringBuilder::new(),
                    f_offset: UInt32Builder::new(),
                    f_datatype: Int64Builder::new(),
                    f_count: UInt32Builder::new(),
                    bigendian: BooleanBuilder::new(),
                    point_step: UInt32Builder::new(),
                    row_step: UInt32Builder::new(),
                    data: BinaryBuilder::new(),
                    dense: BooleanBuilder::new(),
                },
                |m, f| f.push(m),
                |m| Some(&m.header),
            ),
        ),
        "sensor_msgs/msg/LaserScan" => (
            "LaserScan",
            conv::<sm::LaserScan, _>(
                gen,
                ScanF {
                    header: hb(),
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
            ),
        ),
        "sensor_msgs/msg/Range" => (
            "Range",
            conv::<sm::Range, _>(
                gen,
                RangeF {
                    header: hb(),
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
                    f.variance
                        .append_option((m.variance > 0.0).then_some(m.variance as f64));
                    Ok(())
                },
                |m| Some(&m.header),
            ),
        ),
        "sensor_msgs/msg/Temperature" => (
            "Temperature",
            conv::<sm::Temperature, _>(
                gen,
                value(),
                // °C → K as the ontology stores; a variance is the same in both
                |m, f| f.push(&m.header, m.temperature + 273.15, m.variance),
                |m| Some(&m.header),
            ),
        ),
        "sensor_msgs/msg/FluidPressure" => (
            "Pressure",
            conv::<sm::FluidPressure, _>(
                gen,
                value(),
                |m, f| f.push(&m.header, m.fluid_pressure, m.variance),
                |m| Some(&m.header),
            ),
        ),
        "sensor_msgs/msg/RelativeHumidity" => (
            "Humidity",
            conv::<sm::RelativeHumidity, _>(
                gen,
                value(),
                |m, f| f.push(&m.header, m.relative_humidity, m.variance),
                |m| Some(&m.header),
            ),
        ),
        "sensor_msgs/msg/Illuminance" => (
            "Illumination",
            conv::<sm::Illuminance, _>(
                gen,
                value(),
                |m, f| f.push(&m.header, m.illuminance, m.variance),
                |m| Some(&m.header),
            ),
        ),
        "sensor_msgs/msg/Joy" => (
            "Joy",
            conv::<sm::Joy, _>(
                gen,
                JoyF {
                    header: hb(),
                    axes: f32l(),
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
            ),
        ),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::normalize_compressed_format as n;

    #[test]
    fn compressed_formats() {
        assert_eq!(n("jpeg"), "jpeg");
        assert_eq!(n("jpg"), "jpeg");
        assert_eq!(n("PNG"), "png");
        assert_eq!(n(""), "png");
        assert_eq!(n("rgb8; jpeg compressed bgr8"), "jpeg");
        assert_eq!(n("bgr8; png compressed "), "png");
        assert_eq!(n("16UC1; compressedDepth png"), "png");
        assert_eq!(n("32FC1; compressedDepth rvl"), "raw");
        assert_eq!(n("h264"), "h264");
        assert_eq!(n("weird stuff here"), "raw");
    }
}
