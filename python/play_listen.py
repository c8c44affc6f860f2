#!/usr/bin/env python3
"""play_listen.py: an independent Cyclone DDS (PyPI `cyclonedds`) subscriber to every topic of a
rosbag2 bag, for the tests of `mosaico-bridge play`: it receives what the player publishes and
compares it with the bag, read by `rosbags`. Run it inside a loopback-only network namespace (see
ros_peer.py); it refuses to start otherwise.

    ip netns exec rp .venv/bin/python python/play_listen.py --bag BAG --duration 30 --idle-exit 3

Readers: one per bag topic (or --topics), DDS topic `rt/<topic>` (after --remap OLD:=NEW), a
one-byte opaque type under the ROS type's DDS name (so any ROS type matches, payloads are taken
raw), reliable unless every offered profile of the topic in the bag is best effort, transient
local when every offered profile is, keep last --depth.

Without --bag, --topic TOPIC=TYPE names what to listen to (nothing is compared; --save keeps what
arrived as a bag, for rosbags to read).

Summary (one JSON object on stdout, and in --output):
  topics {topic: {type, expected (messages of the bag that rosbags decodes), received,
          byte_equal (received payloads byte-identical to one of the bag's messages, up to the
          zero padding to 4 bytes; each bag message matches once), value_equal (those, plus
          the ones equal in value to the bag message at their position, after deserialising
          both, floats to 1e-9 relative), in_order (received, by those matches, exactly the
          bag's messages in their order, none missing or extra),
          first_difference}},
  arrivals: [[topic, index into the topic's expected messages (-1: not one of them), rx], ...] in
            write order (rx: seconds on this host's monotonic clock when it was taken),
  order_ok: taken in the order the player wrote them (the samples' DDS source timestamps), the
            bag times never go back: one merged stream in time order,
  timing {messages, p50_ms, p99_ms, max_ms}: lateness of the arrivals matched to the bag, e - min(e)
         with e = (rx - rx0) - (t - t0) / rate (rx: receive time on this host's monotonic clock; t:
         the bag's log time; 0: the first arrival; the player never publishes early, so the
         earliest arrival counts as on time); timing_by_topic: the same per topic,
  matched_writers {topic: count}.
"""
import argparse
import json
import math
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ros_peer import require_loopback_only  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="play_listen.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--bag", help="the rosbag2 bag directory that was imported and is played")
    p.add_argument("--topic", action="append", default=[], metavar="TOPIC=TYPE",
                   help="without --bag: a topic to listen to (reliable, volatile reader)")
    p.add_argument("--save", metavar="DIR",
                   help="write what was received to a new rosbag2 bag (MCAP; log time = receive time)")
    p.add_argument("--topics", nargs="*", default=None, help="listen only to these bag topics")
    p.add_argument("--remap", action="append", default=[], metavar="OLD:=NEW", help="the player's --remap rules")
    p.add_argument("--rate", type=float, default=1.0, help="the player's rate, for the timing summary")
    p.add_argument("--depth", type=int, default=10000)
    p.add_argument("--duration", type=float, default=30.0, help="listen at most S seconds")
    p.add_argument("--idle-exit", type=float, default=0.0, metavar="S",
                   help="stop once S seconds pass without a sample, after the first one")
    p.add_argument("--ready", metavar="FILE", help="create FILE once every reader exists")
    p.add_argument("--output", metavar="FILE", help="write the summary there too")
    p.add_argument("--domain", type=int, default=int(os.environ.get("ROS_DOMAIN_ID", "0")))
    return p.parse_args(argv)


def same(a, b):
    import numpy as np
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


def unpadded(b: bytes) -> bytes:
    """`b` without its trailing zero bytes: two payloads equal up to the zero padding a writer may
    add (to reach a multiple of 4 bytes) give the same key; the lengths are checked apart."""
    return b.rstrip(b"\0")


def read_bag(path, store):
    from pathlib import Path
    from rosbags.highlevel import AnyReader
    topics = {}
    with AnyReader([Path(path)], default_typestore=store) as r:
        for c in r.connections:
            offered = [(p.reliability.name, p.durability.name) for p in (getattr(c.ext, "offered_qos_profiles", None) or [])]
            topics.setdefault(c.topic, {"type": c.msgtype, "offered": offered, "msgs": []})
        for c, t, raw in r.messages():
            try:
                v = r.deserialize(raw, c.msgtype)
            except Exception:
                continue  # garbage in the bag: not stored by import, not expected back
            topics[c.topic]["msgs"].append((t, bytes(raw), v))
    return topics


def save(path, store, topics):
    from rosbags.rosbag2 import StoragePlugin, Writer
    with Writer(path, version=8, storage_plugin=StoragePlugin.MCAP) as w:
        for topic, (ros_type, got) in topics.items():
            c = w.add_connection(topic, ros_type, typestore=store)
            for rx, raw in got:
                w.write(c, int(rx * 1e9), raw)


def main(argv=None) -> int:
    args = parse_args(argv)
    require_loopback_only("play_listen")

    import numpy as np  # noqa: F401
    import ros_peer as rp
    from cyclonedds._clayer import ddspy_take
    from cyclonedds.core import InstanceState, ReadCondition, SampleState, ViewState, WaitSet
    from cyclonedds.sub import DataReader
    from cyclonedds.topic import Topic
    from cyclonedds.util import duration

    store = rp.TYPESTORE
    if args.bag:
        bag = read_bag(args.bag, store)
    else:
        bag = {}
        for spec in args.topic:
            name, _, ros_type = spec.partition("=")
            bag["/" + name.strip("/")] = {"type": ros_type, "offered": [], "msgs": []}
        if not bag:
            raise SystemExit("play_listen: give --bag or --topic TOPIC=TYPE")
    wanted = ["/" + t.lstrip("/") for t in args.topics] if args.topics else sorted(bag)
    remap = dict(r.split(":=", 1) for r in args.remap)
    remap = {"/" + a.strip("/"): "/" + b.strip("/") for a, b in remap.items()}

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    domain, dp = rp.open_participant(args.domain, rp.cyclone_config("4MB"))
    mask = SampleState.Any | ViewState.Any | InstanceState.Any
    waitset = WaitSet(dp)
    readers = {}
    for topic in wanted:
        b = bag[topic]
        offered = b["offered"]
        best_effort = bool(offered) and all(r == "BEST_EFFORT" for r, _ in offered)
        transient = bool(offered) and all(d == "TRANSIENT_LOCAL" for _, d in offered)
        qos = rp.QosSpec(not best_effort, transient, args.depth).to_dds()
        name = remap.get(topic, topic)
        reader = DataReader(dp, Topic(dp, rp.dds_topic_name(name), rp.opaque_type(b["type"]), qos=qos), qos=qos)
        waitset.attach(ReadCondition(reader, mask))
        readers[topic] = reader
    if args.ready:
        open(args.ready, "w").close()

    t_begin = time.monotonic()
    received = {t: [] for t in wanted}  # topic -> [(rx, payload)]
    arrivals = []  # (topic, position in received[topic])
    last_rx = None
    matched = {t: 0 for t in wanted}
    deadline = t_begin + args.duration
    while not stop.is_set():
        now = time.monotonic()
        if now >= deadline:
            break
        if args.idle_exit and last_rx is not None and now - last_rx > args.idle_exit:
            break
        waitset.wait(duration(seconds=min(0.05, deadline - now)))
        for topic, reader in readers.items():
            matched[topic] = max(matched[topic], len(reader.get_matched_publications()))
            while True:
                got = ddspy_take(reader._ref, mask, 256)
                if isinstance(got, int) or not got:
                    break
                rx = time.monotonic()
                for raw, info in got:
                    if info.valid_data:
                        arrivals.append((info.source_timestamp, topic, len(received[topic])))
                        received[topic].append((rx, bytes(raw)))
                        last_rx = rx

    out = {"topics": {}, "arrivals": [], "order_ok": True, "timing": None, "matched_writers": matched}
    index = {}  # (topic, position) -> index into expected, -1 if not matched
    for topic in wanted:
        exp = bag[topic]["msgs"]
        got = received[topic]
        r = {"type": bag[topic]["type"], "expected": len(exp), "received": len(got), "byte_equal": 0,
             "value_equal": 0, "in_order": False, "first_difference": None}
        by_bytes = {}
        for i, (_, raw, _) in enumerate(exp):
            by_bytes.setdefault(unpadded(raw), []).append(i)
        for k, (_, raw) in enumerate(got):
            found = [i for i in by_bytes.get(unpadded(raw), []) if abs(len(exp[i][1]) - len(raw)) < 4]
            if found:
                by_bytes[unpadded(raw)].remove(found[0])
                r["byte_equal"] += 1
                r["value_equal"] += 1
                index[(topic, k)] = found[0]
                continue
            # not byte-identical to any message: equal in value to the one at its position?
            v = None
            if k < len(exp):
                try:
                    v = store.deserialize_cdr(raw, bag[topic]["type"])
                except Exception:
                    v = None
            if v is not None and same(v, exp[k][2]):
                r["value_equal"] += 1
                index[(topic, k)] = k
            else:
                index[(topic, k)] = -1
                if r["first_difference"] is None:
                    r["first_difference"] = {"index": k, "got": raw[:64].hex(), "len_got": len(raw),
                                             "want": exp[k][1][:64].hex() if k < len(exp) else None}
        r["in_order"] = [index[(topic, k)] for k in range(len(got))] == list(range(len(exp)))
        out["topics"][topic] = r

    errors = []
    ref = None
    # Samples written in the same writer clock tick carry the same source timestamp: their order
    # among themselves is unknown, so each must only not precede anything written before the tick.
    arrivals.sort(key=lambda a: a[0])  # stable: samples of one take keep their order
    tick, tick_max, before = None, None, None
    for src, topic, k in arrivals:
        i = index[(topic, k)]
        out["arrivals"].append([topic, i, round(received[topic][k][0], 6)])
        if i < 0:
            continue
        t = bag[topic]["msgs"][i][0]
        rx = received[topic][k][0]
        if src != tick:
            if tick_max is not None:
                before = tick_max if before is None else max(before, tick_max)
            tick, tick_max = src, t
        else:
            tick_max = max(tick_max, t)
        if before is not None and t < before:
            out["order_ok"] = False
        if ref is None:
            ref = (rx, t)
        errors.append((topic, ((rx - ref[0]) - (t - ref[1]) / 1e9 / args.rate) * 1e3))
    if errors:
        # The player never publishes before a slot, so the earliest arrival (relative to its slot)
        # is taken as on time: lateness = error - min(error).
        floor = min(e for _, e in errors)

        def stats(values):
            v = sorted(x - floor for x in values)
            pick = lambda q: round(v[min(len(v) - 1, int(q * len(v)))], 3)  # noqa: E731
            return {"messages": len(v), "p50_ms": pick(0.5), "p99_ms": pick(0.99), "max_ms": round(v[-1], 3)}
        out["timing"] = stats([e for _, e in errors])
        out["timing_by_topic"] = {t: stats([e for u, e in errors if u == t]) for t in wanted
                                  if any(u == t for u, _ in errors)}
    if args.save:
        save(args.save, store, {t: (bag[t]["type"], received[t]) for t in wanted})
    text = json.dumps(out)
    print(text, flush=True)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
