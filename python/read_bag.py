"""Reads a rosbag2 bag directory with rosbags (an independent reader) and prints what it holds as
JSON: per topic its type, message count, offered QoS (as rosbags parses it) and every message's
decoded `linear_acceleration.x` for IMU topics (the publisher's sequence numbers in the tests).
With --hashes, also per topic `sha256`: the SHA-256 of every message's serialized CDR (4-byte
header included) in bag order, and `sha256_pad4`: the same after zero padding to a multiple of 4
bytes (as DDS writers may pad); messages rosbags cannot deserialize are left out of both.

    python read_bag.py BAG_DIR [--hashes]
"""
import hashlib
import json
import sys

from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_typestore


def main() -> None:
    store = get_typestore(Stores.ROS2_HUMBLE)
    out = {"topics": {}}
    hashes = "--hashes" in sys.argv[2:]
    with Reader(sys.argv[1]) as r:
        for c in r.connections:
            qos = []
            for p in c.ext.offered_qos_profiles or []:
                qos.append({"reliability": p.reliability.value, "durability": p.durability.value,
                            "depth": int(p.depth)})
            out["topics"].setdefault(c.topic, {"type": c.msgtype, "count": 0, "qos": qos, "x": []})
        for c, _t, raw in r.messages():
            t = out["topics"][c.topic]
            t["count"] += 1
            try:
                msg = store.deserialize_cdr(raw, c.msgtype)
            except Exception:  # noqa: BLE001 - a garbage payload: not a message to expect
                if not hashes:
                    raise
                continue
            if c.msgtype == "sensor_msgs/msg/Imu":
                t["x"].append(msg.linear_acceleration.x)
            if hashes:
                raw = bytes(raw)
                padded = raw + b"\0" * (-len(raw) % 4)
                t.setdefault("sha256", []).append(hashlib.sha256(raw).hexdigest())
                t.setdefault("sha256_pad4", []).append(hashlib.sha256(padded).hexdigest())
    print(json.dumps(out))


if __name__ == "__main__":
    main()
