#!/usr/bin/env bash
# A tour without ROS or PostgreSQL: starts the in-memory dev server, writes a small sequence
# through the client library, then lists, inspects, prints, queries and copies it with the CLI.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${MOSAICO_DEMO_PORT:-6727}
export MOSAICO_SERVER=127.0.0.1:$PORT
cargo build --quiet --bin mosaico-bridge --example quickstart
BIN=target/debug/mosaico-bridge

$BIN dev-server --listen "127.0.0.1:$PORT" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }
step target/debug/examples/quickstart "$MOSAICO_SERVER" demo_run
step $BIN ls
step $BIN info demo_run
step $BIN cat demo_run/imu --limit 2
step $BIN query --tag IMU
step $BIN cp demo_run demo_run_copy
step $BIN ls
