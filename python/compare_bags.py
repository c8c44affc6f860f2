#!/usr/bin/env python3
"""compare_bags.py: reads two rosbag2 bags with rosbags and prints, per topic, how the second
(an export) compares with the first (the original), as one JSON object on stdout:

    python compare_bags.py ORIGINAL_BAG EXPORTED_BAG

{topic: {type_a, type_b, count_a, count_b, times_equal (log times, in order), bytes_equal (count of
messages byte-identical), values_equal (count equal after deserialising both, floats compared with
a relative tolerance of 1e-9, NaN equal to NaN), first_difference, qos_a, qos_b (offered profiles:
[reliability, durability, depth])}}. Messages rosbags cannot deserialise in the original (garbage
payloads) are left out of the comparison and counted as undecodable_a.
"""
import json
import math
import sys

import numpy as np
from rosbags.highlevel import AnyReader
from rosbags.typesys import Stores, get_typestore

TS = get_typestore(Stores.ROS2_JAZZY)


def read(path):
    out = {}
    with AnyReader([__import__("pathlib").Path(path)], default_typestore=TS) as r:
        for c in r.connections:
            qos = []
            for p in getattr(c.ext, "offered_qos_profiles", []) or []:
                qos.append([p.reliability.name, p.durability.name, int(p.depth)])
            out.setdefault(c.topic, {"type": c.msgtype, "qos": qos, "msgs": []})
        for c, t, raw in r.messages():
            try:
                v = r.deserialize(raw, c.msgtype)
            except Exception:
                v = None
            out[c.topic]["msgs"].append((t, bytes(raw), v))
    return out


def same(a, b):
    if isinstance(a, float) or isinstance(b, float):
        a, b = float(a), float(b)
        if math.isnan(a) and math.isnan(b):
            return True
        return a == b or abs(a - b) <= 1e-9 * max(abs(a), abs(b))
    if isinstance(a, np.ndarray):
        if a.shape != b.shape:
            return False
        if a.dtype.kind == "f":
            return bool(np.all((a == b) | (np.isnan(a) & np.isnan(b)) | np.isclose(a, b, rtol=1e-9, atol=0)))
        return bool(np.array_equal(a, b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if hasattr(a, "__dataclass_fields__"):
        return all(same(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)
    return a == b


def main(a_path, b_path):
    a, b = read(a_path), read(b_path)
    report = {}
    for topic in sorted(set(a) | set(b)):
        ta, tb = a.get(topic), b.get(topic)
        r = {"type_a": ta and ta["type"], "type_b": tb and tb["type"],
             "count_a": len(ta["msgs"]) if ta else 0, "count_b": len(tb["msgs"]) if tb else 0,
             "qos_a": ta and ta["qos"], "qos_b": tb and tb["qos"]}
        if ta and tb:
            # what rosbags cannot deserialise in the original (garbage) is not expected back
            r["undecodable_a"] = sum(m[2] is None for m in ta["msgs"])
            ma, mb = [m for m in ta["msgs"] if m[2] is not None], tb["msgs"]
            r["count_a"] = len(ma)
            r["times_equal"] = [m[0] for m in ma] == [m[0] for m in mb]
            r["bytes_equal"] = sum(x[1] == y[1] for x, y in zip(ma, mb))
            r["values_equal"] = sum(x[2] is not None and y[2] is not None and same(x[2], y[2]) or x[1] == y[1] for x, y in zip(ma, mb))
            r["first_difference"] = None
            for i, (x, y) in enumerate(zip(ma, mb)):
                if x[1] != y[1]:
                    r["first_difference"] = {"index": i, "a": x[1][:64].hex(), "b": y[1][:64].hex(), "len_a": len(x[1]), "len_b": len(y[1])}
                    break
        report[topic] = r
    print(json.dumps(report, indent=1, default=str))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
