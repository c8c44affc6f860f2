//! MotionState (`nav_msgs/Odometry`).

use std::sync::Arc;

use arrow::array::StringBuilder;

use super::{cdr, conv, cov_of, p3, q4, v3, Family};
use crate::protocol::Generation;
use crate::ros::adapters::columns::{Columns, CovB, HeaderB, VecB};
use crate::ros::adapters::rows::Row;
use crate::ros::adapters::Convert;
use crate::ros::cdr::Array;
use crate::ros::msgs::geometry_msgs as gm;
use crate::ros::msgs::nav_msgs;

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

pub(crate) fn decoder(gen: Generation) -> Box<dyn Convert> {
    conv::<nav_msgs::Odometry, _>(
        gen,
        MotionStateF {
            header: HeaderB::new(gen),
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
    )
}

pub(crate) fn encode(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(nav_msgs::Odometry {
        header: r.header("header"),
        child_frame_id: r.string("target_frame_id"),
        pose: gm::PoseWithCovariance {
            pose: gm::Pose {
                position: r.point("pose.position"),
                orientation: r.quaternion("pose.orientation"),
            },
            covariance: Array(r.cov("pose.covariance")),
        },
        twist: gm::TwistWithCovariance {
            twist: gm::Twist {
                linear: r.vector3("velocity.linear"),
                angular: r.vector3("velocity.angular"),
            },
            covariance: Array(r.cov("velocity.covariance")),
        },
    })
}
