#!/usr/bin/env bash
# The recorder end to end with nothing installed (no ROS, no DDS, no PostgreSQL): starts the
# in-memory dev server, records a synthetic robot (camera, LIDAR, IMU, GPS, TF) into it with the
# recorder node for a few seconds, stops it as SIGTERM would, summarises the sequence, then shows
# the admin CLI on it (info, cat, query, copy).
#
#   scripts/demo.sh                 # 5 s of recording
#   DEMO_SECONDS=20 scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${MOSAICO_DEMO_PORT:-6727}
export MOSAICO_SERVER=127.0.0.1:$PORT
cargo build --quiet --release --bin mosaico-bridge
BIN=target/release/mosaico-bridge

$BIN dev-server --listen "127.0.0.1:$PORT" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
step $BIN demo --duration "${DEMO_SECONDS:-5}"
SEQ=$($BIN ls --json | python3 -c 'import json,sys; print(max(json.load(sys.stdin), key=lambda s: s["created_at_ns"])["name"])')
step $BIN info "$SEQ"
step $BIN cat "$SEQ/imu" --limit 2
step $BIN cat "$SEQ/gps" --limit 1
step $BIN query --tag IMU
step $BIN cp "$SEQ" "${SEQ}_copy"
step $BIN ls
