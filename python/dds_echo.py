"""An independent ROS 2 peer for the DDS transport tests: Cyclone DDS (the PyPI `cyclonedds`
package, the middleware of rmw_cyclonedds) speaking `std_msgs/msg/String` exactly as a ROS 2 node
does, with no ROS installed.

    dds_echo.py --publish rt/interop/from_py --subscribe rt/interop/to_py \
        --message hello --big 200000 --expect 3

Publishes each `--message` (and a string of `--big` characters) on the `--publish` DDS topic,
printing `SENT <hex>` per message (the serialized CDR handed to Cyclone, header included); prints
`GOT <hex>` for each message received on `--subscribe` (re-serialized from what Cyclone decoded)
and `GOT_ALL` after `--expect` of them. Both endpoints are reliable and transient local, so neither
side has to wait for discovery before writing. Runs until stdin is closed, keeping its messages
available. Must run inside a loopback-only network namespace (see tests/common/netns.rs).
"""

import argparse
import os
import sys
import threading
import time
from dataclasses import dataclass

# Cyclone drops large best-effort and fragmented samples with the default socket buffer
# (see docs: ros2-transport-notes.md). Kept below this machine's rmem_max of 4 MiB.
os.environ.setdefault(
    "CYCLONEDDS_URI",
    '<CycloneDDS><Domain><Internal><SocketReceiveBufferSize min="4MB"/></Internal></Domain></CycloneDDS>',
)

import cyclonedds.idl.annotations as annotate  # noqa: E402
from cyclonedds.core import Policy, Qos  # noqa: E402
from cyclonedds.domain import DomainParticipant  # noqa: E402
from cyclonedds.idl import IdlStruct  # noqa: E402
from cyclonedds.internal import InvalidSample  # noqa: E402
from cyclonedds.pub import DataWriter  # noqa: E402
from cyclonedds.sub import DataReader  # noqa: E402
from cyclonedds.topic import Topic  # noqa: E402
from cyclonedds.util import duration  # noqa: E402


@dataclass
@annotate.final
class String_(IdlStruct, typename="std_msgs::msg::dds_::String_"):
    data: str


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--publish", required=True, help="DDS topic to write (rt/...)")
    ap.add_argument("--subscribe", required=True, help="DDS topic to read (rt/...)")
    ap.add_argument("--message", action="append", default=[], help="a string to publish")
    ap.add_argument("--big", type=int, default=0, help="also publish a string of this many characters")
    ap.add_argument("--expect", type=int, required=True, help="messages to receive before GOT_ALL")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds before giving up")
    args = ap.parse_args()

    messages = list(args.message)
    if args.big:
        messages.append("".join(chr(ord("a") + i % 26) for i in range(args.big)))

    depth = max(len(messages), args.expect, 1)
    qos = Qos(
        Policy.Reliability.Reliable(duration(seconds=1)),
        Policy.Durability.TransientLocal,
        Policy.History.KeepLast(depth),
        # What Cyclone keeps for late joiners is the durability service history (default: the
        # last sample only); rmw_cyclonedds sets it to the writer's history, and so do we.
        Policy.DurabilityService(0, Policy.History.KeepLast(depth), -1, -1, -1),
        Policy.DataRepresentation(use_cdrv0_representation=True),
    )
    participant = DomainParticipant(int(os.environ.get("ROS_DOMAIN_ID", "0") or 0))
    writer = DataWriter(participant, Topic(participant, args.publish, String_), qos=qos)
    reader = DataReader(participant, Topic(participant, args.subscribe, String_), qos=qos)
    emit("READY")

    for text in messages:
        sample = String_(data=text)
        emit("SENT " + sample.serialize(use_version_2=False).hex())
        writer.write(sample)

    stdin_closed = threading.Event()

    def wait_stdin() -> None:
        sys.stdin.read()
        stdin_closed.set()

    threading.Thread(target=wait_stdin, daemon=True).start()

    got = 0
    deadline = time.monotonic() + args.timeout
    while not stdin_closed.is_set():
        if time.monotonic() > deadline:
            emit("TIMEOUT")
            return 1
        for sample in reader.take(16):
            if isinstance(sample, InvalidSample):
                continue  # a writer went away
            emit("GOT " + sample.serialize(use_version_2=False).hex())
            got += 1
            if got == args.expect:
                emit("GOT_ALL")
        time.sleep(0.01)
    return 0


if __name__ == "__main__":
    sys.exit(main())
