#!/usr/bin/env bash
# The recorder end to end with nothing installed (no ROS, no DDS, no PostgreSQL): starts the
# in-memory dev server, records a synthetic robot (camera, LIDAR, IMU, GPS, TF) into it with the
# recorder node for a few seconds, stops it as SIGTERM would, summarises the sequence, then shows
# the admin CLI on it (info, cat, query, copy).
#
#   scripts/demo.sh                 # 5 s of recording, on a free port
#   DEMO_SECONDS=20 scripts/demo.sh
#   MOSAICO_DEMO_PORT=6727 scripts/demo.sh   # a fixed port: refused when another program holds it
#   BIN=path/to/mosaico-bridge scripts/demo.sh   # that binary instead of building target/release's
# The demo only ever writes into the dev server it started itself.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${MOSAICO_DEMO_PORT:-0}
if [ -z "${BIN:-}" ]; then
    if [ ! -x target/release/mosaico-bridge ]; then
        echo "demo: building mosaico-bridge (release). The first build compiles a few hundred crates: 10-25 min on" >&2
        echo "demo: 2 cores, a few GB in target/; later runs take seconds. cargo's progress follows." >&2
    fi
    cargo build --release --bin mosaico-bridge
    BIN=target/release/mosaico-bridge
fi
if [ "$PORT" != 0 ] && (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    echo "demo: port $PORT is taken by another program: the demo never records into a server it did not start." >&2
    echo "demo: free the port, pick another (MOSAICO_DEMO_PORT=N), or leave MOSAICO_DEMO_PORT unset for a free one." >&2
    exit 1
fi

LOG=$(mktemp)
$BIN dev-server --listen "127.0.0.1:$PORT" 2>"$LOG" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true; rm -f "$LOG"' EXIT
# The address the dev server itself reports once it listens: never another program's.
ADDR=
for _ in $(seq 100); do
    ADDR=$(sed -n 's|.*dev server on grpc://\([^ ]*\) .*|\1|p' "$LOG")
    [ -n "$ADDR" ] && break
    if ! kill -0 "$SERVER" 2>/dev/null; then
        cat "$LOG" >&2
        echo "demo: the dev server did not start (port $PORT taken?): nothing was recorded." >&2
        exit 1
    fi
    sleep 0.1
done
[ -n "$ADDR" ] || { cat "$LOG" >&2; echo "demo: the dev server did not report its address" >&2; exit 1; }
export MOSAICO_SERVER=$ADDR
echo "demo: dev server on $ADDR" >&2

# Bold command lines on a terminal only: a log file gets no escape codes.
if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; else B= N=; fi
step() { printf '\n%s$ %s%s\n' "$B" "$*" "$N"; "$@"; }
step $BIN demo --duration "${DEMO_SECONDS:-5}"
SEQ=$($BIN ls --json | python3 -c 'import json,sys; print(max(json.load(sys.stdin), key=lambda s: s["created_at_ns"])["name"])')
step $BIN info "$SEQ"
step $BIN cat "$SEQ/imu" --limit 2
step $BIN cat "$SEQ/gps" --limit 1
step $BIN query --tag IMU
step $BIN cp "$SEQ" "${SEQ}_copy"
step $BIN ls
