"""Writes a small rosbag2 MCAP bag with rosbags, for the import tests:

    python make_bag.py OUT_DIR

Topics: /imu (sensor_msgs/Imu, 100 msgs at 100 Hz, plus one garbage payload), /camera/image_raw
(sensor_msgs/Image 16x8 rgb8, 3 msgs), /gps (sensor_msgs/NavSatFix, 5 msgs), /tf (tf2_msgs/TFMessage,
2 msgs) and /diag_kv (diagnostic_msgs/KeyValue: no typed mapping, stored raw). Values are
deterministic so the Rust test can check them field by field. Record time = T0 + i * period.
"""
import sys

import numpy as np
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

T0 = 1_700_000_000_000_000_000
ts = get_typestore(Stores.ROS2_JAZZY)
M = ts.types
Time = M["builtin_interfaces/msg/Time"]
Header = M["std_msgs/msg/Header"]


def header(t, frame):
    return Header(stamp=Time(sec=t // 1_000_000_000, nanosec=t % 1_000_000_000), frame_id=frame)


def main(out):
    with Writer(out, version=8, storage_plugin=StoragePlugin.MCAP) as w:
        imu = w.add_connection("/imu", "sensor_msgs/msg/Imu", typestore=ts)
        cam = w.add_connection("/camera/image_raw", "sensor_msgs/msg/Image", typestore=ts)
        gps = w.add_connection("/gps", "sensor_msgs/msg/NavSatFix", typestore=ts)
        tf = w.add_connection("/tf", "tf2_msgs/msg/TFMessage", typestore=ts)
        kv = w.add_connection("/diag_kv", "diagnostic_msgs/msg/KeyValue", typestore=ts)
        V3, Q = M["geometry_msgs/msg/Vector3"], M["geometry_msgs/msg/Quaternion"]
        for i in range(100):
            t = T0 + i * 10_000_000
            m = M["sensor_msgs/msg/Imu"](
                header=header(t, "imu_link"),
                orientation=Q(x=0.0, y=0.0, z=0.0, w=1.0),
                orientation_covariance=np.zeros(9),
                angular_velocity=V3(x=0.01 * i, y=0.0, z=0.0),
                angular_velocity_covariance=np.zeros(9),
                linear_acceleration=V3(x=0.5 * i, y=-1.0, z=9.81),
                linear_acceleration_covariance=np.zeros(9),
            )
            w.write(imu, t, ts.serialize_cdr(m, "sensor_msgs/msg/Imu"))
            if i == 50:
                w.write(imu, t + 1, b"\x00\x01\x00\x00garbage")  # a malformed message, counted not fatal
        for i in range(3):
            t = T0 + i * 100_000_000
            data = np.array([(x * 7 + i * 13) & 0xFF for x in range(16 * 8 * 3)], dtype=np.uint8)
            m = M["sensor_msgs/msg/Image"](header=header(t, "cam"), height=8, width=16, encoding="rgb8", is_bigendian=0, step=48, data=data)
            w.write(cam, t, ts.serialize_cdr(m, "sensor_msgs/msg/Image"))
        for i in range(5):
            t = T0 + i * 200_000_000
            st = M["sensor_msgs/msg/NavSatStatus"](status=0, service=1)
            m = M["sensor_msgs/msg/NavSatFix"](header=header(t, "gps"), status=st, latitude=45.0 + i * 1e-4, longitude=9.0, altitude=120.0,
                                              position_covariance=np.zeros(9), position_covariance_type=0)
            w.write(gps, t, ts.serialize_cdr(m, "sensor_msgs/msg/NavSatFix"))
        TS, T, V = M["geometry_msgs/msg/TransformStamped"], M["geometry_msgs/msg/Transform"], M["geometry_msgs/msg/Vector3"]
        for i in range(2):
            t = T0 + i * 500_000_000
            tr = TS(header=header(t, "map"), child_frame_id="base_link", transform=T(translation=V(x=float(i), y=2.0, z=0.0), rotation=Q(x=0.0, y=0.0, z=0.0, w=1.0)))
            w.write(tf, t, ts.serialize_cdr(M["tf2_msgs/msg/TFMessage"](transforms=[tr]), "tf2_msgs/msg/TFMessage"))
        for i in range(2):
            w.write(kv, T0 + i, ts.serialize_cdr(M["diagnostic_msgs/msg/KeyValue"](key=f"k{i}", value="v"), "diagnostic_msgs/msg/KeyValue"))


if __name__ == "__main__":
    main(sys.argv[1])
