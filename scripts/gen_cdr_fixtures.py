"""Golden CDR fixtures for the Rust codec and adapters, produced by PyPI `rosbags` (byte-identical to
Cyclone DDS), so the Rust tests need no Python.

    scripts/test.sh --lib            # once: sets up .venv with python/requirements-test.txt
    .venv/bin/python scripts/gen_cdr_fixtures.py

Writes, for every supported ROS 2 type `pkg/msg/Type`:
  tests/fixtures/cdr/pkg__Type.cdr      serialized CDR, 4-byte encapsulation header included (LE)
  tests/fixtures/cdr/pkg__Type.be.cdr   the same message big-endian (a few types)
  tests/fixtures/cdr/pkg__Type.json     the message's field values (uint8 arrays as lists of ints, non-finite floats as null)
and src/ros/msgs/msgdefs.txt: each type's full message definition as rosbag2/MCAP store it
(`generate_msgdef`, dependencies after `=====` separators), in blocks `### pkg/msg/Type`.
Re-run after changing the samples; never hand-edit the outputs.
"""
import json
import math
import pathlib

import numpy as np
from rosbags.typesys import Stores, get_typestore, get_types_from_msg

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "cdr"
DEFS = ROOT / "src" / "ros" / "msgs" / "msgdefs.txt"

ts = get_typestore(Stores.ROS2_JAZZY)
ts.register(get_types_from_msg("std_msgs/Header header\nstring sentence\n", "nmea_msgs/msg/Sentence"))
T = ts.types


def f64(*v):
    return np.array(v, dtype=np.float64)


def f32(*v):
    return np.array(v, dtype=np.float32)


def time(sec=1700000000, nanosec=123456789):
    return T["builtin_interfaces/msg/Time"](sec=sec, nanosec=nanosec)


def header(frame="base_link", sec=1700000000, nanosec=123456789):
    return T["std_msgs/msg/Header"](stamp=time(sec, nanosec), frame_id=frame)


def vec3(x=1.5, y=-2.25, z=3.125):
    return T["geometry_msgs/msg/Vector3"](x=x, y=y, z=z)


def point(x=10.5, y=-20.25, z=0.0625):
    return T["geometry_msgs/msg/Point"](x=x, y=y, z=z)


def quat(x=0.1, y=-0.2, z=0.3, w=0.9273618495495704):
    return T["geometry_msgs/msg/Quaternion"](x=x, y=y, z=z, w=w)


def pose():
    return T["geometry_msgs/msg/Pose"](position=point(), orientation=quat())


def twist():
    return T["geometry_msgs/msg/Twist"](linear=vec3(0.5, 0.0, -0.1), angular=vec3(0.0, 0.01, 1.25))


def accel():
    return T["geometry_msgs/msg/Accel"](linear=vec3(9.81, 0.1, -0.2), angular=vec3(0.3, 0.0, 0.0))


def wrench():
    return T["geometry_msgs/msg/Wrench"](force=vec3(1.0, 2.0, 3.0), torque=vec3(-0.5, 0.25, 0.125))


def transform(tx=1.0):
    return T["geometry_msgs/msg/Transform"](translation=vec3(tx, 2.0, 3.0), rotation=quat())


def cov(n, scale=0.01):
    return np.array([scale * (i + 1) if i % (int(math.isqrt(n)) + 1) == 0 else 0.0 for i in range(n)], dtype=np.float64)


def transform_stamped(child="camera", tx=1.0, frame="base_link"):
    return T["geometry_msgs/msg/TransformStamped"](header=header(frame), child_frame_id=child, transform=transform(tx))


def point_field(name, offset, datatype, count=1):
    return T["sensor_msgs/msg/PointField"](name=name, offset=offset, datatype=datatype, count=count)


def roi(x=4, y=2, h=100, w=200, rect=True):
    return T["sensor_msgs/msg/RegionOfInterest"](x_offset=x, y_offset=y, height=h, width=w, do_rectify=rect)


# a 4x3 rgb8 image with 2 bytes of row padding (step 14)
IMG = np.arange(3 * 14, dtype=np.uint8) * 5
# 3 points of x,y,z,intensity float32
PTS = np.array([[1.0, 2.0, 3.0, 0.5], [-1.0, -2.0, -3.0, 1.5], [0.25, 0.5, 0.75, 100.0]], dtype=np.float32).tobytes()

SAMPLES = {
    "builtin_interfaces/msg/Time": time(),
    "builtin_interfaces/msg/Duration": T["builtin_interfaces/msg/Duration"](sec=-3, nanosec=500),
    "std_msgs/msg/Header": header("odom"),
    "std_msgs/msg/String": T["std_msgs/msg/String"](data="héllo, wörld ✓"),
    "std_msgs/msg/Bool": T["std_msgs/msg/Bool"](data=True),
    "std_msgs/msg/Int8": T["std_msgs/msg/Int8"](data=-128),
    "std_msgs/msg/Int16": T["std_msgs/msg/Int16"](data=-32000),
    "std_msgs/msg/Int32": T["std_msgs/msg/Int32"](data=-2000000000),
    "std_msgs/msg/Int64": T["std_msgs/msg/Int64"](data=-9000000000000000000),
    "std_msgs/msg/UInt8": T["std_msgs/msg/UInt8"](data=255),
    "std_msgs/msg/UInt16": T["std_msgs/msg/UInt16"](data=65000),
    "std_msgs/msg/UInt32": T["std_msgs/msg/UInt32"](data=4000000000),
    "std_msgs/msg/UInt64": T["std_msgs/msg/UInt64"](data=18000000000000000000),
    "std_msgs/msg/Float32": T["std_msgs/msg/Float32"](data=np.float32(3.14159)),
    "std_msgs/msg/Float64": T["std_msgs/msg/Float64"](data=-2.718281828459045),
    "geometry_msgs/msg/Vector3": vec3(),
    "geometry_msgs/msg/Vector3Stamped": T["geometry_msgs/msg/Vector3Stamped"](header=header(), vector=vec3()),
    "geometry_msgs/msg/Point": point(),
    "geometry_msgs/msg/PointStamped": T["geometry_msgs/msg/PointStamped"](header=header(), point=point()),
    "geometry_msgs/msg/Quaternion": quat(),
    "geometry_msgs/msg/QuaternionStamped": T["geometry_msgs/msg/QuaternionStamped"](header=header(), quaternion=quat()),
    "geometry_msgs/msg/Pose": pose(),
    "geometry_msgs/msg/PoseStamped": T["geometry_msgs/msg/PoseStamped"](header=header("map"), pose=pose()),
    "geometry_msgs/msg/PoseWithCovariance": T["geometry_msgs/msg/PoseWithCovariance"](pose=pose(), covariance=cov(36)),
    "geometry_msgs/msg/PoseWithCovarianceStamped": T["geometry_msgs/msg/PoseWithCovarianceStamped"](
        header=header("map"), pose=T["geometry_msgs/msg/PoseWithCovariance"](pose=pose(), covariance=cov(36))
    ),
    "geometry_msgs/msg/Twist": twist(),
    "geometry_msgs/msg/TwistStamped": T["geometry_msgs/msg/TwistStamped"](header=header(), twist=twist()),
    "geometry_msgs/msg/TwistWithCovariance": T["geometry_msgs/msg/TwistWithCovariance"](twist=twist(), covariance=cov(36, 0.5)),
    "geometry_msgs/msg/TwistWithCovarianceStamped": T["geometry_msgs/msg/TwistWithCovarianceStamped"](
        header=header(), twist=T["geometry_msgs/msg/TwistWithCovariance"](twist=twist(), covariance=cov(36, 0.5))
    ),
    "geometry_msgs/msg/Accel": accel(),
    "geometry_msgs/msg/AccelStamped": T["geometry_msgs/msg/AccelStamped"](header=header(), accel=accel()),
    "geometry_msgs/msg/AccelWithCovariance": T["geometry_msgs/msg/AccelWithCovariance"](accel=accel(), covariance=cov(36, 2.0)),
    "geometry_msgs/msg/AccelWithCovarianceStamped": T["geometry_msgs/msg/AccelWithCovarianceStamped"](
        header=header(), accel=T["geometry_msgs/msg/AccelWithCovariance"](accel=accel(), covariance=cov(36, 2.0))
    ),
    "geometry_msgs/msg/Wrench": wrench(),
    "geometry_msgs/msg/WrenchStamped": T["geometry_msgs/msg/WrenchStamped"](header=header("tool0"), wrench=wrench()),
    "geometry_msgs/msg/Transform": transform(),
    "geometry_msgs/msg/TransformStamped": transform_stamped(),
    "sensor_msgs/msg/Imu": T["sensor_msgs/msg/Imu"](
        header=header("imu_link"),
        orientation=quat(),
        orientation_covariance=cov(9, 0.001),
        angular_velocity=vec3(0.01, -0.02, 0.03),
        angular_velocity_covariance=cov(9, 0.0001),
        linear_acceleration=vec3(0.1, 0.2, 9.81),
        linear_acceleration_covariance=np.zeros(9, dtype=np.float64),
    ),
    "sensor_msgs/msg/NavSatStatus": T["sensor_msgs/msg/NavSatStatus"](status=1, service=1 | 8),
    "sensor_msgs/msg/NavSatFix": T["sensor_msgs/msg/NavSatFix"](
        header=header("gps"),
        status=T["sensor_msgs/msg/NavSatStatus"](status=0, service=1),
        latitude=45.4642035,
        longitude=9.189982,
        altitude=122.5,
        position_covariance=f64(2.25, 0, 0, 0, 2.25, 0, 0, 0, 9.0),
        position_covariance_type=2,
    ),
    "sensor_msgs/msg/Image": T["sensor_msgs/msg/Image"](
        header=header("camera"), height=3, width=4, encoding="rgb8", is_bigendian=0, step=14, data=IMG
    ),
    "sensor_msgs/msg/CompressedImage": T["sensor_msgs/msg/CompressedImage"](
        header=header("camera"), format="rgb8; jpeg compressed bgr8", data=np.frombuffer(b"\xff\xd8\xff\xe0fakejpeg\xff\xd9", dtype=np.uint8)
    ),
    "sensor_msgs/msg/RegionOfInterest": roi(),
    "sensor_msgs/msg/CameraInfo": T["sensor_msgs/msg/CameraInfo"](
        header=header("camera"),
        height=1080,
        width=1920,
        distortion_model="plumb_bob",
        d=f64(-0.28, 0.07, 0.0002, 0.0001, 0.0),
        k=f64(1000.0, 0, 960.0, 0, 1000.0, 540.0, 0, 0, 1),
        r=f64(1, 0, 0, 0, 1, 0, 0, 0, 1),
        p=f64(1000.0, 0, 960.0, 0, 0, 1000.0, 540.0, 0, 0, 0, 1, 0),
        binning_x=2,
        binning_y=2,
        roi=roi(),
    ),
    "sensor_msgs/msg/JointState": T["sensor_msgs/msg/JointState"](
        header=header(""),
        name=["shoulder", "elbow", "wrist"],
        position=f64(0.1, -1.2, 3.0),
        velocity=f64(0.0, 0.5, -0.5),
        effort=f64(),
    ),
    "sensor_msgs/msg/BatteryState": T["sensor_msgs/msg/BatteryState"](
        header=header("battery"),
        voltage=np.float32(24.5),
        temperature=np.float32(31.0),
        current=np.float32(-3.25),
        charge=np.float32(12.0),
        capacity=np.float32(20.0),
        design_capacity=np.float32(22.0),
        percentage=np.float32(0.6),
        power_supply_status=2,
        power_supply_health=1,
        power_supply_technology=3,
        present=True,
        cell_voltage=f32(4.1, 4.05, 4.08),
        cell_temperature=f32(),
        location="slot0",
        serial_number="SN-42",
    ),
    "sensor_msgs/msg/PointField": point_field("intensity", 12, 7),
    "sensor_msgs/msg/PointCloud2": T["sensor_msgs/msg/PointCloud2"](
        header=header("lidar"),
        height=1,
        width=3,
        fields=[point_field("x", 0, 7), point_field("y", 4, 7), point_field("z", 8, 7), point_field("intensity", 12, 7)],
        is_bigendian=False,
        point_step=16,
        row_step=48,
        data=np.frombuffer(PTS, dtype=np.uint8),
        is_dense=True,
    ),
    "sensor_msgs/msg/LaserScan": T["sensor_msgs/msg/LaserScan"](
        header=header("laser"),
        angle_min=np.float32(-1.57),
        angle_max=np.float32(1.57),
        angle_increment=np.float32(0.785),
        time_increment=np.float32(0.0001),
        scan_time=np.float32(0.1),
        range_min=np.float32(0.1),
        range_max=np.float32(30.0),
        ranges=f32(1.0, 2.5, np.inf, 0.5, 3.25),
        intensities=f32(10, 20, 0, 5, 7),
    ),
    "sensor_msgs/msg/MagneticField": T["sensor_msgs/msg/MagneticField"](
        header=header("mag"), magnetic_field=vec3(2.2e-5, -4.1e-6, 4.3e-5), magnetic_field_covariance=cov(9, 1e-12)
    ),
    "sensor_msgs/msg/Range": T["sensor_msgs/msg/Range"](
        header=header("sonar"),
        radiation_type=0,
        field_of_view=np.float32(0.5),
        min_range=np.float32(0.02),
        max_range=np.float32(4.0),
        range=np.float32(1.25),
        variance=np.float32(0.01),
    ),
    "sensor_msgs/msg/Temperature": T["sensor_msgs/msg/Temperature"](header=header("thermo"), temperature=21.5, variance=0.25),
    "sensor_msgs/msg/FluidPressure": T["sensor_msgs/msg/FluidPressure"](header=header("baro"), fluid_pressure=101325.0, variance=4.0),
    "sensor_msgs/msg/RelativeHumidity": T["sensor_msgs/msg/RelativeHumidity"](header=header("hygro"), relative_humidity=0.45, variance=0.0),
    "sensor_msgs/msg/Illuminance": T["sensor_msgs/msg/Illuminance"](header=header("lux"), illuminance=320.0, variance=1.5),
    "sensor_msgs/msg/Joy": T["sensor_msgs/msg/Joy"](header=header("joy"), axes=f32(0.0, -1.0, 0.5), buttons=np.array([0, 1, 0, 1], dtype=np.int32)),
    "nav_msgs/msg/Odometry": T["nav_msgs/msg/Odometry"](
        header=header("odom"),
        child_frame_id="base_link",
        pose=T["geometry_msgs/msg/PoseWithCovariance"](pose=pose(), covariance=cov(36)),
        twist=T["geometry_msgs/msg/TwistWithCovariance"](twist=twist(), covariance=cov(36, 0.5)),
    ),
    "tf2_msgs/msg/TFMessage": T["tf2_msgs/msg/TFMessage"](
        transforms=[transform_stamped("camera", 1.0), transform_stamped("lidar", -0.5, "base_link")]
    ),
    "nmea_msgs/msg/Sentence": T["nmea_msgs/msg/Sentence"](
        header=header("gps"), sentence="$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"
    ),
    # a type no adapter handles: stored as raw CDR
    "diagnostic_msgs/msg/KeyValue": T["diagnostic_msgs/msg/KeyValue"](key="mode", value="auto"),
}
BIG_ENDIAN = ["sensor_msgs/msg/Imu", "sensor_msgs/msg/PointCloud2", "sensor_msgs/msg/CameraInfo", "tf2_msgs/msg/TFMessage"]


def to_json(v):
    if isinstance(v, np.ndarray):
        return [to_json(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [to_json(x) for x in v]
    if isinstance(v, (np.floating, float)):
        return float(v) if math.isfinite(v) else None  # JSON has no inf/nan; the Rust test accepts null there
    if isinstance(v, (np.integer, int)) and not isinstance(v, bool):
        return int(v)
    if hasattr(v, "__dataclass_fields__"):
        return {k: to_json(getattr(v, k)) for k in v.__dataclass_fields__ if k != "__msgtype__" and not k.isupper()}
    return v


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    defs = []
    for typ, msg in SAMPLES.items():
        stem = typ.replace("/msg/", "__")
        (OUT / f"{stem}.cdr").write_bytes(bytes(ts.serialize_cdr(msg, typ)))
        if typ in BIG_ENDIAN:
            (OUT / f"{stem}.be.cdr").write_bytes(bytes(ts.serialize_cdr(msg, typ, little_endian=False)))
        (OUT / f"{stem}.json").write_text(json.dumps(to_json(msg), indent=1, ensure_ascii=False) + "\n")
        msgdef, _ = ts.generate_msgdef(typ, ros_version=2)
        defs.append(f"### {typ}\n{msgdef}")
    DEFS.parent.mkdir(parents=True, exist_ok=True)
    DEFS.write_text("".join(defs))
    print(f"{len(SAMPLES)} types -> {OUT.relative_to(ROOT)}, definitions -> {DEFS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
