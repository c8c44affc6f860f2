#!/usr/bin/env bash
# Export throughput: `mosaico-bridge export` vs the official SDK's ROSSequenceExtractor
# (`python -m mosaicolabs.bridges.ros.sequence_extractor`, SDK 0.7.0), exporting the same sequence
# from the same in-memory dev server (current protocol generation) in the same run.
#
#   scripts/bench_export.sh              # 2 runs; the order of the exporters alternates
#   RUNS=3 BAG_DURATION=10 scripts/bench_export.sh
#
# The sequence: the bench bag of python/make_bench_bag.py (default 10 s of a robot: 1080p rgb8 Image
# 10 Hz, Imu 500 Hz, PointCloud2 128x2048 10 Hz, NavSatFix 10 Hz, TF 50 Hz, tf_static), imported once
# per run with `mosaico-bridge import`. Each exporter writes a new rosbag2 MCAP bag under
# /usr/bin/time (wall, user+sys CPU, max RSS); rosbags then counts each bag's messages per topic, and
# the run fails unless both bags hold every message of the original bag. Both write to $BENCH_DIR;
# ours also syncs the bag to disk before it reports success (the SDK's writer does not sync).
# MB/s = the original bag's bytes / 1e6 / wall seconds.
#
# Env: RUNS (2), BENCH_DIR (/tmp/mosaico-bench), BAG_DURATION (10), BAG (an .mcap to use instead),
# PORT (6791), BIN (target/release/mosaico-bridge, built unless SKIP_BUILD=1), VENV (.venv).
# Results: $BENCH_DIR/export-<stamp>/ (logs, results.jsonl, summary.txt). Needs GNU time and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

RUNS=${RUNS:-2}
BENCH_DIR=${BENCH_DIR:-/tmp/mosaico-bench}
BAG_DURATION=${BAG_DURATION:-10}
PORT=${PORT:-6791}
VENV=${VENV:-$ROOT/.venv}
PY=$VENV/bin/python
BIN=${BIN:-$ROOT/target/release/mosaico-bridge}
source scripts/bench_common.sh
"$PY" -c 'import mosaicolabs.bridges.ros.sequence_extractor' 2>/dev/null \
    || { echo "no mosaicolabs in $VENV (pip install -r python/requirements-test.txt)" >&2; exit 2; }
build_release
OUT=$(new_out export)
ensure_bag
echo "bag $BAG: $BAG_BYTES bytes, $BAG_MSGS messages" | tee "$OUT/summary.txt"

count_bag() { # DIR -> {"topic": n, ...}
    "$PY" -c '
import json, sys
from pathlib import Path
from rosbags.highlevel import AnyReader
with AnyReader([Path(sys.argv[1])]) as r:
    n = {}
    for c, _, _ in r.messages():
        n[c.topic] = n.get(c.topic, 0) + 1
    print(json.dumps(n, sort_keys=True))' "$1"
}
ORIGINAL=$(count_bag "$(dirname "$BAG")")

run_one() { # RUN TOOL
    local run=$1 tool=$2 dir="$OUT/bag-$1-$2" tf="$OUT/time-$1-$2.txt" log="$OUT/$2-$1.log" rc=0 cmd
    case $tool in
        ours) cmd=("$BIN" --server "127.0.0.1:$PORT" export S -o "$dir" --json) ;;
        python) cmd=("$PY" -m mosaicolabs.bridges.ros.sequence_extractor S --rosbag_path "$dir"
                     --host 127.0.0.1 --port "$PORT" --log WARNING) ;;
    esac
    echo "run $run: $tool  (load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    /usr/bin/time -f '%e %U %S %M' -o "$tf" "${cmd[@]}" >"$log.out" 2>"$log" || rc=$?
    if [ "$rc" != 0 ]; then
        echo "$tool export failed (exit $rc); see $log" >&2
        tail -20 "$log" >&2
        exit 1
    fi
    local got bagdir=$dir
    [ "$tool" = python ] && bagdir=$dir/S  # the SDK writes PATH/<sequence>/
    got=$(count_bag "$bagdir")
    if [ "$got" != "$ORIGINAL" ]; then
        echo "$tool's bag differs from the original: $got vs $ORIGINAL" >&2
        exit 1
    fi
    read -r wall user sys maxrss < <(tail -1 "$tf")
    jq -nc --arg run "$run" --arg tool "$tool" --argjson wall "$wall" --argjson user "$user" \
        --argjson sys "$sys" --argjson maxrss "$maxrss" --argjson bytes "$BAG_BYTES" \
        --argjson msgs "$BAG_MSGS" --argjson rows "$got" \
        '{run: ($run|tonumber), tool: $tool, wall_s: $wall, cpu_s: ($user + $sys), max_rss_kb: $maxrss,
          mb_s: ($bytes / 1e6 / $wall), msg_s: ($msgs / $wall), rows: $rows}' >>"$OUT/results.jsonl"
    rm -rf "$dir"
}

host_line >>"$OUT/summary.txt"
for run in $(seq "$RUNS"); do
    start_dev_server "$run"
    "$BIN" --server "127.0.0.1:$PORT" import "$BAG" --sequence S --json >"$OUT/import-$run.json"
    order="ours python"
    [ $((run % 2)) = 0 ] && order="python ours"
    for tool in $order; do run_one "$run" "$tool"; done
    stop_server
done

{
    jq -rs '
      def f(x): (x * 10 | round) / 10;
      (["run", "tool", "wall s", "MB/s", "msg/s", "CPU s", "max RSS MB"] | @tsv),
      (.[] | [.run, .tool, .wall_s, f(.mb_s), (.msg_s | round), f(.cpu_s), (.max_rss_kb / 1024 | round)] | @tsv)
    ' "$OUT/results.jsonl" | column -t -s $'\t'
    echo
    echo "throughput ratio (python wall / ours wall), per run:"
    jq -rs 'def f(x): (x * 100 | round) / 100;
      group_by(.run)[] | (map(select(.tool == "python"))[0]) as $p | (map(select(.tool == "ours"))[0]) as $o
      | "  run \(.[0].run): \(f($p.wall_s / $o.wall_s))x"' "$OUT/results.jsonl"
    echo "messages per topic (both bags, checked equal to the original): $ORIGINAL"
} | tee -a "$OUT/summary.txt"
echo "results in $OUT" >&2
