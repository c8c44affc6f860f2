"""Writes a small bag with rosbags, for the import tests:

    python make_bag.py OUT [FORMAT]

FORMAT (default mcap): `mcap` or `sqlite3` (a rosbag2 bag directory OUT holding OUT/NAME.mcap or
OUT/NAME.db3, NAME being OUT's name); `sqlite3-humble` (a .db3 as Humble writes it: schema version 3, no
message_definitions table); `mcap-zstd-file` / `sqlite3-zstd-message` (rosbag2's zstd
compression of the whole file / of each message); `split-mcap` / `split-sqlite3` (one bag directory of two storage files
bag_0 and bag_1, the /imu messages 0-49 in the first and the rest in the second, the second file's
connections added in reverse order so its ids differ; metadata.yaml lists both); `ros1`, `ros1-bz2`,
`ros1-lz4` (a ROS 1 bag file OUT, chunks uncompressed / bz2 / lz4, every message rosbags'
`cdr_to_ros1` of the ROS 2 one, Header seq set to the message's index; /tf latched; the garbage
/imu payload is left out, as it is no ROS 1 message either); `mcap-late` (as `mcap`, every message
recorded LATE_NS = 7 ms after its header stamp, as a recorder downstream of a driver sees it).

Topics: /imu (sensor_msgs/Imu, 100 msgs at 100 Hz, plus one garbage payload; every 10th from the
3rd with REP 145's "no orientation" covariance beside its quaternion and an angular velocity
covariance [-1, 0, ...]), /camera/image_raw (sensor_msgs/Image 16x8 rgb8, 3 msgs),
/camera/compressed (sensor_msgs/CompressedImage, 2 msgs of 32 bytes, format image_transport's
"rgb8; jpeg compressed bgr8"), /gps
(sensor_msgs/NavSatFix, 5 msgs, the 4th with status -2 service 1 and covariance type 2 beside a
zero covariance), /tf (tf2_msgs/TFMessage,
2 msgs), /diag_kv (diagnostic_msgs/KeyValue: no typed mapping, stored raw), /points
(sensor_msgs/PointCloud2 8x4 points of float32 x, y, z, intensity, 3 msgs, the second with a NaN
point and is_dense false), /scan (sensor_msgs/LaserScan, 16 ranges with inf, -inf and NaN among
them, 3 msgs, the first without intensities), /mag (sensor_msgs/MagneticField in tesla, 4 msgs, the
odd ones with a covariance) and /humidity (sensor_msgs/RelativeHumidity, 4 msgs, variance 0 =
unknown on the even ones). Values are deterministic so the Rust test and python/sdk_read_bag.py can
check them field by field. Record time = T0 + i * period. /imu is offered best effort (depth 5)
and /tf transient local (depth 1), so exports can be checked for the recorded QoS.
"""
import shutil
import sqlite3
import sys
import tempfile
from pathlib import Path

import numpy as np
from ruamel.yaml import YAML
from rosbags.interfaces import Qos, QosDurability, QosHistory, QosLiveliness, QosReliability, QosTime
from rosbags.rosbag1 import Writer as Writer1
from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

T0 = 1_700_000_000_000_000_000
ts = get_typestore(Stores.ROS2_JAZZY)
M = ts.types
Time = M["builtin_interfaces/msg/Time"]
Header = M["std_msgs/msg/Header"]


def header(t, frame):
    return Header(stamp=Time(sec=t // 1_000_000_000, nanosec=t % 1_000_000_000), frame_id=frame)


LATE_NS = 7_000_000

INF = QosTime(sec=2147483647, nsec=4294967295)


def qos(reliability, durability, depth):
    return Qos(history=QosHistory.KEEP_LAST, depth=depth, reliability=reliability, durability=durability, deadline=INF,
               lifespan=INF, liveliness=QosLiveliness.AUTOMATIC, liveliness_lease_duration=INF,
               avoid_ros_namespace_conventions=False)


class Recorder:
    """Collects the connections and messages, written out by `emit` in the chosen format."""

    def __init__(self):
        self.conns, self.msgs = [], []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def add_connection(self, topic, msgtype, typestore=None, offered_qos_profiles=None):
        self.conns.append((topic, msgtype, offered_qos_profiles or []))
        return len(self.conns) - 1

    def write(self, conn, t, data):
        self.msgs.append((conn, t, bytes(data)))


def write_rosbag2(out, rec, plugin, msgs, order, compression=None):
    w = Writer(out, version=8, storage_plugin=plugin)
    if compression:
        w.set_compression(compression, CompressionFormat.ZSTD)
    with w:
        handles = {}
        for k in order:
            topic, msgtype, qos_ = rec.conns[k]
            handles[k] = w.add_connection(topic, msgtype, typestore=ts, offered_qos_profiles=qos_)
        for k, t, data in msgs:
            w.write(handles[k], t, data)


def write_split(out, rec, plugin, ext):
    out = Path(out)
    imu = [i for i, (k, _, _) in enumerate(rec.msgs) if rec.conns[k][0] == "/imu"]
    cut = imu[50]  # /imu 0-49 in the first file
    parts = [rec.msgs[:cut], rec.msgs[cut:]]
    orders = [range(len(rec.conns)), reversed(range(len(rec.conns)))]
    out.mkdir(parents=True)
    metas = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, (msgs, order) in enumerate(zip(parts, orders)):
            used = sorted({k for k, _, _ in msgs})
            part = Path(tmp) / f"bag_{n}"
            write_rosbag2(part, rec, plugin, msgs, [k for k in order if k in used])
            shutil.move(part / f"bag_{n}.{ext}", out / f"bag_{n}.{ext}")
            metas.append(YAML(typ="safe").load((part / "metadata.yaml").read_text())["rosbag2_bagfile_information"])
    meta = metas[0]
    counts = {}
    for m in metas:
        for t in m["topics_with_message_count"]:
            name = t["topic_metadata"]["name"]
            counts.setdefault(name, dict(t, message_count=0))["message_count"] += t["message_count"]
    meta["topics_with_message_count"] = list(counts.values())
    meta["relative_file_paths"] = [m["relative_file_paths"][0] for m in metas]
    meta["files"] = [f for m in metas for f in m["files"]]
    meta["message_count"] = sum(m["message_count"] for m in metas)
    start = min(m["starting_time"]["nanoseconds_since_epoch"] for m in metas)
    end = max(m["starting_time"]["nanoseconds_since_epoch"] + m["duration"]["nanoseconds"] for m in metas)
    meta["starting_time"]["nanoseconds_since_epoch"], meta["duration"]["nanoseconds"] = start, end - start
    with (out / "metadata.yaml").open("w") as f:
        YAML(typ="safe").dump({"rosbag2_bagfile_information": meta}, f)


def humble_db3(out):
    """Makes rosbags' .db3 look like Humble's: schema 3, no message definitions."""
    (db3,) = Path(out).glob("*.db3")
    db = sqlite3.connect(db3)
    db.executescript("DROP TABLE message_definitions; UPDATE schema SET schema_version = 3;")
    db.commit()
    db.close()


def write_ros1(out, rec, compression):
    ts1 = get_typestore(Stores.ROS1_NOETIC)
    ts1.register(get_types_from_msg("geometry_msgs/TransformStamped[] transforms", "tf2_msgs/msg/TFMessage"))
    w = Writer1(Path(out))
    if compression:
        w.set_compression(compression)
    with w:
        handles = [w.add_connection(topic, msgtype, typestore=ts1,
                                    latching=int(any(q.durability == QosDurability.TRANSIENT_LOCAL for q in qos_)))
                   for topic, msgtype, qos_ in rec.conns]
        for n, (k, t, data) in enumerate(rec.msgs):
            msgtype = rec.conns[k][1]
            try:
                ros1 = ts.cdr_to_ros1(data, msgtype)
            except Exception:  # noqa: BLE001 - the garbage payload: not a message in ROS 1 either
                continue
            if ts.fielddefs[msgtype][1] and ts.fielddefs[msgtype][1][0][0] == "header":
                ros1 = (n + 1).to_bytes(4, "little") + ros1[4:]  # Header.seq: ROS 1 only
            w.write(handles[k], t, ros1)


def emit(out, rec, fmt):
    everything = range(len(rec.conns))
    if fmt == "mcap":
        write_rosbag2(out, rec, StoragePlugin.MCAP, rec.msgs, everything)
    elif fmt == "mcap-late":
        late = [(k, t + LATE_NS, data) for k, t, data in rec.msgs]
        write_rosbag2(out, rec, StoragePlugin.MCAP, late, everything)
    elif fmt in ("sqlite3", "sqlite3-humble"):
        write_rosbag2(out, rec, StoragePlugin.SQLITE3, rec.msgs, everything)
        if fmt == "sqlite3-humble":
            humble_db3(out)
    elif fmt == "mcap-zstd-file":
        write_rosbag2(out, rec, StoragePlugin.MCAP, rec.msgs, everything, CompressionMode.FILE)
    elif fmt == "sqlite3-zstd-message":
        write_rosbag2(out, rec, StoragePlugin.SQLITE3, rec.msgs, everything, CompressionMode.MESSAGE)
    elif fmt == "split-mcap":
        write_split(out, rec, StoragePlugin.MCAP, "mcap")
    elif fmt == "split-sqlite3":
        write_split(out, rec, StoragePlugin.SQLITE3, "db3")
    elif fmt in ("ros1", "ros1-bz2", "ros1-lz4"):
        write_ros1(out, rec, {"ros1": None, "ros1-bz2": Writer1.CompressionFormat.BZ2,
                              "ros1-lz4": Writer1.CompressionFormat.LZ4}[fmt])
    else:
        sys.exit(f"unknown format {fmt}")


def fill(rec):
    with rec as w:
        imu = w.add_connection("/imu", "sensor_msgs/msg/Imu", typestore=ts,
                               offered_qos_profiles=[qos(QosReliability.BEST_EFFORT, QosDurability.VOLATILE, 5)])
        cam = w.add_connection("/camera/image_raw", "sensor_msgs/msg/Image", typestore=ts)
        jpg = w.add_connection("/camera/compressed", "sensor_msgs/msg/CompressedImage", typestore=ts)
        gps = w.add_connection("/gps", "sensor_msgs/msg/NavSatFix", typestore=ts)
        tf = w.add_connection("/tf", "tf2_msgs/msg/TFMessage", typestore=ts,
                              offered_qos_profiles=[qos(QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL, 1)])
        kv = w.add_connection("/diag_kv", "diagnostic_msgs/msg/KeyValue", typestore=ts)
        pts = w.add_connection("/points", "sensor_msgs/msg/PointCloud2", typestore=ts)
        scan = w.add_connection("/scan", "sensor_msgs/msg/LaserScan", typestore=ts)
        mag = w.add_connection("/mag", "sensor_msgs/msg/MagneticField", typestore=ts)
        hum = w.add_connection("/humidity", "sensor_msgs/msg/RelativeHumidity", typestore=ts)
        V3, Q = M["geometry_msgs/msg/Vector3"], M["geometry_msgs/msg/Quaternion"]
        for i in range(100):
            t = T0 + i * 10_000_000
            # every 10th from the 3rd: REP 145 "no orientation" beside a quaternion, and a
            # covariance with no positive element (both stored as received, for byte-exact replay)
            no_estimate = np.zeros(9)
            no_estimate[0] = -1.0
            m = M["sensor_msgs/msg/Imu"](
                header=header(t, "imu_link"),
                orientation=Q(x=0.0, y=0.0, z=0.0, w=1.0),
                orientation_covariance=no_estimate if i % 10 == 3 else np.zeros(9),
                angular_velocity=V3(x=0.01 * i, y=0.0, z=0.0),
                angular_velocity_covariance=no_estimate if i % 10 == 3 else np.zeros(9),
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
        for i in range(2):
            t = T0 + i * 100_000_000 + 5_000_000
            data = np.array([0xFF, 0xD8] + [(x * 11 + i) & 0xFF for x in range(30)], dtype=np.uint8)
            m = M["sensor_msgs/msg/CompressedImage"](header=header(t, "cam"), format="rgb8; jpeg compressed bgr8", data=data)
            w.write(jpg, t, ts.serialize_cdr(m, "sensor_msgs/msg/CompressedImage"))
        for i in range(5):
            t = T0 + i * 200_000_000
            # the 4th: STATUS_UNKNOWN (-2) with a service, and a covariance type beside a zero covariance
            st = M["sensor_msgs/msg/NavSatStatus"](status=-2 if i == 3 else 0, service=1)
            m = M["sensor_msgs/msg/NavSatFix"](header=header(t, "gps"), status=st, latitude=45.0 + i * 1e-4, longitude=9.0, altitude=120.0,
                                              position_covariance=np.zeros(9), position_covariance_type=2 if i == 3 else 0)
            w.write(gps, t, ts.serialize_cdr(m, "sensor_msgs/msg/NavSatFix"))
        TS, T, V = M["geometry_msgs/msg/TransformStamped"], M["geometry_msgs/msg/Transform"], M["geometry_msgs/msg/Vector3"]
        for i in range(2):
            t = T0 + i * 500_000_000
            tr = TS(header=header(t, "map"), child_frame_id="base_link", transform=T(translation=V(x=float(i), y=2.0, z=0.0), rotation=Q(x=0.0, y=0.0, z=0.0, w=1.0)))
            w.write(tf, t, ts.serialize_cdr(M["tf2_msgs/msg/TFMessage"](transforms=[tr]), "tf2_msgs/msg/TFMessage"))
        for i in range(2):
            w.write(kv, T0 + i, ts.serialize_cdr(M["diagnostic_msgs/msg/KeyValue"](key=f"k{i}", value="v"), "diagnostic_msgs/msg/KeyValue"))
        PF = M["sensor_msgs/msg/PointField"]
        fields = [PF(name=n, offset=4 * k, datatype=PF.FLOAT32, count=1) for k, n in enumerate(["x", "y", "z", "intensity"])]
        for i in range(3):
            t = T0 + i * 100_000_000 + 5_000_000
            r, c = np.meshgrid(np.arange(4), np.arange(8), indexing="ij")
            xyzi = np.stack([c * 0.5 + i, r * 0.25 - 1.0, np.full(r.shape, 0.1 * i), (r * 8 + c) * 10.0 + i], axis=-1).astype("<f4")
            if i == 1:
                xyzi[2, 5, :3] = np.nan  # an invalid point: the cloud is not dense
            m = M["sensor_msgs/msg/PointCloud2"](header=header(t, "lidar"), height=4, width=8, fields=fields, is_bigendian=False,
                                                point_step=16, row_step=128, data=np.frombuffer(xyzi.tobytes(), dtype=np.uint8),
                                                is_dense=i != 1)
            w.write(pts, t, ts.serialize_cdr(m, "sensor_msgs/msg/PointCloud2"))
        for i in range(3):
            t = T0 + i * 100_000_000 + 7_000_000
            ranges = (np.arange(16) * 0.5 + 1.0 + i * 0.125).astype(np.float32)
            ranges[3], ranges[7], ranges[11] = np.inf, np.nan, -np.inf  # REP 117: out of range / invalid
            intensities = (np.arange(16) * 4.0 + i).astype(np.float32) if i else np.zeros(0, dtype=np.float32)
            m = M["sensor_msgs/msg/LaserScan"](header=header(t, "laser"), angle_min=-1.5, angle_max=1.5, angle_increment=0.2,
                                              time_increment=0.001, scan_time=0.1, range_min=0.5, range_max=30.0,
                                              ranges=ranges, intensities=intensities)
            w.write(scan, t, ts.serialize_cdr(m, "sensor_msgs/msg/LaserScan"))
        for i in range(4):
            t = T0 + i * 250_000_000 + 3_000_000
            cov = np.diag([1e-12 * (k + 1) for k in range(3)]).reshape(9) if i % 2 else np.zeros(9)
            m = M["sensor_msgs/msg/MagneticField"](header=header(t, "mag"), magnetic_field=V3(x=2.2e-5 + i * 1e-7, y=-4.5e-6, z=4.1e-5),
                                                  magnetic_field_covariance=cov)
            w.write(mag, t, ts.serialize_cdr(m, "sensor_msgs/msg/MagneticField"))
        for i in range(4):
            t = T0 + i * 250_000_000 + 9_000_000
            m = M["sensor_msgs/msg/RelativeHumidity"](header=header(t, "hygro"), relative_humidity=0.4 + 0.01 * i,
                                                     variance=0.0 if i % 2 == 0 else 0.0004)
            w.write(hum, t, ts.serialize_cdr(m, "sensor_msgs/msg/RelativeHumidity"))




def main(out, fmt="mcap"):
    rec = Recorder()
    fill(rec)
    emit(out, rec, fmt)


if __name__ == "__main__":
    main(*sys.argv[1:3])
