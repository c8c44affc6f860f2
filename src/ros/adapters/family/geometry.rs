//! geometry_msgs: vectors, points and quaternions (`Vector3d`, `Point3d`, `Quaternion`), poses,
//! twists, accelerations, wrenches and transforms, plain, stamped and with covariance.

use std::sync::Arc;

use arrow::array::StringBuilder;

use super::{cdr, conv, cov_of, no_header, p3, q4, v3, Family};
use crate::protocol::Generation;
use crate::ros::adapters::columns::{join, Columns, CovB, HeaderB, VecB};
use crate::ros::adapters::rows::Row;
use crate::ros::adapters::Convert;
use crate::ros::cdr::Array;
use crate::ros::msgs::geometry_msgs as gm;
use crate::ros::msgs::std_msgs::Header;
use crate::ros::RosError;

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

/// Transform (also each item of a FrameTransform).
pub(super) struct TransformF {
    header: HeaderB,
    translation: VecB<3>,
    rotation: VecB<4>,
    target: StringBuilder,
}

impl TransformF {
    pub(super) fn new(gen: Generation) -> Self {
        TransformF {
            header: HeaderB::new(gen),
            translation: VecB::new(),
            rotation: VecB::new(),
            target: StringBuilder::new(),
        }
    }
    #[inline]
    pub(super) fn push(
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
    pub(super) fn finish_at(&mut self, prefix: &str, cols: &mut Columns) {
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

/// The transform stored at `p` (`p.header`, `p.target_frame_id`, `p.translation`, `p.rotation`).
pub(super) fn transform_stamped_at(r: &Row<'_>, p: &str) -> gm::TransformStamped {
    gm::TransformStamped {
        header: r.header(&join(p, "header")),
        child_frame_id: r.string(&join(p, "target_frame_id")),
        transform: gm::Transform {
            translation: r.vector3(&join(p, "translation")),
            rotation: r.quaternion(&join(p, "rotation")),
        },
    }
}

fn vel(gen: Generation) -> PairF {
    PairF::new(gen, ["linear", "angular"])
}

// decoders

pub(crate) fn vector3(gen: Generation) -> Box<dyn Convert> {
    conv::<gm::Vector3, _>(
        gen,
        VectorF::<3>::new(gen),
        |m, f| f.push(None, v3(m)),
        no_header,
    )
}

pub(crate) fn vector3_stamped(gen: Generation) -> Box<dyn Convert> {
    conv::<gm::Vector3Stamped, _>(
        gen,
        VectorF::<3>::new(gen),
        |m, f| f.push(Some(&m.header), v3(&m.vector)),
        |m| Some(&m.header),
    )
}

pub(crate) fn point(gen: Generation) -> Box<dyn Convert> {
    conv::<gm::Point, _>(
        gen,
        VectorF::<3>::new(gen),
        |m, f| f.push(None, p3(m)),
        no_header,
    )
}

pub(crate) fn point_stamped(gen: Generation) -> Box<dyn Convert> {
    conv::<gm::PointStamped, _>(
        gen,
        VectorF::<3>::new(gen),
        |m, f| f.push(Some(&m.header), p3(&m.point)),
        |m| Some(&m.header),
    )
}

pub(crate) fn quaternion(gen: Generation) -> Box<dyn Convert> {
    conv::<gm::Quaternion, _>(
        gen,
        VectorF::<4>::new(gen),
        |m, f| f.push(None, q4(m)),
        no_header,
    )
}

pub(crate) fn quaternion_stamped(gen: Generation) -> Box<dyn Convert> {
    conv::<gm::QuaternionStamped, _>(
        gen,
        VectorF::<4>::new(gen),
        |m, f| f.push(Some(&m.header), q4(&m.quaternion)),
        |m| Some(&m.header),
    )
}

pub(crate) fn pose(gen: Generation) -> Box<dyn Convert> {
    conv::<gm::Pose, _>(
        gen,
        PoseF::new(gen),
        |m, f| f.push(None, m, None),
        no_header,
    )
}

pub(crate) fn pose_stamped(gen: Generation) -> Box<dyn Convert> {
    conv::<gm::PoseStamped, _>(
        gen,
        PoseF::new(gen),
        |m, f| f.push(Some(&m.header), &m.pose, None),
        |m| Some(&m.header),
    )
}

pub(crate) fn pose_with_covariance(gen: Generation) -> Box<dyn Convert> {
    conv::<gm::PoseWithCovariance, _>(
        gen,
        PoseF::new(gen),
        |m, f| f.push(None, &m.pose, cov_of(&m.covariance)),
        no_header,
    )
}

pub(crate) fn pose_with_covariance_stamped(gen: Generation) -> Box<dyn Convert> {
    conv::<gm::PoseWithCovarianceStamped, _>(
        gen,
        PoseF::new(gen),
        |m, f| f.push(Some(&m.header), &m.pose.pose, cov_of(&m.pose.covariance)),
        |m| Some(&m.header),
    )
}

pub(crate) fn twist(gen: Generation) -> Box<dyn Convert> {
    conv::<gm::Twist, _>(
        gen,
        vel(gen),
        |m, f| f.push(None, &m.linear, &m.angular, None),
        no_header,
    )
}

pub(crate) fn twist_stamped(gen: Generation) -> Box<dyn Convert> {
    conv::<gm::TwistStamped, _>(
        gen,
        vel(gen),
        |m, f| f.push(Some(&m.header), &m.twist.linear, &m.twist.angular, None),
        |m| Some(&m.header),
    )
}

pub(crate) fn twist_with_covariance(gen: Generation) -> Box<dyn Convert> {
    conv::<gm::TwistWithCovariance, _>(
        gen,
        vel(gen),
        |m, f| {
            f.push(
                None,
                &m.twist.linear,
                &m.twist.angular,
                cov_of(&m.covariance),
            )
        },
        no_header,
    )
}

pub(crate) fn twist_with_covariance_stamped(gen: Generation) -> Box<dyn Convert> {
    conv::<gm::TwistWithCovarianceStamped, _>(
        gen,
        vel(gen),
        |m, f| {
            f.push(
                Some(&m.header),
                &m.twist.twist.linear,
                &m.twist.twist.angular,
                cov_of(&m.twist.covariance),
            )
        },
        |m| Some(&m.header),
    )
}

pub(crate) fn accel(gen: Generation) -> Box<dyn Convert> {
    conv::<gm::Accel, _>(
        gen,
        vel(gen),
        |m, f| f.push(None, &m.linear, &m.angular, None),
        no_header,
    )
}

pub(crate) fn accel_stamped(gen: Generation) -> Box<dyn Convert> {
    conv::<gm::AccelStamped, _>(
        gen,
        vel(gen),
        |m, f| f.push(Some(&m.header), &m.accel.linear, &m.accel.angular, None),
        |m| Some(&m.header),
    )
}

pub(crate) fn accel_with_covariance(gen: Generation) -> Box<dyn Convert> {
    conv::<gm::AccelWithCovariance, _>(
        gen,
        vel(gen),
        |m, f| {
            f.push(
                None,
                &m.accel.linear,
                &m.accel.angular,
                cov_of(&m.covariance),
            )
        },
        no_header,
    )
}

pub(crate) fn accel_with_covariance_stamped(gen: Generation) -> Box<dyn Convert> {
    conv::<gm::AccelWithCovarianceStamped, _>(
        gen,
        vel(gen),
        |m, f| {
            f.push(
                Some(&m.header),
                &m.accel.accel.linear,
                &m.accel.accel.angular,
                cov_of(&m.accel.covariance),
            )
        },
        |m| Some(&m.header),
    )
}

pub(crate) fn wrench(gen: Generation) -> Box<dyn Convert> {
    conv::<gm::Wrench, _>(
        gen,
        PairF::new(gen, ["force", "torque"]),
        |m, f| f.push(None, &m.force, &m.torque, None),
        no_header,
    )
}

pub(crate) fn wrench_stamped(gen: Generation) -> Box<dyn Convert> {
    conv::<gm::WrenchStamped, _>(
        gen,
        PairF::new(gen, ["force", "torque"]),
        |m, f| f.push(Some(&m.header), &m.wrench.force, &m.wrench.torque, None),
        |m| Some(&m.header),
    )
}

pub(crate) fn transform(gen: Generation) -> Box<dyn Convert> {
    conv::<gm::Transform, _>(
        gen,
        TransformF::new(gen),
        |m, f| f.push(None, m, None),
        no_header,
    )
}

pub(crate) fn transform_stamped(gen: Generation) -> Box<dyn Convert> {
    conv::<gm::TransformStamped, _>(
        gen,
        TransformF::new(gen),
        |m, f| f.push(Some(&m.header), &m.transform, Some(&m.child_frame_id)),
        |m| Some(&m.header),
    )
}

// encoders

fn pose_of(r: &Row<'_>) -> gm::Pose {
    gm::Pose {
        position: r.point("position"),
        orientation: r.quaternion("orientation"),
    }
}

fn pose_cov_of(r: &Row<'_>) -> gm::PoseWithCovariance {
    gm::PoseWithCovariance {
        pose: pose_of(r),
        covariance: Array(r.cov("covariance")),
    }
}

fn twist_of(r: &Row<'_>) -> gm::Twist {
    gm::Twist {
        linear: r.vector3("linear"),
        angular: r.vector3("angular"),
    }
}

fn twist_cov_of(r: &Row<'_>) -> gm::TwistWithCovariance {
    gm::TwistWithCovariance {
        twist: twist_of(r),
        covariance: Array(r.cov("covariance")),
    }
}

fn accel_of(r: &Row<'_>) -> gm::Accel {
    gm::Accel {
        linear: r.vector3("linear"),
        angular: r.vector3("angular"),
    }
}

fn accel_cov_of(r: &Row<'_>) -> gm::AccelWithCovariance {
    gm::AccelWithCovariance {
        accel: accel_of(r),
        covariance: Array(r.cov("covariance")),
    }
}

fn wrench_of(r: &Row<'_>) -> gm::Wrench {
    gm::Wrench {
        force: r.vector3("force"),
        torque: r.vector3("torque"),
    }
}

pub(crate) fn encode_vector3(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(r.vector3(""))
}

pub(crate) fn encode_vector3_stamped(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(gm::Vector3Stamped {
        header: r.header("header"),
        vector: r.vector3(""),
    })
}

pub(crate) fn encode_point(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(r.point(""))
}

pub(crate) fn encode_point_stamped(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(gm::PointStamped {
        header: r.header("header"),
        point: r.point(""),
    })
}

pub(crate) fn encode_quaternion(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(r.quaternion(""))
}

pub(crate) fn encode_quaternion_stamped(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(gm::QuaternionStamped {
        header: r.header("header"),
        quaternion: r.quaternion(""),
    })
}

pub(crate) fn encode_pose(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(pose_of(r))
}

pub(crate) fn encode_pose_stamped(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(gm::PoseStamped {
        header: r.header("header"),
        pose: pose_of(r),
    })
}

pub(crate) fn encode_pose_with_covariance(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(pose_cov_of(r))
}

pub(crate) fn encode_pose_with_covariance_stamped(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(gm::PoseWithCovarianceStamped {
        header: r.header("header"),
        pose: pose_cov_of(r),
    })
}

pub(crate) fn encode_twist(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(twist_of(r))
}

pub(crate) fn encode_twist_stamped(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(gm::TwistStamped {
        header: r.header("header"),
        twist: twist_of(r),
    })
}

pub(crate) fn encode_twist_with_covariance(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(twist_cov_of(r))
}

pub(crate) fn encode_twist_with_covariance_stamped(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(gm::TwistWithCovarianceStamped {
        header: r.header("header"),
        twist: twist_cov_of(r),
    })
}

pub(crate) fn encode_accel(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(accel_of(r))
}

pub(crate) fn encode_accel_stamped(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(gm::AccelStamped {
        header: r.header("header"),
        accel: accel_of(r),
    })
}

pub(crate) fn encode_accel_with_covariance(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(accel_cov_of(r))
}

pub(crate) fn encode_accel_with_covariance_stamped(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(gm::AccelWithCovarianceStamped {
        header: r.header("header"),
        accel: accel_cov_of(r),
    })
}

pub(crate) fn encode_wrench(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(wrench_of(r))
}

pub(crate) fn encode_wrench_stamped(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(gm::WrenchStamped {
        header: r.header("header"),
        wrench: wrench_of(r),
    })
}

pub(crate) fn encode_transform(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(gm::Transform {
        translation: r.vector3("translation"),
        rotation: r.quaternion("rotation"),
    })
}

pub(crate) fn encode_transform_stamped(r: &Row<'_>) -> Result<Vec<u8>, String> {
    cdr(transform_stamped_at(r, ""))
}
