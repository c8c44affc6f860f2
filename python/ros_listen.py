#!/usr/bin/env python3
"""ros_listen.py: a Cyclone DDS (PyPI `cyclonedds`) subscriber for one ROS 2 topic that counts what
it receives for a while and prints a JSON summary on stdout. It checks ros_peer.py itself, and
later what the recorder republishes.

Like ros_peer.py it must run inside a loopback-only network namespace (see the top of
ros_peer.py); it refuses to start (exit status 2) when /sys/class/net lists anything but `lo`.

    ip netns exec rp .venv/bin/python python/ros_listen.py --topic /imu --duration 10
    ip netns exec rp .venv/bin/python python/ros_listen.py --topic /tf_static --reliable \\
        --transient-local --count 1 --duration 5
    ip netns exec rp .venv/bin/python python/ros_listen.py --topic /imu --duration 65 \\
        --idle-exit 2 --check /tmp/peer.json --roundtrip

The reader is a ROS 2 reader (DDS topic `rt/<topic>`, type `<pkg>::msg::dds_::<Name>_`, XCDR1),
best effort unless --reliable, volatile unless --transient-local, keep last --depth. It takes the
serialised samples (encapsulation header included) without Python deserialisation, and decodes them
with rosbags.

Two reader types:
  default   the real IDL type of the five sensor types ros_peer.py publishes. Matches writers that
            announce that XTypes type (ros_peer.py's valid writers) and writers that announce no
            XTypes type (RustDDS: the recorder; rmw_cyclonedds). Cyclone drops samples that are not
            valid CDR for the type before they reach the reader.
  --opaque  a one-byte struct under the same DDS type name (any ROS type): matches writers without
            XTypes information and ros_peer.py's garbage writers, not its valid writers; every
            sample is delivered and counted valid or invalid by whether rosbags decodes it.

Summary (one JSON object):
  topic, dds_topic, ros_type, dds_type, mode ("typed"|"opaque"), qos {reliability, durability,
  history, depth}, listened_s, matched_writers (max seen), count (samples taken), valid, invalid,
  bytes (sum of payload sizes), first_stamp / last_stamp ([sec, nanosec], of valid samples, in
  arrival order), first_data_sha256 (sha256 of the first valid sample's `data` field; for types
  without one, of its whole payload), first_payload_sha256 (whole first payload, header included),
  first_rx_s / last_rx_s (seconds after the reader was created), rx_rate_hz ((count-1) /
  (last_rx - first_rx)), sample_lost / sample_rejected (Cyclone's status counts);
  with --check MANIFEST (a ros_peer.py manifest with per-message entries): check {expected
  (published valid messages of the topic), received (distinct stamps matched), missing,
  loss_pct, duplicates, unknown (stamps not in the manifest), mismatched (key values differing
  from the manifest), first_mismatches (up to 5), garbage_expected};
  with --roundtrip: roundtrip {checked, mismatches}: each valid payload re-serialised by rosbags
  must give back the same bytes (up to the zero padding to 4 bytes);
  with --stamps: stamps, every valid sample's stamp in arrival order.
"""
import argparse
import hashlib
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ros_peer import require_loopback_only  # noqa: E402  (checked before any participant exists)


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="ros_listen.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--topic", required=True, help="ROS topic name, e.g. /imu")
    p.add_argument("--type", dest="ros_type", default=None,
                   help="ROS type (pkg/msg/Name); default: the type ros_peer.py publishes on --topic")
    p.add_argument("--reliable", action="store_true", help="reliable reader (default best effort)")
    p.add_argument("--transient-local", action="store_true",
                   help="transient-local reader (historical data needs --reliable too)")
    p.add_argument("--depth", type=int, default=None,
                   help="keep-last history depth (default 100 for Image and PointCloud2, else 1000)")
    p.add_argument("--duration", type=float, default=10.0, help="listen at most S seconds (default 10)")
    p.add_argument("--count", type=int, default=0, help="stop after N samples")
    p.add_argument("--idle-exit", type=float, default=0.0, metavar="S",
                   help="stop once S seconds pass without a sample, after the first one")
    p.add_argument("--opaque", action="store_true", help="one-byte reader type: see above")
    p.add_argument("--check", metavar="MANIFEST",
                   help="compare with a ros_peer.py manifest (read at the end; it may appear later)")
    p.add_argument("--check-wait", type=float, default=15.0, metavar="S",
                   help="wait up to S seconds at the end for the manifest to appear (default 15)")
    p.add_argument("--roundtrip", action="store_true", help="check that rosbags re-serialises every payload")
    p.add_argument("--stamps", action="store_true", help="include every stamp in the summary")
    p.add_argument("--output", metavar="FILE", help="write the summary there too")
    p.add_argument("--domain", type=int, default=int(os.environ.get("ROS_DOMAIN_ID", "0")))
    p.add_argument("--rcvbuf", default="4MB", help="Cyclone Internal/SocketReceiveBufferSize min (0: default)")
    p.add_argument("--max-message-size", default=None, help="Cyclone General/MaxMessageSize")
    p.add_argument("--fragment-size", default=None, help="Cyclone General/FragmentSize")
    return p.parse_args(argv)


def compare(path: str, wait_s: float, topic: str, received: dict, duplicates: int) -> dict:
    """Compares what was received with a ros_peer.py manifest, waiting up to wait_s seconds for the
    manifest to appear (the peer writes it when it exits)."""
    t_end = time.monotonic() + wait_s
    while not os.path.exists(path) and time.monotonic() < t_end:
        time.sleep(0.1)
    if not os.path.exists(path):
        return {"error": f"no manifest at {path}"}
    with open(path) as f:
        man = json.load(f)
    t = man["topics"].get(topic)
    if t is None:
        return {"error": f"{topic} is not in {path}"}
    if "messages" not in t:
        return {"error": f"{path} has no per-message entries (--manifest-keys none)"}
    check = {"expected": t["published"], "received": 0, "missing": 0, "loss_pct": 0.0, "duplicates": duplicates,
             "unknown": 0, "mismatched": 0, "first_mismatches": [], "garbage_expected": t.get("garbage", 0)}
    expected = {tuple(m["stamp"]): m for m in t["messages"]}
    for key, got in received.items():
        want = expected.get(key)
        if want is None:
            check["unknown"] += 1
            continue
        check["received"] += 1
        ref = {k: v for k, v in want.items() if k != "i"}
        got = {k: v for k, v in got.items() if k in ref}
        if got != ref:
            check["mismatched"] += 1
            if len(check["first_mismatches"]) < 5:
                check["first_mismatches"].append({"i": want["i"], "expected": ref, "got": got})
    check["missing"] = check["expected"] - check["received"]
    if check["expected"]:
        check["loss_pct"] = round(100.0 * check["missing"] / check["expected"], 3)
    return check


def main(argv=None) -> int:
    args = parse_args(argv)
    require_loopback_only("ros_listen")

    import ros_peer as rp
    from cyclonedds._clayer import ddspy_take
    from cyclonedds.core import InstanceState, ReadCondition, SampleState, ViewState, WaitSet
    from cyclonedds.sub import DataReader
    from cyclonedds.topic import Topic
    from cyclonedds.util import duration

    topic = "/" + args.topic.lstrip("/")
    ros_type = args.ros_type
    if ros_type is None:
        known = {d.name: d.key for d in rp.TOPIC_DEFS}
        if topic not in known:
            raise SystemExit(f"ros_listen: give --type for {topic}")
        ros_type = ("tf2_msgs/msg/TFMessage" if known[topic] in ("tf", "tf_static") else
                    {"camera": "sensor_msgs/msg/Image", "imu": "sensor_msgs/msg/Imu",
                     "points": "sensor_msgs/msg/PointCloud2", "gps": "sensor_msgs/msg/NavSatFix"}[known[topic]])
    if args.opaque:
        idl_type = rp.opaque_type(ros_type)
    elif ros_type in rp.IDL_TYPES:
        idl_type = rp.IDL_TYPES[ros_type]
    else:
        raise SystemExit(f"ros_listen: no IDL type for {ros_type}; use --opaque")

    received = {}  # --check: stamp -> keys of the first valid sample with that stamp
    duplicates = [0]

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    depth = args.depth or (100 if ros_type in ("sensor_msgs/msg/Image", "sensor_msgs/msg/PointCloud2") else 1000)
    qos = rp.QosSpec(args.reliable, args.transient_local, depth)
    config = rp.cyclone_config(args.rcvbuf, None, args.max_message_size, args.fragment_size)
    domain, dp = rp.open_participant(args.domain, config)
    dds_qos = qos.to_dds()
    reader = DataReader(dp, Topic(dp, rp.dds_topic_name(topic), idl_type, qos=dds_qos), qos=dds_qos)
    mask = SampleState.Any | ViewState.Any | InstanceState.Any
    waitset = WaitSet(dp)
    waitset.attach(ReadCondition(reader, mask))
    t_begin = time.monotonic()

    out = {"topic": topic, "dds_topic": rp.dds_topic_name(topic), "ros_type": ros_type,
           "dds_type": rp.dds_type_name(ros_type), "mode": "opaque" if args.opaque else "typed",
           "qos": qos.to_json(), "listened_s": None, "matched_writers": 0, "count": 0, "valid": 0,
           "invalid": 0, "bytes": 0, "first_stamp": None, "last_stamp": None, "first_data_sha256": None,
           "first_payload_sha256": None, "first_rx_s": None, "last_rx_s": None, "rx_rate_hz": None}
    stamps = []
    roundtrip = {"checked": 0, "mismatches": 0}

    def handle(raw: bytes, now: float) -> None:
        out["count"] += 1
        out["bytes"] += len(raw)
        if out["first_rx_s"] is None:
            out["first_rx_s"] = round(now - t_begin, 6)
        out["last_rx_s"] = round(now - t_begin, 6)
        try:
            msg = rp.TYPESTORE.deserialize_cdr(raw, ros_type)
        except Exception:
            out["invalid"] += 1
            return
        out["valid"] += 1
        stamp = None
        if ros_type in rp.IDL_TYPES:
            stamp = rp.keys_from_msg(ros_type, msg, "stamps")["stamp"]
        elif hasattr(msg, "header"):
            stamp = [int(msg.header.stamp.sec), int(msg.header.stamp.nanosec)]
        if out["first_payload_sha256"] is None:
            out["first_payload_sha256"] = hashlib.sha256(raw).hexdigest()
            data = getattr(msg, "data", None)
            out["first_data_sha256"] = (hashlib.sha256(memoryview(rp.np.ascontiguousarray(data))).hexdigest()
                                        if data is not None and hasattr(data, "dtype")
                                        else hashlib.sha256(raw).hexdigest())
            out["first_stamp"] = stamp
        out["last_stamp"] = stamp
        if args.stamps:
            stamps.append(stamp)
        if args.roundtrip:
            again = bytes(rp.TYPESTORE.serialize_cdr(msg, ros_type))
            roundtrip["checked"] += 1
            if not (raw[:len(again)] == again and len(raw) - len(again) < 4 and not any(raw[len(again):])):
                roundtrip["mismatches"] += 1
        if args.check:
            key = tuple(stamp) if stamp else None
            if key in received:
                duplicates[0] += 1
            else:
                received[key] = rp.keys_from_msg(ros_type, msg, "all")

    deadline = t_begin + args.duration
    while not stop.is_set():
        now = time.monotonic()
        if now >= deadline:
            break
        if args.count and out["count"] >= args.count:
            break
        if args.idle_exit and out["last_rx_s"] is not None and now - t_begin - out["last_rx_s"] > args.idle_exit:
            break
        waitset.wait(duration(seconds=min(0.1, deadline - now)))
        out["matched_writers"] = max(out["matched_writers"], len(reader.get_matched_publications()))
        while True:
            got = ddspy_take(reader._ref, mask, 64)
            if isinstance(got, int) or not got:
                break
            now = time.monotonic()
            for raw, info in got:
                if info.valid_data:  # skip the invalid samples writers leave when they go away
                    handle(raw, now)

    out["listened_s"] = round(time.monotonic() - t_begin, 3)
    if out["count"] > 1 and out["last_rx_s"] > out["first_rx_s"]:
        out["rx_rate_hz"] = round((out["count"] - 1) / (out["last_rx_s"] - out["first_rx_s"]), 3)
    out["sample_lost"] = reader.get_sample_lost_status().total_count
    out["sample_rejected"] = reader.get_sample_rejected_status().total_count
    if args.check:
        out["check"] = compare(args.check, args.check_wait, topic, received, duplicates[0])
    if args.roundtrip:
        out["roundtrip"] = roundtrip
    if args.stamps:
        out["stamps"] = stamps
    text = json.dumps(out)
    print(text, flush=True)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
