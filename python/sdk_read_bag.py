"""Reads a sequence imported by `mosaico-bridge import BAG` with the official SDK (PyPI `mosaicolabs`
0.7) and checks it against the bag itself, message by message and field by field:

    python sdk_read_bag.py HOST PORT SEQUENCE BAG

BAG: a rosbag2 bag directory (split bags included), its .mcap file, or a ROS 1 .bag file. A ROS 1
bag's messages are compared as rosbags converts them to ROS 2 (`ros1_to_cdr` with the ROS 2 types,
as `rosbags.convert` does): that CDR is what the rows must hold.

For every topic of the bag:
* the sequence has the topic, its metadata names the bag's ROS type (`_ros_.msgtype`);
* every row decodes as the SDK's class (or `mosaico_bridge_ontology`'s, imported here), never as an
  untyped `Unmodeled` / schema-variant fallback;
* the rows are the bag's valid messages (those `rosbags` deserializes: a garbage payload is not
  stored), in order, row `timestamp_ns` = the bag's log time;
* the values equal the bag's messages as `rosbags` deserializes them (Stores.ROS2_JAZZY): header stamp
  and frame (the header is null when the ROS header is empty), vectors, quaternions, covariances
  (null only when all +0.0, "unknown"; anything else as received, REP 145's -1 included), image and point-cloud bytes exactly, laser ranges with NaN
  and ±inf, MagneticField in microtesla (tesla × 1e6, covariance × 1e12: compared to 1e-12
  relative, the only inexact comparison), variances (+0.0 = unknown = null), and for topics without a
  typed mapping the stored CDR bytes equal the bag's payload.

Prints `ok <topic> <rows> <ClassName>` per topic that matches, `<rows>` being the rows compared
field by field (a row the SDK decodes to nothing is a mismatch, never skipped); otherwise lists
every mismatch on stderr and exits 1. Needs `python/` on PYTHONPATH (for `mosaico_bridge_ontology`).
"""
import math
import sys

import numpy as np
from pathlib import Path

from rosbags.rosbag1 import Reader as Reader1
from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_typestore

import mosaicolabs  # noqa: F401  (registers the SDK classes, the ROS bridge's PointCloud2 included)
import mosaico_bridge_ontology  # registers Humidity, Illumination, RosMessageCdr
from mosaicolabs import GPS, IMU, CompressedImage, Image, Magnetometer, MosaicoClient
from mosaicolabs.bridges.ros.data_ontology import FrameTransform, PointCloud2
from mosaicolabs.models.futures import LaserScan

MAX_PER_TOPIC = 25  # mismatches listed per topic (the count is always given)


class Check:
    """Collects the mismatches of one row under a path prefix."""

    def __init__(self, out, where):
        self.out, self.where = out, where

    def at(self, name):
        return Check(self.out, f"{self.where}.{name}")

    def fail(self, what):
        self.out.append(f"{self.where}: {what}")

    def eq(self, got, want):
        if same(got, want):
            return
        if isinstance(got, (bytes, bytearray)) and isinstance(want, (bytes, bytearray)):
            k = next((k for k, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            self.fail(f"{len(got)} bytes, want {len(want)}; first difference at byte {k}")
        else:
            self.fail(f"got {short(got)}, want {short(want)}")

    def close(self, got, want, rel=1e-12):
        if not (isinstance(got, float) and math.isclose(got, want, rel_tol=rel, abs_tol=0.0)):
            self.fail(f"got {short(got)}, want {short(want)} (±{rel:g} relative)")

    def is_type(self, obj, cls):
        if type(obj) is not cls:
            self.fail(f"decoded as {type(obj).__module__}.{type(obj).__name__}, not {cls.__module__}.{cls.__name__}")
            return False
        return True


def same(a, b):
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b if isinstance(a, (bytes, str, bool)) else a == b


def short(v):
    if isinstance(v, (bytes, bytearray)):
        return f"<{len(v)} bytes {bytes(v[:8]).hex()}..>"
    r = repr(v)
    return r if len(r) <= 200 else r[:200] + "..."


def f32s(a):
    """A float32 array as Python floats (what the SDK gives for a float32 list)."""
    return [float(x) for x in np.asarray(a, dtype=np.float32)]


def pos_zero(x):
    return float(x) == 0.0 and math.copysign(1.0, float(x)) > 0


def valid_cov(c):
    """Stored (not null) unless every element is +0.0, ROS's "unknown"."""
    return not all(pos_zero(x) for x in c)


# ---------------------------------------------------------------------------------------------
# per-type checks: (row typed object, ROS message, Check)


def header(c, got, ros_header):
    """The current generation stores the ROS header, or null when it is empty (zero stamp, no frame)."""
    st = ros_header.stamp
    if st.sec == 0 and st.nanosec == 0 and ros_header.frame_id == "":
        c.at("header").eq(got, None)
        return
    if got is None:
        c.at("header").fail(f"null, want stamp {st.sec}.{st.nanosec:09d} frame {ros_header.frame_id!r}")
        return
    if got.timestamp is None:
        c.at("header.timestamp").fail("null")
    else:
        c.at("header.timestamp.seconds").eq(got.timestamp.seconds, st.sec)
        c.at("header.timestamp.nanoseconds").eq(got.timestamp.nanoseconds, st.nanosec)
    c.at("header.frame_id").eq(got.frame_id, ros_header.frame_id)
    c.at("header.sample_counter").eq(got.sample_counter, None)


def vec(c, got, want, names="xyz", cov=None, cov_type=None):
    """A Vector3d / Point3d / Quaternion: components exact, covariance null only when all +0.0."""
    if got is None:
        c.fail("null")
        return
    for n in names:
        c.at(n).eq(getattr(got, n), float(getattr(want, n)))
    covariance(c, got, cov, cov_type)
    c.at("header").eq(got.header, None)


def covariance(c, got, cov, cov_type=None, scale=None):
    if cov is None or not valid_cov(cov):
        c.at("covariance").eq(got.covariance, None)
        c.at("covariance_type").eq(got.covariance_type, cov_type)  # stored with or without it
        return
    if scale is None:
        c.at("covariance").eq(got.covariance, [float(x) for x in cov])
    elif got.covariance is None or len(got.covariance) != len(cov):
        c.at("covariance").fail(f"got {short(got.covariance)}, want {len(cov)} values")
    else:
        for k, (g, w) in enumerate(zip(got.covariance, cov)):
            c.at(f"covariance[{k}]").close(g, scale(float(w)))
    c.at("covariance_type").eq(got.covariance_type, cov_type)


def imu(c, d, m):
    header(c, d.header, m.header)
    vec(c.at("acceleration"), d.acceleration, m.linear_acceleration, cov=m.linear_acceleration_covariance)
    vec(c.at("angular_velocity"), d.angular_velocity, m.angular_velocity, cov=m.angular_velocity_covariance)
    # REP 145's "no orientation estimate" is null in its canonical form only (zero quaternion,
    # covariance [-1, 0, ...]); otherwise kept, the -1 marker included
    oc = m.orientation_covariance
    q = m.orientation
    if (float(oc[0]) == -1.0 and all(pos_zero(x) for x in oc[1:])
            and all(pos_zero(getattr(q, n)) for n in "xyzw")):
        c.at("orientation").eq(d.orientation, None)
    else:
        vec(c.at("orientation"), d.orientation, m.orientation, "xyzw", cov=m.orientation_covariance)


def image(c, d, m):
    header(c, d.header, m.header)
    c.at("data").eq(d.data, bytes(m.data))
    c.at("format").eq(getattr(d.format, "value", d.format), "raw")
    c.at("width").eq(d.width, m.width)
    c.at("height").eq(d.height, m.height)
    c.at("stride").eq(d.stride, m.step)
    c.at("encoding").eq(d.encoding, m.encoding)
    c.at("is_bigendian").eq(d.is_bigendian, bool(m.is_bigendian))


def compressed_image(c, d, m):
    """The codec in the column (the SDK's `ImageFormat`); the ROS string is in the topic metadata."""
    header(c, d.header, m.header)
    c.at("data").eq(d.data, bytes(m.data))
    want = "jpeg" if "jpeg" in m.format.split() else m.format
    c.at("format").eq(getattr(d.format, "value", d.format), want)


def gps(c, d, m):
    header(c, d.header, m.header)
    p = c.at("position")
    if d.position is None:
        p.fail("null")
    else:
        p.at("x").eq(d.position.x, m.latitude)
        p.at("y").eq(d.position.y, m.longitude)
        p.at("z").eq(d.position.z, m.altitude)
        covariance(p, d.position, m.position_covariance, int(m.position_covariance_type))
    c.at("velocity").eq(d.velocity, None)
    if (int(m.status.status), int(m.status.service)) != (-2, 0):  # null only for STATUS_UNKNOWN, service 0
        s = c.at("status")
        if d.status is None:
            s.fail("null")
        else:
            s.at("status").eq(d.status.status, int(m.status.status))
            s.at("service").eq(d.status.service, int(m.status.service))
            for n in ("satellites", "hdop", "vdop"):
                s.at(n).eq(getattr(d.status, n), None)
    else:
        c.at("status").eq(d.status, None)


def frame_transform(c, d, m):
    c.at("transforms.len").eq(len(d.transforms), len(m.transforms))
    for k, (g, w) in enumerate(zip(d.transforms, m.transforms)):
        t = c.at(f"transforms[{k}]")
        header(t, g.header, w.header)
        vec(t.at("translation"), g.translation, w.transform.translation)
        vec(t.at("rotation"), g.rotation, w.transform.rotation, "xyzw")
        t.at("target_frame_id").eq(g.target_frame_id, w.child_frame_id)
        covariance(t, g, None)


def point_cloud(c, d, m):
    header(c, d.header, m.header)
    for n in ("height", "width", "point_step", "row_step"):
        c.at(n).eq(getattr(d, n), int(getattr(m, n)))
    c.at("is_bigendian").eq(d.is_bigendian, bool(m.is_bigendian))
    c.at("is_dense").eq(d.is_dense, bool(m.is_dense))
    c.at("fields.len").eq(len(d.fields), len(m.fields))
    for k, (g, w) in enumerate(zip(d.fields, m.fields)):
        f = c.at(f"fields[{k}]")
        f.at("name").eq(g.name, w.name)
        f.at("offset").eq(g.offset, int(w.offset))
        f.at("datatype").eq(int(g.datatype), int(w.datatype))
        f.at("count").eq(g.count, int(w.count))
    c.at("data").eq(d.data, bytes(m.data))


def laser_scan(c, d, m):
    header(c, d.header, m.header)
    for n in ("angle_min", "angle_max", "angle_increment", "time_increment", "scan_time", "range_min", "range_max"):
        c.at(n).eq(getattr(d, n), f32s([getattr(m, n)])[0])
    c.at("ranges").eq(d.ranges, f32s(m.ranges))
    # no intensities in ROS (empty array) → null
    c.at("intensities").eq(d.intensities, f32s(m.intensities) if len(m.intensities) else None)


def magnetometer(c, d, m):
    """ROS tesla → ontology microtesla (docs/ontology-extensions.md, "Units and conversions")."""
    header(c, d.header, m.header)
    f = c.at("magnetic_field")
    if d.magnetic_field is None:
        f.fail("null")
        return
    for n in "xyz":
        f.at(n).close(getattr(d.magnetic_field, n), float(getattr(m.magnetic_field, n)) * 1e6)
    covariance(f, d.magnetic_field, m.magnetic_field_covariance, scale=lambda v: v * 1e12)
    f.at("header").eq(d.magnetic_field.header, None)


def scalar_value(field):
    def check(c, d, m):
        header(c, d.header, m.header)
        c.at("value").eq(d.value, float(getattr(m, field)))
        c.at("variance").eq(d.variance, None if pos_zero(m.variance) else float(m.variance))  # +0.0 = unknown
        c.at("variance_type").eq(d.variance_type, None)

    return check


def raw_cdr(c, d, m, payload):
    c.at("data").eq(d.data, bytes(payload))


# ROS type → (the class the SDK must decode rows as, check). Types not listed are expected raw.
TYPED = {
    "sensor_msgs/msg/Imu": (IMU, imu),
    "sensor_msgs/msg/Image": (Image, image),
    "sensor_msgs/msg/CompressedImage": (CompressedImage, compressed_image),
    "sensor_msgs/msg/NavSatFix": (GPS, gps),
    "tf2_msgs/msg/TFMessage": (FrameTransform, frame_transform),
    "sensor_msgs/msg/PointCloud2": (PointCloud2, point_cloud),
    "sensor_msgs/msg/LaserScan": (LaserScan, laser_scan),
    "sensor_msgs/msg/MagneticField": (Magnetometer, magnetometer),
    "sensor_msgs/msg/RelativeHumidity": (mosaico_bridge_ontology.Humidity, scalar_value("relative_humidity")),
    "sensor_msgs/msg/Illuminance": (mosaico_bridge_ontology.Illumination, scalar_value("illuminance")),
}


def bag_messages(path):
    """{topic: (ros type, [(log time, payload, deserialized message)])}, invalid payloads left out."""
    ts = get_typestore(Stores.ROS2_JAZZY)
    topics = {}
    path = Path(path)
    ros1 = path.is_file() and path.read_bytes()[:13] == b"#ROSBAG V2.0\n"
    if path.suffix == ".db3":
        path = path.parent  # rosbags reads .db3 through its bag directory
    with (Reader1 if ros1 else Reader)(path) as reader:
        for conn in reader.connections:
            topics.setdefault(conn.topic, (conn.msgtype, []))
        for conn, t, raw in reader.messages():
            if ros1:
                raw = ts.ros1_to_cdr(raw, conn.msgtype)
            try:
                msg = ts.deserialize_cdr(raw, conn.msgtype)
            except Exception:  # noqa: BLE001  (a malformed payload: the import skips it too)
                continue
            topics[conn.topic][1].append((t, bytes(raw), msg))
    return topics


def check_topic(seq, topic, ros_type, want, problems):
    cls, check = TYPED.get(ros_type, (mosaico_bridge_ontology.RosMessageCdr, None))
    th = seq.get_topic_handler(topic)
    if th is None:
        problems.append(f"{topic}: no such topic in the sequence")
        return None, 0
    meta = th.user_metadata or {}
    got_type = (meta.get("_ros_") or {}).get("msgtype")
    if got_type != ros_type:
        problems.append(f"{topic}: metadata _ros_.msgtype {got_type!r}, want {ros_type!r}")
    if th.ontology_tag != cls.__ontology_tag__:
        problems.append(f"{topic}: ontology tag {th.ontology_tag!r}, want {cls.__ontology_tag__!r}")
    rows = list(th.get_data_streamer())
    if len(rows) != len(want):
        problems.append(f"{topic}: {len(rows)} rows, want {len(want)} (the bag's valid messages)")
    compared = 0
    for i, (msg, (t, payload, ros)) in enumerate(zip(rows, want)):
        c = Check(problems, f"{topic}[{i}]")
        c.at("timestamp_ns").eq(msg.timestamp_ns, t)
        typed = msg.get_data(msg.ontology_type())
        # A row the SDK cannot decode as the class is a mismatch, never a row left out.
        if typed is None:
            c.fail(f"the SDK decodes no {cls.__name__} from the row (ontology type {msg.ontology_type()!r})")
            continue
        if not c.is_type(typed, cls):
            continue
        if msg.get_data(cls) is None:
            c.fail(f"get_data({cls.__name__}) is None")
            continue
        if check is None:
            raw_cdr(c, typed, ros, payload)
        else:
            check(c, typed, ros)
        compared += 1
    return cls, compared


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    host, port, name, bag = sys.argv[1:5]
    bag_topics = bag_messages(bag)
    problems = []
    with MosaicoClient.connect(host, int(port)) as client:
        seq = client.sequence_handler(name)
        if seq is None:
            sys.exit(f"sequence {name!r} not found")
        if sorted(seq.topics) != sorted(bag_topics):
            problems.append(f"sequence topics {sorted(seq.topics)}, want the bag's {sorted(bag_topics)}")
        for topic in sorted(bag_topics):
            ros_type, want = bag_topics[topic]
            mine = []
            cls, compared = None, 0
            try:
                cls, compared = check_topic(seq, topic, ros_type, want, mine)
            except Exception as e:  # noqa: BLE001  (the SDK failed to read: report, go on)
                mine.append(f"{topic}: reading failed: {type(e).__name__}: {e}")
            if compared != len(want):
                mine.append(f"{topic}: {compared} rows compared field by field, want {len(want)}")
            if not mine and cls is not None:
                print(f"ok {topic} {compared} {cls.__name__}", flush=True)
            else:
                problems += mine[:MAX_PER_TOPIC]
                if len(mine) > MAX_PER_TOPIC:
                    problems.append(f"{topic}: ... {len(mine) - MAX_PER_TOPIC} more mismatches")
    if problems:
        sys.stderr.write(f"{len(problems)} mismatch(es) between the bag and what the SDK reads:\n")
        sys.stderr.write("".join(f"  {p}\n" for p in problems))
        sys.exit(1)


if __name__ == "__main__":
    main()
