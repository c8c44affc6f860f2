"""The official Mosaico SDK (PyPI mosaicolabs) as a peer for the interop tests.

    python sdk_interop.py write HOST PORT SEQUENCE   # a known sequence, written by the SDK
    python sdk_interop.py read  HOST PORT SEQUENCE   # every topic read back typed, as JSON on stdout

`read` prints {"metadata": ..., "topics": {name: {"tag", "metadata", "rows": [...]}}} where each row
is the typed object's `model_dump()` plus `timestamp_ns`; bytes become {"len", "sha256"} so that two
reads compare with `==`. The Rust tests drive this script; it asserts nothing itself.
"""
import hashlib
import json
import sys

from mosaicolabs import IMU, Image, Message, MosaicoClient, Quaternion, SessionLevelErrorPolicy, Vector3d

T0 = 1_700_000_000_000_000_000
IMU_ROWS = 200
IMAGE_ROWS = 5
W, H = 32, 24


def frame(i):
    return bytes(((x * 7 + i * 13) & 0xFF) for x in range(W * H * 3))


def write(client, name):
    with client.sequence_create(name, {"robot": "sdk", "run": {"n": 7, "ok": True}}, SessionLevelErrorPolicy.Delete) as seq:
        imu = seq.topic_create("/imu", {"rate_hz": 100}, IMU)
        cam = seq.topic_create("/camera/image_raw", {"frame_id": "cam"}, Image)
        for i in range(IMU_ROWS):
            data = IMU(
                acceleration=Vector3d(x=i * 0.5, y=-1.0, z=9.81),
                angular_velocity=Vector3d(x=0.0, y=0.01 * i, z=0.0),
                orientation=Quaternion(x=0.0, y=0.0, z=0.0, w=1.0),
            )
            imu.push(Message(timestamp_ns=T0 + i * 10_000_000, data=data))
            if i % (IMU_ROWS // IMAGE_ROWS) == 0:
                img = Image(data=frame(i), format="raw", width=W, height=H, stride=W * 3, encoding="rgb8", is_bigendian=False)
                cam.push(Message(timestamp_ns=T0 + i * 10_000_000, data=img))


def plain(v):
    if isinstance(v, (bytes, bytearray)):
        return {"len": len(v), "sha256": hashlib.sha256(v).hexdigest()}
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if hasattr(v, "value") and not isinstance(v, (int, float, str, bool)):
        return v.value  # enums
    return v


def read(client, name):
    seq = client.sequence_handler(name)
    if seq is None:
        raise SystemExit(f"sequence {name!r} not found")
    out = {"metadata": seq.user_metadata, "topics": {}}
    for topic in sorted(seq.topics):
        th = seq.get_topic_handler(topic)
        rows = []
        for msg in th.get_data_streamer():
            typed = msg.get_data(msg.ontology_type())
            rows.append({"timestamp_ns": msg.timestamp_ns, "type": type(typed).__name__, **plain(typed.model_dump())})
        out["topics"][topic] = {"tag": th.ontology_tag, "metadata": th.user_metadata, "rows": rows}
    json.dump(out, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")


def main():
    cmd, host, port, name = sys.argv[1:5]
    with MosaicoClient.connect(host, int(port)) as client:
        {"write": write, "read": read}[cmd](client, name)


if __name__ == "__main__":
    main()
