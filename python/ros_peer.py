#!/usr/bin/env python3
"""ros_peer.py: an independent ROS 2 sensor node, written with the PyPI `cyclonedds` package, posing
as a robot for the recorder's live tests and benchmark. No ROS installation is involved: it speaks
to the DDS wire exactly as a ROS 2 node on rmw_cyclonedds does.

WHERE IT MAY RUN. DDS discovery multicasts (239.255.0.1) and nothing may leave this machine. Run it,
and every other DDS process of a test, inside a network namespace that has only loopback:

    ip netns add rp
    ip netns exec rp ip link set lo up
    ip netns exec rp ip link set lo multicast on
    ip netns exec rp ip route add 224.0.0.0/4 dev lo
    ip netns exec rp .venv/bin/python python/ros_peer.py --duration 60 --manifest /tmp/peer.json
    ...
    ip netns del rp

The script refuses to start (exit status 2) when /sys/class/net lists any interface other than
`lo`, and its Cyclone DDS configuration binds it to `lo` as well.

WHAT IT PUBLISHES (a topic can be left out with --topics; defaults are the benchmark load):

    topic                ROS type                    default rate  default QoS
    /camera/image_raw    sensor_msgs/msg/Image       30 Hz         best effort, volatile, keep last 5
    /imu                 sensor_msgs/msg/Imu         1000 Hz       best effort, volatile, keep last 5
    /points              sensor_msgs/msg/PointCloud2 10 Hz         best effort, volatile, keep last 5
    /gps                 sensor_msgs/msg/NavSatFix   10 Hz         reliable, volatile, keep last 10
    /tf                  tf2_msgs/msg/TFMessage      50 Hz         reliable, volatile, keep last 10
    /tf_static           tf2_msgs/msg/TFMessage      once at start reliable, transient local, keep last 1
    /clock               rosgraph_msgs/msg/Clock     --clock HZ    reliable, volatile, keep last 10
                         (only with --clock: simulated time t0 + seconds since the peer started,
                         from before the wait for subscribers, which waits for /clock's too)

As ROS 2 does: DDS topic `rt/<topic>`, DDS type `<pkg>::msg::dds_::<Name>_`, final (plain CDR)
structs, data representation XCDR1, payload = 4-byte encapsulation header `00 01 00 00` (CDR little
endian) + CDR, zero-padded to a multiple of 4 bytes (as rmw_cyclonedds pads). Every payload is
serialised by `rosbags` (byte-identical to rmw_cyclonedds) once per message, or once per run and
then patched in place for images and point clouds, and handed to Cyclone as pre-serialised bytes:
`dds_write` is called through ctypes on the sample container of cyclonedds-python's serdata (the C
side of its own `DataWriter.write`), so the GIL is released while Cyclone copies and sends, and
Cyclone's own CDR validation (`dds_stream_normalize`) checks every valid payload against the IDL
type. Like an rmw node, the participant carries USER_DATA `enclave=/;` and publishes
`ros_discovery_info` (rmw_dds_common/msg/ParticipantEntitiesInfo, 16-byte gids as Iron and later)
listing node `/ros_peer` (--node-name) and its writers. One difference from rmw_cyclonedds stays
in discovery: cyclonedds-python announces XTypes type information for its endpoints, which readers
that match by type name (RustDDS, rmw) ignore.

CONTENT RULES (message i of a topic; i counts from 0 per topic; everything is deterministic):

  stamp(i) = t0 + round(i * 1e9 / rate) ns, t0 = --t0 seconds (default 1700000000; `now` = the
  start time rounded down to the second). header.stamp = stamp(i); for TFMessage every transform's
  header.stamp = stamp(i).

  /camera/image_raw  frame_id camera_optical_frame, height H, width W (--image-size WxH, default
      1920x1080), encoding rgb8, is_bigendian 0, step 3W. data: pixel (x, y) = (x & 255, y & 255,
      (x + y) & 255), except the LAST 8 BYTES of data = i as uint64 little endian. Only the stamp
      and those 8 bytes change from one message to the next.
  /imu  frame_id imu_link, orientation (0, 0, 0, 1), angular_velocity (0.01*i, 0.02, -0.03),
      linear_acceleration (0.5*i, -1.0, 9.81); covariances zero except their diagonals, which are
      0.001 (orientation), 0.002 (angular velocity), 0.003 (linear acceleration).
  /points  frame_id lidar_link, height R, width C (--points-size RxC, default 128x2048), fields
      x, y, z, intensity (FLOAT32, offsets 0, 4, 8, 12, count 1), is_bigendian false, point_step
      16, row_step 16C, is_dense true. Point (r, c): azimuth a = 2*pi*c/C, elevation
      e = radians(-15 + 30*r/(R-1)) (0 when R = 1), range d = 10 + 0.5*(r % 4);
      x = d cos(e) cos(a), y = d cos(e) sin(a), z = d sin(e), intensity = (r*C + c) % 256 (all
      float32, computed by numpy); except the LAST POINT (last 16 bytes of data), whose x, y, z and
      intensity all equal float32(i). Only the stamp and that point change.
  /gps  frame_id gps_link, status.status 0 (STATUS_FIX), status.service 1 (SERVICE_GPS),
      latitude 45.0 + i*1e-6, longitude 9.0 + i*2e-6, altitude 120.0 + 0.01*i,
      position_covariance diagonal (1.0, 1.0, 4.0), position_covariance_type 2 (DIAGONAL_KNOWN).
  /tf  two transforms: odom -> base_link, translation (0.01*i, 0.0, 0.0), rotation (0, 0, 0, 1);
      map -> odom, translation (1.0, 2.0, 0.0), rotation (0, 0, 0, 1).
  /tf_static  one message (index 0, stamp t0), parent base_link for all: camera_optical_frame
      (0.2, 0.0, 0.5) rotation (-0.5, 0.5, -0.5, 0.5); imu_link (0.0, 0.0, 0.1); lidar_link
      (0.0, 0.0, 0.8); gps_link (-0.1, 0.0, 1.0); the last three with rotation (0, 0, 0, 1).

  --garbage TOPIC:N sends N invalid payloads on TOPIC, spread evenly among the valid messages:
  garbage k (k = 0..N-1) is sent right after valid message ((k+1)*P)//(N+1) - 1 (at least 0),
  P = the planned count; its kind cycles with k % 3:
      0 truncated   the valid payload of that message cut to half its length (at least 5 bytes)
      1 bad_length  that valid payload with its first length field set to 0xFFFFFF00 (the
                    frame_id length at offset 12; for TFMessage the transforms count at offset 4)
      2 junk        `00 01 00 00` + b"garbage!"
  (then zero-padded to a multiple of 4). Cyclone's writer validates payloads against the writer's
  type and would refuse these, so garbage goes through a second DDS writer of the same topic and
  the same DDS type name whose IDL type is a one-byte struct: readers that match by type name
  (RustDDS, rmw_cyclonedds, the recorder) receive both writers; an XTypes-aware Cyclone reader of the
  real type (ros_listen.py's default mode) does not match the garbage writer (ros_listen.py
  --opaque does). Not available for /tf_static.

TIMING. One thread per topic, each on absolute deadlines t_start + i/rate (no drift; a late
message is sent at once and the schedule does not shift; nothing is skipped). A send is counted
`late` when it starts more than one period after its deadline. Achieved rates, late counts,
lateness and write-time percentiles go to stderr and to the manifest. --wait-subscribers N waits
(up to --wait-timeout, then exit status 3) until every periodic writer (or those of --wait-on) has
N matched readers; --start-delay S waits S seconds more; /tf_static is published before either.
After the last message the node stays up --linger seconds (reliable writers wait for
acknowledgements meanwhile), so late joiners still get /tf_static. SIGTERM/SIGINT stop it cleanly;
the manifest is written in every case.

CYCLONE SETTINGS. The defaults are those of a stock ROS 2 node on rmw_cyclonedds (MaxMessageSize
14720B, FragmentSize 1344B: a 1080p image is ~4600 DATA_FRAG submessages) except the receive
buffer (Internal/SocketReceiveBufferSize min 4MB, --rcvbuf; net.core.rmem_max must allow it).
--max-message-size 65500B --fragment-size 64000B sends ~100 fragments per image instead;
--sndbuf sets Internal/SocketSendBufferSize. --rt-priority N runs the publishing threads
SCHED_FIFO (root), which cuts lateness on a loaded machine but lets the sender outrun slower
readers.

MANIFEST (--manifest FILE, JSON written at exit):

  {"format": "ros_peer/1", "node": "/ros_peer", "t0_ns": int, "domain_id": int,
   "started_unix_ns": int, "run_s": float, "interrupted": null | "SIGTERM" | "SIGINT",
   "wait": {"subscribers": N, "satisfied": bool, "waited_s": float},
   "topics": {"<topic>": {
      "ros_type", "dds_topic", "dds_type", "frame_id",
      "qos": {"reliability": "reliable"|"best_effort", "durability": "volatile"|"transient_local",
              "history": "keep_last", "depth": int},
      "rate_hz": float | null (tf_static), "planned": int, "published": int, "garbage": int,
      "write_errors": int, "payload_bytes": int (size of valid message 0),
      "timing": {"achieved_hz", "late", "lateness_ms": {"p50", "p99", "max"},
                 "write_ms": {"p50", "p99", "max"}, "first_send_s", "last_send_s"},
      "messages": [{"i": int, "stamp": [sec, nanosec], ...keys}],   (absent with --manifest-keys none)
      "garbage_messages": [{"k": int, "after": int, "kind": str, "size": int}]}},
   "clock": {"rate_hz": float, "values_ns": [int, ...]}}   (with --clock: every value published)

  keys per type (with --manifest-keys all; `stamps` keeps only i and stamp):
    Imu          orientation_w, angular_velocity_x, linear_acceleration_x, linear_acceleration_z
    NavSatFix    latitude, longitude, altitude, status (status.status), service
    Image        width, height, encoding, step, data_sha256
    PointCloud2  width, height, point_step, row_step, is_dense, data_sha256
    TFMessage    transforms: [{child_frame_id, frame_id, translation: [x, y, z], rotation_w}]
  "published" counts valid messages whose dds_write succeeded (a best-effort write succeeds even
  if no reader gets it); "messages" lists exactly those. ros_listen.py --check compares what a
  reader received with these entries, matching by stamp.

Example, the 60 s benchmark load with a listener in the same namespace:
    ip netns exec rp .venv/bin/python python/ros_peer.py --duration 60 --manifest-keys stamps \\
        --manifest /tmp/peer.json --wait-subscribers 1 --wait-on imu &
    ip netns exec rp .venv/bin/python python/ros_listen.py --topic /imu --duration 65 \\
        --check /tmp/peer.json
"""

import argparse
import ctypes
import dataclasses
import gc
import hashlib
import json
import math
import os
import signal
import struct
import sys
import threading
import time
from array import array
from dataclasses import dataclass, field
from typing import Optional


# --------------------------------------------------------------------------------------------------
# Loopback only
# --------------------------------------------------------------------------------------------------

def require_loopback_only(prog: str) -> None:
    """Exits with status 2 unless `lo` is the only network interface (a loopback-only namespace)."""
    try:
        ifaces = sorted(os.listdir("/sys/class/net"))
    except OSError as e:
        sys.stderr.write(f"{prog}: refusing to start: cannot list /sys/class/net ({e}), so cannot "
                         "tell that DDS multicast stays on this machine\n")
        sys.exit(2)
    others = [i for i in ifaces if i != "lo"]
    if others:
        sys.stderr.write(
            f"{prog}: refusing to start: network interfaces other than lo are present "
            f"({', '.join(others)}). DDS discovery multicasts; run this inside a network namespace "
            "that has only loopback:\n"
            "  ip netns add NAME; ip netns exec NAME ip link set lo up; "
            "ip netns exec NAME ip link set lo multicast on; "
            "ip netns exec NAME ip route add 224.0.0.0/4 dev lo; ip netns exec NAME <command>\n")
        sys.exit(2)


# Importing cyclonedds opens no socket; only a participant does, and main() checks first.
import numpy as np  # noqa: E402
from cyclonedds.domain import Domain, DomainParticipant  # noqa: E402
from cyclonedds.idl import IdlStruct  # noqa: E402
from cyclonedds.idl.annotations import final  # noqa: E402
from cyclonedds.idl.types import (array as idl_array, bounded_str, float64, int8, int32, sequence,  # noqa: E402
                                  uint8, uint16, uint32)
from cyclonedds.internal import DDS  # noqa: E402
from cyclonedds.pub import DataWriter  # noqa: E402
from cyclonedds.qos import Policy, Qos  # noqa: E402
from cyclonedds.topic import Topic  # noqa: E402
from cyclonedds.util import duration  # noqa: E402
from rosbags.typesys import Stores, get_typestore  # noqa: E402

TYPESTORE = get_typestore(Stores.ROS2_JAZZY)
M = TYPESTORE.types


# --------------------------------------------------------------------------------------------------
# IDL types, named as rosidl names them for DDS (final structs, plain CDR)
# --------------------------------------------------------------------------------------------------

@final
@dataclass
class Time(IdlStruct, typename="builtin_interfaces::msg::dds_::Time_"):
    sec: int32
    nanosec: uint32


@final
@dataclass
class Clock(IdlStruct, typename="rosgraph_msgs::msg::dds_::Clock_"):
    clock: Time


@final
@dataclass
class Header(IdlStruct, typename="std_msgs::msg::dds_::Header_"):
    stamp: Time
    frame_id: str


@final
@dataclass
class Vector3(IdlStruct, typename="geometry_msgs::msg::dds_::Vector3_"):
    x: float64
    y: float64
    z: float64


@final
@dataclass
class Quaternion(IdlStruct, typename="geometry_msgs::msg::dds_::Quaternion_"):
    x: float64
    y: float64
    z: float64
    w: float64


@final
@dataclass
class Transform(IdlStruct, typename="geometry_msgs::msg::dds_::Transform_"):
    translation: Vector3
    rotation: Quaternion


@final
@dataclass
class TransformStamped(IdlStruct, typename="geometry_msgs::msg::dds_::TransformStamped_"):
    header: Header
    child_frame_id: str
    transform: Transform


@final
@dataclass
class TFMessage(IdlStruct, typename="tf2_msgs::msg::dds_::TFMessage_"):
    transforms: sequence[TransformStamped]


@final
@dataclass
class Image(IdlStruct, typename="sensor_msgs::msg::dds_::Image_"):
    header: Header
    height: uint32
    width: uint32
    encoding: str
    is_bigendian: uint8
    step: uint32
    data: sequence[uint8]


@final
@dataclass
class Imu(IdlStruct, typename="sensor_msgs::msg::dds_::Imu_"):
    header: Header
    orientation: Quaternion
    orientation_covariance: idl_array[float64, 9]
    angular_velocity: Vector3
    angular_velocity_covariance: idl_array[float64, 9]
    linear_acceleration: Vector3
    linear_acceleration_covariance: idl_array[float64, 9]


@final
@dataclass
class PointField(IdlStruct, typename="sensor_msgs::msg::dds_::PointField_"):
    name: str
    offset: uint32
    datatype: uint8
    count: uint32


@final
@dataclass
class PointCloud2(IdlStruct, typename="sensor_msgs::msg::dds_::PointCloud2_"):
    header: Header
    height: uint32
    width: uint32
    fields: sequence[PointField]
    is_bigendian: bool
    point_step: uint32
    row_step: uint32
    data: sequence[uint8]
    is_dense: bool


@final
@dataclass
class NavSatStatus(IdlStruct, typename="sensor_msgs::msg::dds_::NavSatStatus_"):
    status: int8
    service: uint16


@final
@dataclass
class NavSatFix(IdlStruct, typename="sensor_msgs::msg::dds_::NavSatFix_"):
    header: Header
    status: NavSatStatus
    latitude: float64
    longitude: float64
    altitude: float64
    position_covariance: idl_array[float64, 9]
    position_covariance_type: uint8


@final
@dataclass
class Gid(IdlStruct, typename="rmw_dds_common::msg::dds_::Gid_"):
    data: idl_array[uint8, 16]


@final
@dataclass
class NodeEntitiesInfo(IdlStruct, typename="rmw_dds_common::msg::dds_::NodeEntitiesInfo_"):
    node_namespace: bounded_str[256]
    node_name: bounded_str[256]
    reader_gid_seq: sequence[Gid]
    writer_gid_seq: sequence[Gid]


@final
@dataclass
class ParticipantEntitiesInfo(IdlStruct, typename="rmw_dds_common::msg::dds_::ParticipantEntitiesInfo_"):
    gid: Gid
    node_entities_info_seq: sequence[NodeEntitiesInfo]


IDL_TYPES = {
    "sensor_msgs/msg/Image": Image,
    "sensor_msgs/msg/Imu": Imu,
    "sensor_msgs/msg/PointCloud2": PointCloud2,
    "sensor_msgs/msg/NavSatFix": NavSatFix,
    "tf2_msgs/msg/TFMessage": TFMessage,
}

_OPAQUE_TYPES: dict = {}


def dds_type_name(ros_type: str) -> str:
    """`sensor_msgs/msg/Imu` -> `sensor_msgs::msg::dds_::Imu_` (rosidl's DDS naming)."""
    pkg, kind, name = ros_type.split("/")
    return f"{pkg}::{kind}::dds_::{name}_"


def dds_topic_name(topic: str) -> str:
    """`/camera/image_raw` -> `rt/camera/image_raw` (ROS 2's prefix for topics)."""
    return "rt/" + topic.lstrip("/")


def opaque_type(ros_type: str):
    """An IDL type with the DDS type name of `ros_type` whose only member is one byte, so Cyclone
    accepts any payload of at least one byte after the encapsulation header. Its XTypes type
    differs from the real one, so XTypes-aware Cyclone readers of the real type do not match it;
    readers that match by type name only do."""
    if ros_type not in _OPAQUE_TYPES:
        @final
        @dataclass
        class Opaque(IdlStruct, typename=dds_type_name(ros_type)):
            first_byte: uint8
        Opaque.__name__ = Opaque.__qualname__ = "Opaque_" + ros_type.replace("/", "_")
        _OPAQUE_TYPES[ros_type] = Opaque
    return _OPAQUE_TYPES[ros_type]


# --------------------------------------------------------------------------------------------------
# Cyclone configuration, QoS, raw writes
# --------------------------------------------------------------------------------------------------

def cyclone_config(rcvbuf: str = "4MB", sndbuf: Optional[str] = None,
                   max_message_size: Optional[str] = None, fragment_size: Optional[str] = None) -> str:
    """Cyclone DDS configuration: loopback only (with multicast on lo), socket buffers, message and
    fragment sizes (None keeps Cyclone's defaults, 14720B / 1344B, as a stock ROS 2 node)."""
    general = ['<Interfaces><NetworkInterface name="lo" multicast="true"/></Interfaces>',
               "<AllowMulticast>true</AllowMulticast>"]
    if max_message_size:
        general.append(f"<MaxMessageSize>{max_message_size}</MaxMessageSize>")
    if fragment_size:
        general.append(f"<FragmentSize>{fragment_size}</FragmentSize>")
    internal = []
    if rcvbuf and rcvbuf != "0":
        internal.append(f'<SocketReceiveBufferSize min="{rcvbuf}"/>')
    if sndbuf and sndbuf != "0":
        internal.append(f'<SocketSendBufferSize min="{sndbuf}"/>')
    return ('<CycloneDDS><Domain id="any">'
            f"<General>{''.join(general)}</General>"
            f"<Internal>{''.join(internal)}</Internal>"
            "</Domain></CycloneDDS>")


def open_participant(domain_id: int, config: str):
    """Creates the domain with `config` (the environment's CYCLONEDDS_URI is not used) and a
    participant carrying rmw's USER_DATA `enclave=/;`. Returns (domain, participant)."""
    domain = Domain(domain_id, config)
    dp = DomainParticipant(domain_id, qos=Qos(Policy.Userdata(b"enclave=/;")))
    return domain, dp


@dataclass(frozen=True)
class QosSpec:
    reliable: bool
    transient_local: bool
    depth: int

    def to_dds(self) -> Qos:
        rel = (Policy.Reliability.Reliable(duration(milliseconds=100)) if self.reliable
               else Policy.Reliability.BestEffort)
        dur = Policy.Durability.TransientLocal if self.transient_local else Policy.Durability.Volatile
        return Qos(rel, dur, Policy.History.KeepLast(self.depth),
                   Policy.DataRepresentation(use_cdrv0_representation=True))

    def to_json(self) -> dict:
        return {"reliability": "reliable" if self.reliable else "best_effort",
                "durability": "transient_local" if self.transient_local else "volatile",
                "history": "keep_last", "depth": self.depth}


class _SampleContainer(ctypes.Structure):
    # cyclonedds-python's sample representation (clayer/pysertype.c, ddspy_sample_container_t):
    # a serialised sample, encapsulation header included.
    _fields_ = [("usample", ctypes.c_void_p), ("usample_size", ctypes.c_size_t)]


_dds_write = DDS._dll_handle.dds_write
_dds_write.argtypes = [ctypes.c_int32, ctypes.c_void_p]
_dds_write.restype = ctypes.c_int32


class RawWriter:
    """Writes pre-serialised CDR (header included) through a cyclonedds-python DataWriter: the same
    `dds_write(writer, &container)` that `DataWriter.write` reaches through `ddspy_write`, called
    through ctypes so that the GIL is released while Cyclone copies, validates and sends."""

    def __init__(self, writer: DataWriter):
        self.writer = writer
        self._ref = writer._ref
        self._container = _SampleContainer()
        self._pinned = None  # (bytearray, its ctypes view): large buffers patched in place

    def write(self, buf) -> int:
        """Returns Cyclone's return code (0 or a negative DDS_RETCODE)."""
        if isinstance(buf, bytearray):
            if self._pinned is None or self._pinned[0] is not buf:
                self._pinned = (buf, (ctypes.c_char * len(buf)).from_buffer(buf))
            self._container.usample = ctypes.addressof(self._pinned[1])
            keep = None
        else:
            keep = ctypes.c_char_p(buf)  # points into the bytes object, no copy
            self._container.usample = ctypes.cast(keep, ctypes.c_void_p).value
        self._container.usample_size = len(buf)
        rc = _dds_write(self._ref, ctypes.byref(self._container))
        del keep
        return rc


def pad4(b) -> bytes:
    """Zero-pads serialised CDR to a multiple of 4 bytes, as rmw_cyclonedds does."""
    b = bytes(b)
    return b + b"\0" * (-len(b) % 4)


# --------------------------------------------------------------------------------------------------
# Message content
# --------------------------------------------------------------------------------------------------

def split_ns(ns: int) -> tuple:
    return ns // 1_000_000_000, ns % 1_000_000_000


def ros_header(stamp: tuple, frame_id: str):
    return M["std_msgs/msg/Header"](stamp=M["builtin_interfaces/msg/Time"](sec=stamp[0], nanosec=stamp[1]),
                                    frame_id=frame_id)


def diag9(a: float, b: float, c: float) -> np.ndarray:
    m = np.zeros(9, dtype=np.float64)
    m[0], m[4], m[8] = a, b, c
    return m


def keys_from_msg(ros_type: str, msg, level: str = "all") -> dict:
    """The manifest's per-message keys, from a decoded (rosbags) message. ros_listen.py --check uses
    this on what it receives; the peer's own keys must equal it (checked at start-up)."""
    if ros_type == "tf2_msgs/msg/TFMessage":
        st = msg.transforms[0].header.stamp if len(msg.transforms) else None
        stamp = [int(st.sec), int(st.nanosec)] if st is not None else None
    else:
        stamp = [int(msg.header.stamp.sec), int(msg.header.stamp.nanosec)]
    out = {"stamp": stamp}
    if level != "all":
        return out
    if ros_type == "sensor_msgs/msg/Imu":
        out.update(orientation_w=float(msg.orientation.w), angular_velocity_x=float(msg.angular_velocity.x),
                   linear_acceleration_x=float(msg.linear_acceleration.x),
                   linear_acceleration_z=float(msg.linear_acceleration.z))
    elif ros_type == "sensor_msgs/msg/NavSatFix":
        out.update(latitude=float(msg.latitude), longitude=float(msg.longitude), altitude=float(msg.altitude),
                   status=int(msg.status.status), service=int(msg.status.service))
    elif ros_type == "sensor_msgs/msg/Image":
        out.update(width=int(msg.width), height=int(msg.height), encoding=str(msg.encoding), step=int(msg.step),
                   data_sha256=hashlib.sha256(memoryview(np.ascontiguousarray(msg.data))).hexdigest())
    elif ros_type == "sensor_msgs/msg/PointCloud2":
        out.update(width=int(msg.width), height=int(msg.height), point_step=int(msg.point_step),
                   row_step=int(msg.row_step), is_dense=bool(msg.is_dense),
                   data_sha256=hashlib.sha256(memoryview(np.ascontiguousarray(msg.data))).hexdigest())
    elif ros_type == "tf2_msgs/msg/TFMessage":
        out["transforms"] = [{"child_frame_id": str(t.child_frame_id), "frame_id": str(t.header.frame_id),
                              "translation": [float(t.transform.translation.x), float(t.transform.translation.y),
                                              float(t.transform.translation.z)],
                              "rotation_w": float(t.transform.rotation.w)} for t in msg.transforms]
    return out


class Generator:
    """Payloads and manifest keys of one topic. `payload(i)` returns bytes, or a bytearray that
    is patched in place and must not be kept across calls."""
    ros_type: str
    frame_id: str
    length_field_offset = 12  # header.frame_id length, the first length field of most types

    def __init__(self, t0_ns: int, rate: Optional[float]):
        self.t0_ns, self.rate = t0_ns, rate
        self._last = (None, None)  # (i, msg): payload(i) and keys(i) build the message once

    def cached_msg(self, i: int):
        if self._last[0] != i:
            self._last = (i, self.msg(i))
        return self._last[1]

    def stamp(self, i: int) -> tuple:
        return split_ns(self.t0_ns + (round(i * 1e9 / self.rate) if self.rate else 0))

    def msg(self, i: int):
        raise NotImplementedError

    def payload(self, i: int):
        return pad4(TYPESTORE.serialize_cdr(self.cached_msg(i), self.ros_type))

    def keys(self, i: int, level: str) -> dict:
        return keys_from_msg(self.ros_type, self.cached_msg(i), level)

    def payload_size(self, i: int = 0) -> int:
        return len(self.payload(i))

    def garbage(self, k: int, i: int) -> tuple:
        """(kind, bytes) of garbage payload k, sent after valid message i."""
        kind = ("truncated", "bad_length", "junk")[k % 3]
        if kind == "junk":
            return kind, pad4(b"\x00\x01\x00\x00garbage!")
        valid = bytes(self.payload(i))
        if kind == "truncated":
            return kind, pad4(valid[:max(5, len(valid) // 2)])
        b = bytearray(valid)
        struct.pack_into("<I", b, self.length_field_offset, 0xFFFFFF00)
        return kind, bytes(b)


class ImuGen(Generator):
    ros_type, frame_id = "sensor_msgs/msg/Imu", "imu_link"

    def msg(self, i):
        V3, Q = M["geometry_msgs/msg/Vector3"], M["geometry_msgs/msg/Quaternion"]
        return M[self.ros_type](
            header=ros_header(self.stamp(i), self.frame_id),
            orientation=Q(x=0.0, y=0.0, z=0.0, w=1.0), orientation_covariance=diag9(0.001, 0.001, 0.001),
            angular_velocity=V3(x=0.01 * i, y=0.02, z=-0.03), angular_velocity_covariance=diag9(0.002, 0.002, 0.002),
            linear_acceleration=V3(x=0.5 * i, y=-1.0, z=9.81),
            linear_acceleration_covariance=diag9(0.003, 0.003, 0.003))


class GpsGen(Generator):
    ros_type, frame_id = "sensor_msgs/msg/NavSatFix", "gps_link"

    def msg(self, i):
        return M[self.ros_type](
            header=ros_header(self.stamp(i), self.frame_id),
            status=M["sensor_msgs/msg/NavSatStatus"](status=0, service=1),
            latitude=45.0 + i * 1e-6, longitude=9.0 + i * 2e-6, altitude=120.0 + 0.01 * i,
            position_covariance=diag9(1.0, 1.0, 4.0), position_covariance_type=2)


def transform_stamped(stamp: tuple, parent: str, child: str, t: tuple, q: tuple):
    V3, Q = M["geometry_msgs/msg/Vector3"], M["geometry_msgs/msg/Quaternion"]
    return M["geometry_msgs/msg/TransformStamped"](
        header=ros_header(stamp, parent), child_frame_id=child,
        transform=M["geometry_msgs/msg/Transform"](translation=V3(x=t[0], y=t[1], z=t[2]),
                                                    rotation=Q(x=q[0], y=q[1], z=q[2], w=q[3])))


IDENTITY = (0.0, 0.0, 0.0, 1.0)


class TfGen(Generator):
    ros_type, frame_id = "tf2_msgs/msg/TFMessage", "odom"
    length_field_offset = 4  # the transforms count

    def msg(self, i):
        s = self.stamp(i)
        return M[self.ros_type](transforms=[
            transform_stamped(s, "odom", "base_link", (0.01 * i, 0.0, 0.0), IDENTITY),
            transform_stamped(s, "map", "odom", (1.0, 2.0, 0.0), IDENTITY)])


class TfStaticGen(TfGen):
    frame_id = "base_link"
    STATIC = [("camera_optical_frame", (0.2, 0.0, 0.5), (-0.5, 0.5, -0.5, 0.5)),
              ("imu_link", (0.0, 0.0, 0.1), IDENTITY),
              ("lidar_link", (0.0, 0.0, 0.8), IDENTITY),
              ("gps_link", (-0.1, 0.0, 1.0), IDENTITY)]

    def msg(self, i):
        s = self.stamp(i)
        return M[self.ros_type](transforms=[transform_stamped(s, "base_link", c, t, q) for c, t, q in self.STATIC])


class PatchedGen(Generator):
    """A large message serialised once; each message patches the stamp (offsets 4 and 8: the
    header is the first member) and the last `tail` bytes of `data`. The sha256 of data is
    the precomputed state of the unchanging prefix plus the tail."""
    tail = 8

    def _setup(self, msg0, data_len: int, bytes_after_data: int):
        raw = bytes(TYPESTORE.serialize_cdr(msg0, self.ros_type))
        self.data_off = len(raw) - bytes_after_data - data_len
        if struct.unpack_from("<I", raw, self.data_off - 4)[0] != data_len:
            raise RuntimeError(f"{self.ros_type}: data not found where expected in the serialised message")
        self.tail_off = self.data_off + data_len - self.tail
        self.buf = bytearray(pad4(raw))
        self.size = len(self.buf)
        self.prefix_hash = hashlib.sha256(memoryview(self.buf)[self.data_off:self.tail_off])
        self._fixed = self.keys_fixed()

    def tail_bytes(self, i: int) -> bytes:
        raise NotImplementedError

    def payload_size(self, i: int = 0) -> int:
        return self.size

    def payload(self, i):
        sec, nsec = self.stamp(i)
        struct.pack_into("<iI", self.buf, 4, sec, nsec)
        self.buf[self.tail_off:self.tail_off + self.tail] = self.tail_bytes(i)
        return self.buf

    def keys(self, i, level):
        out = {"stamp": list(self.stamp(i))}
        if level == "all":
            h = self.prefix_hash.copy()
            h.update(self.tail_bytes(i))
            out.update(self._fixed)
            out["data_sha256"] = h.hexdigest()
        return out

    def msg(self, i):  # for self-checks only: decodes the patched payload
        return TYPESTORE.deserialize_cdr(bytes(self.payload(i)), self.ros_type)


class ImageGen(PatchedGen):
    ros_type, frame_id = "sensor_msgs/msg/Image", "camera_optical_frame"

    def __init__(self, t0_ns, rate, width: int, height: int):
        super().__init__(t0_ns, rate)
        if width * height * 3 < self.tail:
            raise SystemExit("ros_peer: --image-size too small (the last 8 bytes of data carry the index)")
        self.width, self.height = width, height
        x = np.arange(width, dtype=np.uint32)[None, :]
        y = np.arange(height, dtype=np.uint32)[:, None]
        img = np.empty((height, width, 3), dtype=np.uint8)
        img[:, :, 0] = x & 0xFF
        img[:, :, 1] = y & 0xFF
        img[:, :, 2] = (x + y) & 0xFF
        msg0 = M[self.ros_type](header=ros_header(self.stamp(0), self.frame_id), height=height, width=width,
                                encoding="rgb8", is_bigendian=0, step=3 * width, data=img.reshape(-1))
        self._setup(msg0, img.size, 0)

    def keys_fixed(self):
        return {"width": self.width, "height": self.height, "encoding": "rgb8", "step": 3 * self.width}

    def tail_bytes(self, i):
        return struct.pack("<Q", i)


class PointsGen(PatchedGen):
    ros_type, frame_id = "sensor_msgs/msg/PointCloud2", "lidar_link"
    tail = 16

    def __init__(self, t0_ns, rate, rows: int, cols: int):
        super().__init__(t0_ns, rate)
        self.rows, self.cols = rows, cols
        r = np.arange(rows, dtype=np.float64)[:, None]
        c = np.arange(cols, dtype=np.float64)[None, :]
        az = 2.0 * np.pi * c / cols
        el = np.radians(-15.0 + 30.0 * r / (rows - 1)) if rows > 1 else np.zeros_like(r)
        rng = 10.0 + 0.5 * (r % 4)
        pts = np.empty((rows, cols, 4), dtype=np.float32)
        pts[:, :, 0] = rng * np.cos(el) * np.cos(az)
        pts[:, :, 1] = rng * np.cos(el) * np.sin(az)
        pts[:, :, 2] = np.broadcast_to(rng * np.sin(el), (rows, cols))
        pts[:, :, 3] = (np.arange(rows * cols).reshape(rows, cols) % 256).astype(np.float32)
        data = pts.reshape(-1).view(np.uint8)
        PF = M["sensor_msgs/msg/PointField"]
        fields = [PF(name=n, offset=4 * k, datatype=7, count=1) for k, n in enumerate(("x", "y", "z", "intensity"))]
        msg0 = M[self.ros_type](header=ros_header(self.stamp(0), self.frame_id), height=rows, width=cols,
                                fields=fields, is_bigendian=False, point_step=16, row_step=16 * cols,
                                data=data, is_dense=True)
        self._setup(msg0, data.size, 1)  # is_dense (1 byte) follows data

    def keys_fixed(self):
        return {"width": self.cols, "height": self.rows, "point_step": 16, "row_step": 16 * self.cols,
                "is_dense": True}

    def tail_bytes(self, i):
        v = float(np.float32(i))
        return struct.pack("<4f", v, v, v, v)


# --------------------------------------------------------------------------------------------------
# Topics, scheduling, statistics
# --------------------------------------------------------------------------------------------------

@dataclass
class TopicDef:
    key: str
    name: str
    rate: Optional[float]  # None: published once (tf_static)
    reliable: bool
    depth: int
    transient_local: bool = False


TOPIC_DEFS = [
    TopicDef("camera", "/camera/image_raw", 30.0, False, 5),
    TopicDef("imu", "/imu", 1000.0, False, 5),
    TopicDef("points", "/points", 10.0, False, 5),
    TopicDef("gps", "/gps", 10.0, True, 10),
    TopicDef("tf", "/tf", 50.0, True, 10),
    TopicDef("tf_static", "/tf_static", None, True, 1, True),
]


def pct(values, q: float) -> Optional[float]:
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, int(math.ceil(q * len(s))) - 1 if q > 0 else 0)]


@dataclass
class TopicRun:
    d: TopicDef
    gen: Generator
    qos: QosSpec
    writer: DataWriter
    raw: RawWriter
    planned: int
    garbage_writer: Optional[DataWriter] = None
    garbage_raw: Optional[RawWriter] = None
    garbage_after: list = field(default_factory=list)  # valid index after which garbage k is sent
    published: int = 0
    garbage_sent: int = 0
    write_errors: int = 0
    late: int = 0
    lateness: array = field(default_factory=lambda: array("d"))
    write_s: array = field(default_factory=lambda: array("d"))
    first_send: Optional[float] = None
    last_send: Optional[float] = None
    messages: list = field(default_factory=list)
    garbage_messages: list = field(default_factory=list)
    error: Optional[str] = None

    def send(self, i: int, level: str, now: float) -> None:
        buf = self.gen.payload(i)
        t = time.monotonic()
        rc = self.raw.write(buf)
        t_end = time.monotonic()
        self.write_s.append(t_end - t)
        if self.first_send is None:
            self.first_send = now
        self.last_send = now
        if rc < 0:
            self.write_errors += 1
            if self.write_errors <= 3:
                sys.stderr.write(f"ros_peer: {self.d.name} message {i}: dds_write returned {rc}\n")
            return
        self.published += 1
        if level != "none":
            entry = {"i": i}
            entry.update(self.gen.keys(i, level))
            self.messages.append(entry)

    def send_garbage(self, i: int) -> None:
        while self.garbage_sent < len(self.garbage_after) and self.garbage_after[self.garbage_sent] == i:
            k = self.garbage_sent
            kind, payload = self.gen.garbage(k, i)
            rc = self.garbage_raw.write(payload)
            self.garbage_sent += 1
            if rc < 0:
                self.write_errors += 1
                sys.stderr.write(f"ros_peer: {self.d.name} garbage {k}: dds_write returned {rc}\n")
                continue
            self.garbage_messages.append({"k": k, "after": i, "kind": kind, "size": len(payload)})

    def loop(self, t_start: float, stop: threading.Event, level: str, rt_priority: int = 0) -> None:
        if rt_priority > 0:
            try:
                os.sched_setscheduler(threading.get_native_id(), os.SCHED_FIFO, os.sched_param(rt_priority))
            except (OSError, AttributeError) as e:
                sys.stderr.write(f"ros_peer: {self.d.name}: cannot use SCHED_FIFO {rt_priority} ({e}); "
                                 "continuing with normal scheduling\n")
        try:
            period = 1.0 / self.d.rate
            for i in range(self.planned):
                deadline = t_start + i * period
                now = time.monotonic()
                if deadline > now:
                    if stop.wait(deadline - now):
                        break
                    now = time.monotonic()
                elif stop.is_set():
                    break
                lateness = now - deadline
                self.lateness.append(lateness)
                if lateness > period:
                    self.late += 1
                self.send(i, level, now - t_start)
                if self.garbage_after:
                    self.send_garbage(i)
        except Exception as e:  # reported in the manifest and on stderr, never silently
            self.error = f"{type(e).__name__}: {e}"
            sys.stderr.write(f"ros_peer: {self.d.name}: {self.error}\n")

    def timing(self) -> dict:
        n = len(self.write_s)
        ms = lambda v: None if v is None else round(v * 1e3, 3)  # noqa: E731
        achieved = None
        if n > 1 and self.last_send > self.first_send:
            achieved = round((n - 1) / (self.last_send - self.first_send), 3)
        return {"achieved_hz": achieved, "late": self.late,
                "lateness_ms": {"p50": ms(pct(self.lateness, 0.5)), "p99": ms(pct(self.lateness, 0.99)),
                                "max": ms(max(self.lateness) if self.lateness else None)},
                "write_ms": {"p50": ms(pct(self.write_s, 0.5)), "p99": ms(pct(self.write_s, 0.99)),
                             "max": ms(max(self.write_s) if self.write_s else None)},
                "first_send_s": None if self.first_send is None else round(self.first_send, 6),
                "last_send_s": None if self.last_send is None else round(self.last_send, 6)}

    def manifest(self, level: str) -> dict:
        d = {"ros_type": self.gen.ros_type, "dds_topic": dds_topic_name(self.d.name),
             "dds_type": dds_type_name(self.gen.ros_type), "frame_id": self.gen.frame_id,
             "qos": self.qos.to_json(), "rate_hz": self.d.rate, "planned": self.planned,
             "published": self.published, "garbage": len(self.garbage_messages),
             "write_errors": self.write_errors, "payload_bytes": self.gen.payload_size(),
             "timing": self.timing()}
        if self.error:
            d["error"] = self.error
        if level != "none":
            d["messages"] = self.messages
        d["garbage_messages"] = self.garbage_messages
        return d


class ClockRun:
    """/clock (rosgraph_msgs/msg/Clock) as a simulator publishes it: reliable, keep last 10, at a fixed
    rate; the time is t0 + the seconds since the peer started. Every value published is kept."""

    def __init__(self, dp, t0_ns: int, rate: float):
        q = QosSpec(True, False, 10).to_dds()
        self.d = TopicDef("clock", "/clock", rate, True, 10)
        self.writer = DataWriter(dp, Topic(dp, dds_topic_name("/clock"), Clock, qos=q), qos=q)
        self.t0_ns, self.period = t0_ns, 1.0 / rate
        self.values: list = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, name="clock", daemon=True)

    def loop(self) -> None:
        t_start = time.monotonic()
        i = 0
        while not self.stop.is_set():
            ns = self.t0_ns + int((time.monotonic() - t_start) * 1e9)
            sec, nanosec = split_ns(ns)
            self.writer.write(Clock(clock=Time(sec=sec, nanosec=nanosec)))
            self.values.append(ns)
            i += 1
            left = t_start + i * self.period - time.monotonic()
            if left > 0:
                self.stop.wait(left)


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------

def topic_key(s: str) -> str:
    for d in TOPIC_DEFS:
        if s in (d.key, d.name, d.name.lstrip("/")):
            return d.key
    raise argparse.ArgumentTypeError(
        f"unknown topic {s!r} (one of: {', '.join(d.key + ' ' + d.name for d in TOPIC_DEFS)})")


def kv_list(values, conv, what: str) -> dict:
    out = {}
    for v in values or []:
        k, sep, val = v.rpartition("=") if "=" in v else v.rpartition(":")
        if not sep:
            raise SystemExit(f"ros_peer: {what} expects TOPIC=VALUE, got {v!r}")
        try:
            out[topic_key(k)] = conv(val)
        except (ValueError, argparse.ArgumentTypeError) as e:
            raise SystemExit(f"ros_peer: {what} {v!r}: {e}")
    return out


def size_pair(s: str) -> tuple:
    a, _, b = s.lower().partition("x")
    try:
        a, b = int(a), int(b)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected AxB, got {s!r}")
    if a <= 0 or b <= 0:
        raise argparse.ArgumentTypeError(f"sizes must be positive: {s!r}")
    return a, b


def qos_word(s: str) -> bool:
    s = s.lower().replace("-", "_")
    if s in ("reliable",):
        return True
    if s in ("best_effort", "besteffort"):
        return False
    raise ValueError("expected reliable or best_effort")


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        prog="ros_peer.py", description="An independent ROS 2 sensor node (cyclonedds) posing as a robot. "
        "Run it inside a loopback-only network namespace; see the top of this file.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="TOPIC is a short name (camera, imu, points, gps, tf, tf_static) or the ROS topic name.")
    p.add_argument("--topics", default="camera,imu,points,gps,tf,tf_static",
                   help="comma-separated topics to publish (default: all)")
    p.add_argument("--duration", type=float, default=10.0,
                   help="seconds of publishing: each periodic topic publishes ceil(duration*rate) messages "
                        "(default 10)")
    p.add_argument("--count", action="append", metavar="TOPIC=N", help="messages for TOPIC (overrides --duration)")
    p.add_argument("--rate", action="append", metavar="TOPIC=HZ", help="rate of TOPIC")
    p.add_argument("--qos", action="append", metavar="TOPIC=reliable|best_effort", help="reliability of TOPIC")
    p.add_argument("--depth", action="append", metavar="TOPIC=N|N",
                   help="keep-last depth of TOPIC, or of every periodic topic when given a bare number")
    p.add_argument("--image-size", type=size_pair, default=(1920, 1080), metavar="WxH", help="default 1920x1080")
    p.add_argument("--points-size", type=size_pair, default=(128, 2048), metavar="ROWSxCOLS",
                   help="PointCloud2 height x width (default 128x2048)")
    p.add_argument("--garbage", action="append", metavar="TOPIC:N", help="send N invalid payloads on TOPIC")
    p.add_argument("--clock", type=float, default=0.0, metavar="HZ",
                   help="publish /clock at HZ: simulated time t0 + seconds since the peer started")
    p.add_argument("--t0", default="1700000000", help="stamp of message 0, in seconds, or `now` (default 1700000000)")
    p.add_argument("--wait-subscribers", type=int, default=0, metavar="N",
                   help="before publishing, wait until the writers have N matched readers each")
    p.add_argument("--wait-on", default=None, metavar="TOPICS",
                   help="comma-separated topics whose writers --wait-subscribers waits on (default: all periodic)")
    p.add_argument("--wait-timeout", type=float, default=60.0, help="give up waiting after S seconds: exit status 3")
    p.add_argument("--start-delay", type=float, default=0.0, metavar="S", help="then wait S seconds more")
    p.add_argument("--linger", type=float, default=1.0, metavar="S",
                   help="stay up S seconds after the last message (acks, late /tf_static readers; default 1)")
    p.add_argument("--manifest", metavar="FILE", help="write the JSON manifest there at exit")
    p.add_argument("--manifest-keys", choices=("all", "stamps", "none"), default="all",
                   help="per-message entries: key values (all), only index and stamp, or none (counts only)")
    p.add_argument("--domain", type=int, default=int(os.environ.get("ROS_DOMAIN_ID", "0")),
                   help="DDS domain id (default $ROS_DOMAIN_ID or 0)")
    p.add_argument("--node-name", default="ros_peer", help="node announced in ros_discovery_info")
    p.add_argument("--namespace", default="/", help="node namespace announced in ros_discovery_info")
    p.add_argument("--rcvbuf", default="4MB", help="Cyclone Internal/SocketReceiveBufferSize min (0: default)")
    p.add_argument("--sndbuf", default=None, help="Cyclone Internal/SocketSendBufferSize min (default: Cyclone's)")
    p.add_argument("--max-message-size", default=None, help="Cyclone General/MaxMessageSize (default 14720B)")
    p.add_argument("--fragment-size", default=None, help="Cyclone General/FragmentSize (default 1344B)")
    p.add_argument("--rt-priority", type=int, default=0, metavar="N",
                   help="run the publishing threads SCHED_FIFO at priority N (Linux, needs privilege; "
                        "default 0: normal scheduling)")
    p.add_argument("--quiet", action="store_true", help="only errors on stderr")
    return p.parse_args(argv)


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------

def log(args, msg: str) -> None:
    if not args.quiet:
        sys.stderr.write(f"ros_peer: {msg}\n")
        sys.stderr.flush()


def make_generator(d: TopicDef, args, t0_ns: int, rate: Optional[float]) -> Generator:
    if d.key == "camera":
        return ImageGen(t0_ns, rate, *args.image_size)
    if d.key == "points":
        return PointsGen(t0_ns, rate, *args.points_size)
    return {"imu": ImuGen, "gps": GpsGen, "tf": TfGen, "tf_static": TfStaticGen}[d.key](t0_ns, rate)


def self_check(gen: Generator) -> None:
    """The cheap per-message keys must equal those decoded from the payload (messages 0 and 7)."""
    for i in (0, 7):
        payload = bytes(gen.payload(i))
        if len(payload) % 4:
            raise RuntimeError(f"{gen.ros_type}: payload not padded")
        decoded = keys_from_msg(gen.ros_type, TYPESTORE.deserialize_cdr(payload, gen.ros_type))
        mine = gen.keys(i, "all")
        if decoded != mine:
            raise RuntimeError(f"{gen.ros_type}: self-check failed for message {i}: {mine} != {decoded}")


def publish_discovery_info(dp, writers: list, namespace: str, node: str):
    """ros_discovery_info as rmw publishes it: reliable, transient local, keep last 1."""
    q = QosSpec(True, True, 1).to_dds()
    topic = Topic(dp, "ros_discovery_info", ParticipantEntitiesInfo, qos=q)
    w = DataWriter(dp, topic, qos=q)
    info = ParticipantEntitiesInfo(
        gid=Gid(list(dp.guid.bytes)),
        node_entities_info_seq=[NodeEntitiesInfo(node_namespace=namespace, node_name=node, reader_gid_seq=[],
                                                 writer_gid_seq=[Gid(list(x.guid.bytes)) for x in writers])])
    w.write(info)
    return w


def main(argv=None) -> int:
    args = parse_args(argv)
    require_loopback_only("ros_peer")
    sys.setswitchinterval(0.0005)  # short GIL hand-over, for the 1 kHz thread

    enabled = []
    for s in args.topics.split(","):
        if s.strip():
            try:
                enabled.append(topic_key(s.strip()))
            except argparse.ArgumentTypeError as e:
                raise SystemExit(f"ros_peer: --topics: {e}")
    rates = kv_list(args.rate, float, "--rate")
    counts = kv_list(args.count, int, "--count")
    reliab = kv_list(args.qos, qos_word, "--qos")
    garbage = kv_list(args.garbage, int, "--garbage")
    depths, depth_all = {}, None
    for v in args.depth or []:
        if v.isdigit():
            depth_all = int(v)
        else:
            depths.update(kv_list([v], int, "--depth"))
    if "tf_static" in garbage:
        raise SystemExit("ros_peer: --garbage is not available for /tf_static")
    for k in list(rates) + list(counts) + list(garbage):
        if k not in enabled:
            raise SystemExit(f"ros_peer: {k} is configured but not in --topics")
    if "tf_static" in rates or "tf_static" in counts:
        raise SystemExit("ros_peer: /tf_static is published once; --rate and --count do not apply")
    if any(r <= 0 for r in rates.values()):
        raise SystemExit("ros_peer: rates must be positive")

    started_unix_ns = time.time_ns()
    t0_ns = (started_unix_ns // 1_000_000_000 if args.t0 == "now" else int(args.t0)) * 1_000_000_000

    stop = threading.Event()
    interrupted = {"by": None}

    def on_signal(signum, _frame):
        interrupted["by"] = signal.Signals(signum).name
        stop.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    config = cyclone_config(args.rcvbuf, args.sndbuf, args.max_message_size, args.fragment_size)
    domain, dp = open_participant(args.domain, config)

    runs: list = []
    static_run = None
    all_writers = []
    for d in TOPIC_DEFS:
        if d.key not in enabled:
            continue
        if d.rate is not None and d.key in rates:
            d = dataclasses.replace(d, rate=rates[d.key])
        rate = d.rate
        gen = make_generator(d, args, t0_ns, rate)
        self_check(gen)
        depth = depths.get(d.key, depth_all if (depth_all and d.rate) else d.depth)
        qos = QosSpec(reliab.get(d.key, d.reliable), d.transient_local, depth)
        dds_qos = qos.to_dds()
        topic = Topic(dp, dds_topic_name(d.name), IDL_TYPES[gen.ros_type], qos=dds_qos)
        writer = DataWriter(dp, topic, qos=dds_qos)
        all_writers.append(writer)
        planned = 1 if d.rate is None else counts.get(d.key, max(1, math.ceil(args.duration * rate - 1e-9)))
        run = TopicRun(d, gen, qos, writer, RawWriter(writer), planned)
        if garbage.get(d.key, 0) > 0:
            n = garbage[d.key]
            gtopic = Topic(dp, dds_topic_name(d.name), opaque_type(gen.ros_type), qos=dds_qos)
            run.garbage_writer = DataWriter(dp, gtopic, qos=dds_qos)
            run.garbage_raw = RawWriter(run.garbage_writer)
            run.garbage_after = [max(0, ((k + 1) * planned) // (n + 1) - 1) for k in range(n)]
            all_writers.append(run.garbage_writer)
        if d.rate is None:
            static_run = run
        else:
            runs.append(run)
    if not runs and static_run is None:
        raise SystemExit("ros_peer: no topics enabled")

    clock_run = None
    if args.clock > 0:
        clock_run = ClockRun(dp, t0_ns, args.clock)
        all_writers.append(clock_run.writer)
        clock_run.thread.start()
        log(args, f"publishing /clock at {args.clock:g} Hz from {t0_ns} ns")

    disc_writer = publish_discovery_info(dp, all_writers, args.namespace, args.node_name)
    node = args.namespace.rstrip("/") + "/" + args.node_name
    if static_run is not None:
        static_run.send(0, args.manifest_keys, 0.0)
        log(args, f"published /tf_static ({len(TfStaticGen.STATIC)} transforms, transient local)")

    # Wait for readers, then the start delay.
    wait = {"subscribers": args.wait_subscribers, "satisfied": True, "waited_s": 0.0}
    t_wait = time.monotonic()
    if args.wait_subscribers > 0:
        wait_keys = [topic_key(s.strip()) for s in args.wait_on.split(",")] if args.wait_on else None
        targets = [r for r in runs if wait_keys is None or r.d.key in wait_keys]
        if clock_run is not None:  # the readers' time comes from /clock: match it first
            targets.append(clock_run)
        if static_run is not None and wait_keys and "tf_static" in wait_keys:
            targets.append(static_run)
        log(args, f"waiting for {args.wait_subscribers} reader(s) on {', '.join(r.d.name for r in targets)}")
        while not stop.is_set():
            if all(len(r.writer.get_matched_subscriptions()) >= args.wait_subscribers for r in targets):
                break
            if time.monotonic() - t_wait > args.wait_timeout:
                wait["satisfied"] = False
                break
            stop.wait(0.02)
        wait["satisfied"] = wait["satisfied"] and not stop.is_set()
        # Garbage writers are other DDS writers: give them a moment to match the same readers.
        t_g = time.monotonic()
        for r in targets:
            while (getattr(r, "garbage_writer", None) is not None and not stop.is_set() and time.monotonic() - t_g < 3.0
                   and len(r.garbage_writer.get_matched_subscriptions()) < args.wait_subscribers):
                stop.wait(0.02)
    wait["waited_s"] = round(time.monotonic() - t_wait, 3)
    if args.start_delay > 0:
        stop.wait(args.start_delay)

    status = 0
    t_start = time.monotonic()
    if not wait["satisfied"] and not stop.is_set():
        sys.stderr.write(f"ros_peer: no {args.wait_subscribers} matched reader(s) after {args.wait_timeout} s; "
                         "not publishing\n")
        status = 3
    elif not stop.is_set():
        t_start = time.monotonic() + 0.02
        level = args.manifest_keys
        threads = [threading.Thread(target=r.loop, args=(t_start, stop, level, args.rt_priority), name=r.d.key,
                                    daemon=True)
                   for r in runs]
        log(args, "publishing " + ", ".join(f"{r.d.name} {r.planned} @ {r.d.rate:g} Hz" for r in runs)
            + f" as {node}")
        # No cyclic GC while publishing: a full collection over the growing manifest holds the GIL for
        # tens of ms and delays every thread at once. The loop creates no reference cycles.
        gc.collect()
        gc.freeze()
        gc.disable()
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            for t in threads:
                t.join(0.2)
        gc.enable()
        if any(r.error for r in runs):
            status = 1
    run_s = time.monotonic() - t_start

    # Linger: reliable writers flush, late joiners still get /tf_static.
    if not stop.is_set() and args.linger > 0:
        t_l = time.monotonic()
        for r in runs + ([static_run] if static_run else []):
            if r.qos.reliable:
                left = args.linger - (time.monotonic() - t_l)
                if left > 0:
                    # A reader that never acknowledges (its process was killed; it stays matched
                    # until its participant's lease runs out) makes this time out, and
                    # cyclonedds 11.0.1 then raises AttributeError (`Exception.DDS_RETCODE_TIMEOUT`)
                    # instead of returning False: either way the linger is over for this writer.
                    try:
                        r.writer.wait_for_acks(duration(seconds=left))
                    except Exception as e:  # noqa: BLE001
                        log(args, f"{r.d.name}: not every reader acknowledged within the linger ({type(e).__name__})")
        left = args.linger - (time.monotonic() - t_l)
        if left > 0:
            stop.wait(left)

    if clock_run is not None:
        clock_run.stop.set()
        clock_run.thread.join()
        log(args, f"/clock: published {len(clock_run.values)}")
    for r in runs + ([static_run] if static_run else []):
        tm = r.timing()
        if r.d.rate is None:
            log(args, f"{r.d.name}: published {r.published}")
            continue
        log(args, f"{r.d.name}: published {r.published}/{r.planned}, garbage {len(r.garbage_messages)}, "
                  f"achieved {tm['achieved_hz']} Hz (target {r.d.rate:g}), late {r.late}, lateness p99 "
                  f"{tm['lateness_ms']['p99']} ms max {tm['lateness_ms']['max']} ms, write p50 "
                  f"{tm['write_ms']['p50']} ms p99 {tm['write_ms']['p99']} ms, errors {r.write_errors}")
    if interrupted["by"]:
        log(args, f"stopped by {interrupted['by']}")

    if args.manifest:
        manifest = {
            "format": "ros_peer/1", "node": node, "t0_ns": t0_ns, "domain_id": args.domain,
            "started_unix_ns": started_unix_ns, "run_s": round(run_s, 3), "interrupted": interrupted["by"],
            "wait": wait,
            "topics": {r.d.name: r.manifest(args.manifest_keys)
                       for r in ([static_run] if static_run else []) + runs},
        }
        if clock_run is not None:
            manifest["clock"] = {"rate_hz": args.clock, "values_ns": clock_run.values}
        tmp = args.manifest + ".tmp"
        with open(tmp, "w") as f:
            json.dump(manifest, f, separators=(",", ":"))
        os.replace(tmp, args.manifest)
        log(args, f"manifest written to {args.manifest}")

    return status  # the participant and its writers are deleted as main's locals go


if __name__ == "__main__":
    sys.exit(main())
