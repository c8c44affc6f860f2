"""Writes a realistic rosbag2 MCAP bag for the import benchmark (scripts/bench_import.sh):

    python make_bench_bag.py OUT_DIR [--duration S] [--image-hz HZ] [--imu-hz HZ] [--points-hz HZ]
                                     [--gps-hz HZ] [--tf-hz HZ]

A robot's recording, written with rosbags (as python/make_bag.py does), messages in record-time
order. Defaults (25 s, ~2.6 GB):

    topic                ROS type                      rate     payload
    /camera/image_raw    sensor_msgs/msg/Image         10 Hz    1920x1080 rgb8 (6.2 MB)
    /imu                 sensor_msgs/msg/Imu           500 Hz   ~330 B
    /points              sensor_msgs/msg/PointCloud2   10 Hz    128x2048 x,y,z,intensity float32 (4.2 MB)
    /gps                 sensor_msgs/msg/NavSatFix     10 Hz
    /tf                  tf2_msgs/msg/TFMessage        50 Hz    odom->base_link, map->odom
    /tf_static           tf2_msgs/msg/TFMessage        once     base_link -> sensors

Image and point-cloud contents change every message (a moving gradient, a rotating scan with
noise) so that nothing downstream can deduplicate them. Deterministic (fixed seed). The bag's
size and message counts are printed on stdout as JSON at the end.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
from rosbags.interfaces import QosDurability, QosReliability
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from make_bag import qos  # the offered-QoS record, as rosbags writes it

T0 = 1_700_000_000_000_000_000
ts = get_typestore(Stores.ROS2_JAZZY)
M = ts.types
Time = M["builtin_interfaces/msg/Time"]
Header = M["std_msgs/msg/Header"]
V3, Q = M["geometry_msgs/msg/Vector3"], M["geometry_msgs/msg/Quaternion"]
TS, TR = M["geometry_msgs/msg/TransformStamped"], M["geometry_msgs/msg/Transform"]


def header(t, frame):
    return Header(stamp=Time(sec=t // 1_000_000_000, nanosec=t % 1_000_000_000), frame_id=frame)


def tf_msg(t, pairs):
    return M["tf2_msgs/msg/TFMessage"](
        transforms=[
            TS(header=header(t, parent), child_frame_id=child,
               transform=TR(translation=V3(x=x, y=y, z=z), rotation=Q(x=0.0, y=0.0, z=0.0, w=1.0)))
            for parent, child, (x, y, z) in pairs
        ]
    )


class Gen:
    def __init__(self, W=1920, H=1080, R=128, C=2048):
        self.rng = np.random.default_rng(7)
        self.W, self.H, self.R, self.C = W, H, R, C
        x = np.arange(W, dtype=np.uint16)[None, :]
        y = np.arange(H, dtype=np.uint16)[:, None]
        self.img = np.empty((H, W, 3), dtype=np.uint8)
        self.img[..., 0] = (x & 255).astype(np.uint8)
        self.img[..., 1] = (y & 255).astype(np.uint8)
        self.img[..., 2] = ((x + y) & 255).astype(np.uint8)
        self.noise = self.rng.integers(0, 8, size=(H, W, 3), dtype=np.uint8)
        az = 2 * np.pi * np.arange(C) / C
        el = np.radians(-15 + 30 * np.arange(R) / (R - 1))
        self.az, self.el = az[None, :], el[:, None]
        self.fields = [
            M["sensor_msgs/msg/PointField"](name=n, offset=o, datatype=7, count=1)  # FLOAT32
            for n, o in (("x", 0), ("y", 4), ("z", 8), ("intensity", 12))
        ]

    def image(self, i, t):
        data = np.roll(self.img, 4 * i, axis=1) + np.roll(self.noise, i, axis=0)
        return M["sensor_msgs/msg/Image"](
            header=header(t, "camera_optical_frame"), height=self.H, width=self.W, encoding="rgb8",
            is_bigendian=0, step=3 * self.W, data=data.reshape(-1))

    def points(self, i, t):
        d = 10 + 0.5 * (np.arange(self.R)[:, None] % 4) + 0.05 * self.rng.standard_normal((self.R, self.C))
        a = self.az + 0.01 * i
        pts = np.empty((self.R, self.C, 4), dtype=np.float32)
        pts[..., 0] = d * np.cos(self.el) * np.cos(a)
        pts[..., 1] = d * np.cos(self.el) * np.sin(a)
        pts[..., 2] = d * np.sin(self.el)
        pts[..., 3] = (np.arange(self.R * self.C).reshape(self.R, self.C) + i) % 256
        return M["sensor_msgs/msg/PointCloud2"](
            header=header(t, "lidar_link"), height=self.R, width=self.C, fields=self.fields,
            is_bigendian=False, point_step=16, row_step=16 * self.C,
            data=pts.reshape(-1).view(np.uint8), is_dense=True)

    def imu(self, i, t):
        diag = lambda v: np.diag([v, v, v]).reshape(-1).astype(np.float64)
        s = i * 0.002
        return M["sensor_msgs/msg/Imu"](
            header=header(t, "imu_link"),
            orientation=Q(x=0.0, y=0.0, z=math.sin(s / 2), w=math.cos(s / 2)),
            orientation_covariance=diag(0.001),
            angular_velocity=V3(x=0.01 * math.sin(s), y=0.02, z=-0.03 + 1e-4 * self.rng.standard_normal()),
            angular_velocity_covariance=diag(0.002),
            linear_acceleration=V3(x=0.5 * math.cos(s), y=-1.0, z=9.81 + 0.01 * self.rng.standard_normal()),
            linear_acceleration_covariance=diag(0.003))

    def gps(self, i, t):
        return M["sensor_msgs/msg/NavSatFix"](
            header=header(t, "gps_link"), status=M["sensor_msgs/msg/NavSatStatus"](status=0, service=1),
            latitude=45.0 + i * 1e-6, longitude=9.0 + i * 2e-6, altitude=120.0 + 0.01 * i,
            position_covariance=np.array([1.0, 0, 0, 0, 1.0, 0, 0, 0, 4.0]), position_covariance_type=2)

    def tf(self, i, t):
        return tf_msg(t, [("odom", "base_link", (0.01 * i, 0.0, 0.0)), ("map", "odom", (1.0, 2.0, 0.0))])


SENSORS = ("/camera/image_raw", "/points", "/imu")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", help="bag directory to create (must not exist)")
    p.add_argument("--duration", type=float, default=25.0)
    p.add_argument("--image-hz", type=float, default=10.0)
    p.add_argument("--imu-hz", type=float, default=500.0)
    p.add_argument("--points-hz", type=float, default=10.0)
    p.add_argument("--gps-hz", type=float, default=10.0)
    p.add_argument("--tf-hz", type=float, default=50.0)
    p.add_argument("--sensor-qos", action="store_true",
                   help="record the QoS a robot's drivers offer: camera, LIDAR and IMU best effort depth 5 (ROS "
                        "sensor data), the rest reliable depth 10, /tf_static transient local depth 1; without it "
                        "the bag holds no QoS (players then offer reliable depth 10)")
    a = p.parse_args()

    g = Gen()
    plan = [  # topic, type, rate, builder
        ("/camera/image_raw", "sensor_msgs/msg/Image", a.image_hz, g.image),
        ("/imu", "sensor_msgs/msg/Imu", a.imu_hz, g.imu),
        ("/points", "sensor_msgs/msg/PointCloud2", a.points_hz, g.points),
        ("/gps", "sensor_msgs/msg/NavSatFix", a.gps_hz, g.gps),
        ("/tf", "tf2_msgs/msg/TFMessage", a.tf_hz, g.tf),
    ]
    events = []  # (record time, plan index, message index)
    for k, (_, _, hz, _) in enumerate(plan):
        if hz > 0:
            n = int(round(a.duration * hz))
            events += [(T0 + round(i * 1e9 / hz), k, i) for i in range(n)]
    events.sort()

    started = time.monotonic()
    counts = {"/tf_static": 1}
    with Writer(a.out, version=8, storage_plugin=StoragePlugin.MCAP) as w:
        def offered(topic):
            if not a.sensor_qos:
                return {}
            if topic in SENSORS:
                return {"offered_qos_profiles": [qos(QosReliability.BEST_EFFORT, QosDurability.VOLATILE, 5)]}
            if topic == "/tf_static":
                return {"offered_qos_profiles": [qos(QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL, 1)]}
            return {"offered_qos_profiles": [qos(QosReliability.RELIABLE, QosDurability.VOLATILE, 10)]}

        conns = [w.add_connection(topic, typ, typestore=ts, **offered(topic)) for topic, typ, _, _ in plan]
        static = w.add_connection("/tf_static", "tf2_msgs/msg/TFMessage", typestore=ts, **offered("/tf_static"))
        w.write(static, T0, ts.serialize_cdr(tf_msg(T0, [
            ("base_link", "camera_optical_frame", (0.2, 0.0, 0.5)), ("base_link", "imu_link", (0.0, 0.0, 0.1)),
            ("base_link", "lidar_link", (0.0, 0.0, 0.8)), ("base_link", "gps_link", (-0.1, 0.0, 1.0))]),
            "tf2_msgs/msg/TFMessage"))
        for n, (t, k, i) in enumerate(events):
            topic, typ, _, build = plan[k]
            w.write(conns[k], t, ts.serialize_cdr(build(i, t), typ))
            counts[topic] = counts.get(topic, 0) + 1
            if n % 2000 == 0:
                print(f"  {n}/{len(events)} messages", file=sys.stderr)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(a.out) for f in fs)
    print(json.dumps({"bag": a.out, "bytes": size, "messages": sum(counts.values()), "topics": counts,
                      "duration_s": a.duration, "write_s": round(time.monotonic() - started, 1)}))


if __name__ == "__main__":
    main()
