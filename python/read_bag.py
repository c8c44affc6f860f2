"""Reads a rosbag2 bag directory with rosbags (an independent reader) and prints what it holds as
JSON: per topic its type, message count, offered QoS (as rosbags parses it) and every message's
decoded `linear_acceleration.x` for IMU topics (the publisher's sequence numbers in the tests).

    python read_bag.py BAG_DIR
"""
import json
import sys

from rosbags.rosbag2 import Reader
from rosbags.typesys import Stores, get_typestore


def main() -> None:
    store = get_typestore(Stores.ROS2_HUMBLE)
    out = {"topics": {}}
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
            if c.msgtype == "sensor_msgs/msg/Imu":
                t["x"].append(store.deserialize_cdr(raw, c.msgtype).linear_acceleration.x)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
