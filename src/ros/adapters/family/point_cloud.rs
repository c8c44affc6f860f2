//! PointCloud2 (`sensor_msgs/PointCloud2`), ROS-shaped: the field list plus the point buffer as
//! one blob.

use std::sync::Arc;

use arrow::array::{BinaryBuilder, BooleanBuilder, Int64Builder, StringBuilder, UInt32Builder};
use arrow::buffer::OffsetBuffer;

use super::{cdr_sized, check_room, conv, finish_binary, Family};
use crate::protocol::Generation;
use crate::ros::adapters::columns::{binary_len, Columns, HeaderB};
use crate::ros::adapters::rows::Row;
use crate::ros::adapters::Convert;
use crate::ros::msgs::sensor_msgs as sm;
use crate::ros::RosError;

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

pub(crate) fn decoder(gen: Generation) -> Box<dyn Convert> {
    conv::<sm::PointCloud2, _>(
        gen,
        CloudF {
            header: HeaderB::new(gen),
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
    )
}

pub(crate) fn encode(r: &Row<'_>) -> Result<Vec<u8>, String> {
    let fields = r
        .items("fields")
        .map(|f| sm::PointField {
            name: f.string("fields.item.name"),
            offset: f.u32("fields.item.offset"),
            datatype: f.u8("fields.item.datatype"),
            count: f.u32("fields.item.count"),
        })
        .collect();
    let data = r.shared_bytes("data");
    let blob = data.len();
    cdr_sized(
        sm::PointCloud2 {
            header: r.header("header"),
            height: r.u32("height"),
            width: r.u32("width"),
            fields,
            is_bigendian: r.bool("is_bigendian"),
            point_step: r.u32("point_step"),
            row_step: r.u32("row_step"),
            data,
            is_dense: r.bool("is_dense"),
        },
        blob,
    )
}
