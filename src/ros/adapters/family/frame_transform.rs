//! FrameTransform (`tf2_msgs/TFMessage`: `/tf`, `/tf_static`): a list of transforms, each with its
//! own header.

use arrow::buffer::OffsetBuffer;

use super::geometry::{transform_stamped_at, TransformF};
use super::{cdr, conv, no_header, Family};
use crate::protocol::Generation;
use crate::ros::adapters::columns::Columns;
use crate::ros::adapters::rows::Row;
use crate::ros::adapters::Convert;
use crate::ros::msgs::tf2_msgs;
use crate::ros::RosError;

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

pub(crate) fn decoder(gen: Generation) -> Box<dyn Convert> {
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
    )
}

pub(crate) fn encode(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(tf2_msgs::TFMessage {
        transforms: r
            .items("transforms")
            .map(|t| transform_stamped_at(&t, "transforms.item"))
            .collect(),
    })
}
