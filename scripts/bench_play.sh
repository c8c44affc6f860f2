#!/usr/bin/env bash
# Player benchmark: `mosaico-bridge play` (release, DDS backend) publishing imported bags to the
# independent Cyclone DDS subscriber python/play_listen.py, which measures each message's lateness
# against its slot in the recording; all inside a loopback-only network namespace (root), against
# the release dev server.
#
#   scripts/bench_play.sh                  # DURATION=10
#
# Runs (bags written by python/make_bench_bag.py, imported with `mosaico-bridge import`):
#   imu     IMU @ 1 kHz alone, played at 1x
#   mixed   1080p rgb8 Image @ 30 Hz + PointCloud2 128x2048 @ 10 Hz + IMU @ 1 kHz (+ GPS, TF),
#           played at 1x; the bag holds no QoS, so every topic is offered reliable depth 10
#   sensor  the same with the QoS a robot's drivers offer (camera, LIDAR, IMU best effort depth 5;
#           make_bench_bag.py --sensor-qos), played at 1x
#   max-S   the sensor sequence at --rate max with --read-ahead-bytes S, for S in READ_AHEAD
#   max-reliable  the mixed sequence at --rate max (default read-ahead)
# Reported per run: the subscriber's lateness p50/p99/max (all topics and IMU alone), what arrived
# of what the bag holds, the player's own late count, its wall time and peak RSS (GNU time), and
# for --rate max the throughput (bytes of the bag / playing time).
#
# Env: DURATION (10), READ_AHEAD ("33554432 1073741824"), PORT (6792), BIN
# (target/release/mosaico-bridge, built unless SKIP_BUILD=1), BENCH_DIR (/tmp/mosaico-bench).
# Results: $BENCH_DIR/play-<stamp>/ (bags, reports, subscriber summaries) and summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install -y time" >&2; exit 2; }
DURATION=${DURATION:-10}
READ_AHEAD=${READ_AHEAD:-33554432 1073741824}
PORT=${PORT:-6792}
BENCH_DIR=${BENCH_DIR:-/tmp/mosaico-bench}
PY=${PY:-$ROOT/.venv/bin/python}
BIN=${BIN:-$ROOT/target/release/mosaico-bridge}
if [ -z "${SKIP_BUILD:-}" ] && [ "$BIN" = "$ROOT/target/release/mosaico-bridge" ]; then
    cargo build --release --bin mosaico-bridge
fi
OUT=$BENCH_DIR/play-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
NS=mosaico-play-$$
SERVER=
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
    ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$NS"
in_ns() { ip netns exec "$NS" "$@"; }
in_ns ip link set lo up
in_ns ip link set lo multicast on
in_ns ip route add 224.0.0.0/4 dev lo
in_ns sysctl -qw net.core.rmem_max=67108864 2>/dev/null || true

echo "bags ($DURATION s each) in $OUT"
"$PY" python/make_bench_bag.py "$OUT/imu_bag" --duration "$DURATION" --image-hz 0 --points-hz 0 \
    --imu-hz 1000 --gps-hz 0 --tf-hz 0 > "$OUT/imu_bag.json"
"$PY" python/make_bench_bag.py "$OUT/mixed_bag" --duration "$DURATION" --image-hz 30 --points-hz 10 \
    --imu-hz 1000 > "$OUT/mixed_bag.json"
"$PY" python/make_bench_bag.py "$OUT/sensor_bag" --duration "$DURATION" --image-hz 30 --points-hz 10 \
    --imu-hz 1000 --sensor-qos > "$OUT/sensor_bag.json"

in_ns "$BIN" dev-server --listen "127.0.0.1:$PORT" > "$OUT/server.log" 2>&1 &
SERVER=$!
sleep 1
S=127.0.0.1:$PORT
for b in imu mixed sensor; do
    in_ns "$BIN" --server "$S" import "$OUT/${b}_bag/${b}_bag.mcap" --sequence "bench_$b" > "$OUT/import_$b.log" 2>&1
done

# run NAME SEQ BAG PLAY_FLAGS...: the subscriber, then the player under GNU time.
run() {
    local name=$1 seq=$2 bag=$3; shift 3
    local ready=$OUT/$name.ready
    in_ns "$PY" python/play_listen.py --bag "$bag" --ready "$ready" --duration 600 --idle-exit 5 \
        --rate "${RATE:-1}" --output "$OUT/$name.listen.json" > /dev/null 2> "$OUT/$name.listen.err" &
    local sub=$!
    while [ ! -e "$ready" ]; do sleep 0.2; done
    local t0 t1
    t0=$(date +%s.%N)
    in_ns /usr/bin/time -v -o "$OUT/$name.time" "$BIN" --server "$S" play "$seq" --delay 2 --json "$@" \
        > "$OUT/$name.report.json" 2> "$OUT/$name.play.err"
    t1=$(date +%s.%N)
    wait "$sub" || true
    "$PY" - "$OUT" "$name" "$t0" "$t1" "$bag" <<'PY' | tee -a "$OUT/summary.txt"
import json, os, re, sys
out, name, t0, t1, bag = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
lst = json.load(open(f"{out}/{name}.listen.json"))
rep = json.load(open(f"{out}/{name}.report.json"))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(f"{out}/{name}.time").read()).group(1))
got = sum(t["received"] for t in lst["topics"].values())
want = sum(t["expected"] for t in lst["topics"].values())
exact = sum(t["value_equal"] for t in lst["topics"].values())
size = sum(os.path.getsize(os.path.join(bag, f)) for f in os.listdir(bag) if f.endswith(".mcap"))
wall = t1 - t0 - 2.0  # less --delay
imu = lst.get("timing_by_topic", {}).get("/imu")
print(f"{name}: received {got}/{want} ({exact} equal to the bag), order_ok {lst['order_ok']}; "
      f"lateness all {lst['timing']}; imu {imu}; player: {rep['messages']} published, {rep['late']} late "
      f"(max {rep['max_late_us']} us), playing {wall:.2f} s = {size / wall / 1e6:.0f} MB/s of bag, peak RSS {rss / 1024:.0f} MiB")
PY
}

run imu bench_imu "$OUT/imu_bag"
run mixed bench_mixed "$OUT/mixed_bag"
run sensor bench_sensor "$OUT/sensor_bag"
for ra in $READ_AHEAD; do
    run "max-$ra" bench_sensor "$OUT/sensor_bag" --rate max --read-ahead-bytes "$ra"
done
run max-reliable bench_mixed "$OUT/mixed_bag" --rate max
echo "summary: $OUT/summary.txt"
