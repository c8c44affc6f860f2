#!/usr/bin/env python3
"""ros_call.py: calls a std_srvs/srv/Trigger service as a ROS 2 client on rmw_cyclonedds does, with
the PyPI `cyclonedds` package (no ROS installation), for the tests of the recorder's services.

    ip netns exec NS .venv/bin/python python/ros_call.py /r1/rec/start [--timeout 30]

rmw_cyclonedds maps a service onto two DDS topics, `rq/<service>Request` and `rr/<service>Reply`,
types `std_srvs::srv::dds_::Trigger_Request_` / `Trigger_Response_`, and correlates them inside the
payload: both request and reply start with its request header (rmw_cyclonedds' serdata.hpp,
`cdds_request_header_t`): a uint64 `guid` (the client's request writer's instance handle) and an
int64 `seq` (the client's request counter), then the message's own fields. The server copies the
header into its reply; the client takes only replies carrying its guid, and matches seq. No related
sample identity is sent (Cyclone has none). QoS: rmw's services default, reliable, volatile, keep
last 10, XCDR1.

Prints one JSON object: {"service", "success", "message", "seq"}. Exit status 3 when no reply
came in time, 2 when the network namespace is not loopback-only (it refuses to start).
"""
import argparse
import json
import os
import random
import sys
import time
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ros_peer import require_loopback_only  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="ros_call.py", description=__doc__.split("\n\n")[0])
    p.add_argument("service", help="resolved service name, e.g. /r1/rec/start")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds for discovery and the reply")
    p.add_argument("--domain", type=int, default=int(os.environ.get("ROS_DOMAIN_ID", "0")))
    args = p.parse_args(argv)
    require_loopback_only("ros_call.py")

    from cyclonedds.core import DDSException
    from cyclonedds.idl import IdlStruct
    from cyclonedds.idl.annotations import final
    from cyclonedds.idl.types import int64, uint8, uint64
    from cyclonedds.pub import DataWriter
    from cyclonedds.qos import Policy, Qos
    from cyclonedds.sub import DataReader
    from cyclonedds.topic import Topic
    from cyclonedds.util import duration

    from ros_peer import cyclone_config, open_participant

    # The request wrapper as rmw_cyclonedds serialises it: header, then Trigger's request fields.
    @final
    @dataclass
    class TriggerRequest(IdlStruct, typename="std_srvs::srv::dds_::Trigger_Request_"):
        guid: uint64
        seq: int64
        structure_needs_at_least_one_member: uint8

    @final
    @dataclass
    class TriggerResponse(IdlStruct, typename="std_srvs::srv::dds_::Trigger_Response_"):
        guid: uint64
        seq: int64
        success: bool
        message: str

    service = "/" + args.service.lstrip("/")
    _domain, dp = open_participant(args.domain, cyclone_config())
    qos = Qos(Policy.Reliability.Reliable(duration(milliseconds=100)), Policy.Durability.Volatile,
              Policy.History.KeepLast(10), Policy.DataRepresentation(use_cdrv0_representation=True))
    writer = DataWriter(dp, Topic(dp, f"rq{service}Request", TriggerRequest), qos=qos)
    reader = DataReader(dp, Topic(dp, f"rr{service}Reply", TriggerResponse), qos=qos)

    deadline = time.monotonic() + args.timeout
    while (writer.get_publication_matched_status().current_count == 0
           or reader.get_subscription_matched_status().current_count == 0):
        if time.monotonic() > deadline:
            sys.stderr.write(f"ros_call.py: service {service} not found in time\n")
            return 3
        time.sleep(0.02)
    # The server's reply writer must match our reader too; that side cannot be observed.
    time.sleep(1.0)

    try:
        guid = writer.get_instance_handle() & 0xFFFF_FFFF_FFFF_FFFF  # Python may hand it back signed
    except (AttributeError, DDSException):
        guid = random.getrandbits(64)
    seq = 1
    writer.write(TriggerRequest(guid=guid, seq=seq, structure_needs_at_least_one_member=0))
    while time.monotonic() < deadline:
        for s in reader.take(N=10):
            if not isinstance(s, TriggerResponse):
                continue  # InvalidSample at the server's shutdown
            if s.guid != guid:
                continue  # a reply to another client
            if s.seq != seq:
                sys.stderr.write(f"ros_call.py: a reply to request {s.seq}, ignored\n")
                continue
            print(json.dumps({"service": service, "success": s.success, "message": s.message, "seq": s.seq}))
            return 0
        time.sleep(0.02)
    sys.stderr.write(f"ros_call.py: no reply from {service} in time\n")
    return 3


if __name__ == "__main__":
    sys.exit(main())
