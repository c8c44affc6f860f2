#!/usr/bin/env bash
# Backlog drain after an outage: the recorder (`demo`: a synthetic robot on the in-process graph)
# records for OUTAGE seconds while no server answers, so everything waits in the spool; then a dev
# server comes up and `spool upload` drains the backlog. Reports the backlog (bytes, segments), the
# rate it was recorded at, and the rate it drained at, measured in the same run.
#
#   scripts/bench_drain.sh                 # 60 s outage, 1280x720 rgb8 @ 30 Hz + IMU @ 1 kHz + LIDAR
#   OUTAGE=30 CAMERA=1920x1080 scripts/bench_drain.sh
#
# Env: OUTAGE (60), CAMERA (1280x720), CAMERA_HZ (30), IMU_HZ (1000), BIN (target/release/
# mosaico-bridge, built unless SKIP_BUILD=1), BENCH_DIR (/tmp/mosaico-bench). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
OUTAGE=${OUTAGE:-60}
CAMERA=${CAMERA:-1280x720}
CAMERA_HZ=${CAMERA_HZ:-30}
IMU_HZ=${IMU_HZ:-1000}
BIN=${BIN:-$PWD/target/release/mosaico-bridge}
BENCH_DIR=${BENCH_DIR:-/tmp/mosaico-bench}
if [ -z "${SKIP_BUILD:-}" ] && [ "$BIN" = "$PWD/target/release/mosaico-bridge" ]; then
    cargo build --release --bin mosaico-bridge
fi
dir=$BENCH_DIR/drain-$(date +%Y%m%d-%H%M%S)
mkdir -p "$dir"
spool=$dir/spool
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
server=127.0.0.1:$port
cleanup() { [ -n "${srv:-}" ] && kill "$srv" 2>/dev/null || true; }
trap cleanup EXIT

echo "recording $OUTAGE s ($CAMERA rgb8 @ $CAMERA_HZ Hz, IMU @ $IMU_HZ Hz, LIDAR) with no server at $server ..."
t0=$(date +%s.%N)
# Exit 1 is expected: the recording ends with its parts still in the spool.
"$BIN" --server "$server" demo --duration "$OUTAGE" --camera "$CAMERA" --camera-hz "$CAMERA_HZ" \
    --imu-hz "$IMU_HZ" --spool "$spool" --json >"$dir/demo.json" 2>"$dir/demo.log" || true
t1=$(date +%s.%N)
bytes=$(du -sb "$spool" | cut -f1)
segments=$(find "$spool" -name '*.mcap' | wc -l)
"$BIN" spool ls "$spool" >"$dir/spool-ls.txt"

"$BIN" dev-server --listen "$server" >"$dir/server.log" 2>&1 &
srv=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
t2=$(date +%s.%N)
"$BIN" --server "$server" spool upload "$spool" >"$dir/upload.out" 2>"$dir/upload.log"
t3=$(date +%s.%N)
left=$(find "$spool" -name '*.mcap' | wc -l)
python3 - "$bytes" "$segments" "$t0" "$t1" "$t2" "$t3" "$left" "$OUTAGE" <<'PY' | tee "$dir/summary.txt"
import sys
b, seg, t0, t1, t2, t3, left, outage = sys.argv[1:]
b, seg, left, outage = int(b), int(seg), int(left), float(outage)
rec, drain = float(t1) - float(t0), float(t3) - float(t2)
print(f"backlog after a {outage:.0f} s outage: {b/1e9:.2f} GB in {seg} segments "
      f"(recorded at {b/outage/1e6:.0f} MB/s)")
print(f"drained by `spool upload` in {drain:.1f} s: {b/drain/1e6:.0f} MB/s = "
      f"{outage/drain:.1f}x the recording rate; segments left: {left}")
PY
echo "results in $dir"
