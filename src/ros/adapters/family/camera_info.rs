//! CameraInfo (`sensor_msgs/CameraInfo`) and ROI (`sensor_msgs/RegionOfInterest`, alone or inside
//! CameraInfo).

use std::sync::Arc;

use arrow::array::{
    BooleanBuilder, FixedSizeListBuilder, Float64Builder, ListBuilder, StringBuilder, UInt32Builder,
};

use super::{cdr, conv, no_header, Family};
use crate::protocol::Generation;
use crate::ros::adapters::columns::{join, Columns, F64List, HeaderB, Validity, VecB};
use crate::ros::adapters::rows::Row;
use crate::ros::adapters::Convert;
use crate::ros::cdr::Array;
use crate::ros::msgs::sensor_msgs as sm;

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

pub(crate) fn camera_info(gen: Generation) -> Box<dyn Convert> {
    let fixed = |n| FixedSizeListBuilder::new(Float64Builder::new(), n);
    conv::<sm::CameraInfo, _>(
        gen,
        CameraInfoF {
            header: HeaderB::new(gen),
            height: UInt32Builder::new(),
            width: UInt32Builder::new(),
            model: StringBuilder::new(),
            d: ListBuilder::new(Float64Builder::new()),
            k: fixed(9),
            r: fixed(9),
            p: fixed(12),
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
            // 0 × 0 is "no binning", stored null as the SDK does (and read back as 0 × 0); any
            // other binning, 1 × 1 and 4 × 1 included, as received. An all-zero ROI means "full
            // image" (SDK rule).
            if (m.binning_x, m.binning_y) != (0, 0) {
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
    )
}

pub(crate) fn region_of_interest(gen: Generation) -> Box<dyn Convert> {
    conv::<sm::RegionOfInterest, _>(
        gen,
        RoiB::new(),
        |m, f| {
            f.push(Some(m));
            Ok(())
        },
        no_header,
    )
}

/// The ROI at `p`; a null one (CameraInfo's "full image") is all zeros.
fn roi_at(r: &Row<'_>, p: &str) -> sm::RegionOfInterest {
    if !p.is_empty() && !r.present(p) {
        return sm::RegionOfInterest::default();
    }
    sm::RegionOfInterest {
        x_offset: r.u32(&join(p, "offset.x")),
        y_offset: r.u32(&join(p, "offset.y")),
        height: r.u32(&join(p, "height")),
        width: r.u32(&join(p, "width")),
        do_rectify: r.bool(&join(p, "do_rectify")),
    }
}

pub(crate) fn encode_camera_info(r: &Row<'_>) -> Result<Vec<u8>, String> {
    // a null binning is "no binning", stored for 0 × 0 only
    let (binning_x, binning_y) = if r.present("binning") {
        (r.u32("binning.x"), r.u32("binning.y"))
    } else {
        (0, 0)
    };
    cdr(sm::CameraInfo {
        header: r.header("header"),
        height: r.u32("height"),
        width: r.u32("width"),
        distortion_model: r.string("distortion_model"),
        d: r.f64s("distortion_parameters"),
        k: Array(r.cov("intrinsic_parameters")),
        r: Array(r.cov("rectification_parameters")),
        p: Array(r.cov("projection_parameters")),
        binning_x,
        binning_y,
        roi: roi_at(r, "roi"),
    })
}

pub(crate) fn encode_region_of_interest(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(roi_at(r, ""))
}
