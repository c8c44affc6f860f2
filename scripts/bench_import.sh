#!/usr/bin/env bash
# Import throughput: `mosaico-bridge import` vs the official Python injector
# (`mosaicolabs.ros_injector`, SDK 0.7.0), importing the same bag into the same in-memory dev
# server (current protocol generation) in the same run.
#
#   scripts/bench_import.sh              # 2 runs; the order of the importers alternates
#   RUNS=4 scripts/bench_import.sh
#   FORMATS="mcap db3 ros1" scripts/bench_import.sh   # the same data as each storage format
#
# FORMATS (default mcap): `mcap` is the bench bag itself; `db3` and `ros1` are that bag converted
# once by rosbags (`rosbags-convert --dst-storage sqlite3`, and to a ROS 1 .bag), kept beside it.
# Both importers are given the same path, the storage file (the injector takes files only). Each
# (run, format) gets a fresh dev server.
#
# The bag (default: 25 s of a robot, ~2.6 GB: 1080p rgb8 Image 10 Hz, Imu 500 Hz, PointCloud2
# 128x2048 10 Hz, NavSatFix 10 Hz, TF 50 Hz, tf_static) is generated once by
# python/make_bench_bag.py into $BENCH_DIR and reused. Each run starts a fresh dev server, reads the
# bag once to warm the page cache, then imports it three times, each under /usr/bin/time (wall,
# user+sys CPU, max RSS of the importer) while sampling the dev server's CPU time:
#   A  ours       mosaico-bridge import BAG --sequence A --json        (images stored raw, the default)
#   B  python     mosaicolabs.ros_injector BAG --name B                (its default: images PNG-encoded,
#                                                                       compress_level 1, in Python)
#   C  ours_png   mosaico-bridge import BAG --sequence C --json --images png   (like for like with B)
# (run 1 in the order A B C, run 2 in C B A, ...), counts the rows per topic of each sequence with
# `mosaico-bridge info`, and stops the server. TOOLS="ours python" leaves C out.
# MB/s = storage file bytes / 1e6 / wall seconds; msg/s = messages in the bag / wall seconds. The
# importers' max RSS counts file-backed pages: `mosaico-bridge import` mmaps the bag, so its figure
# includes the bag's page cache (its anonymous memory is ~0.35 GB). "stored MB" = the sequence's
# bytes on the server (PNG images are smaller than raw ones).
#
# Env: RUNS (2), TOOLS ("ours python ours_png"), BENCH_DIR (/tmp/mosaico-bench), BAG_DURATION (25,
# seconds of robot), BAG (use this .mcap instead), PORT (6790), BIN (target/release/mosaico-bridge,
# built unless SKIP_BUILD=1), VENV (.venv: rosbags and mosaicolabs installed). Results:
# $BENCH_DIR/import-<stamp>/ (per-run logs, results.jsonl, summary.txt). Needs GNU time and jq.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

RUNS=${RUNS:-2}
FORMATS=${FORMATS:-mcap}
TOOLS=${TOOLS:-ours python ours_png}
BENCH_DIR=${BENCH_DIR:-/tmp/mosaico-bench}
BAG_DURATION=${BAG_DURATION:-25}
PORT=${PORT:-6790}
VENV=${VENV:-$ROOT/.venv}
PY=$VENV/bin/python
INJECTOR=$VENV/bin/mosaicolabs.ros_injector
BIN=${BIN:-$ROOT/target/release/mosaico-bridge}
[ -x "$INJECTOR" ] || { echo "no $INJECTOR (pip install mosaicolabs into $VENV)" >&2; exit 2; }
source scripts/bench_common.sh
build_release
OUT=$(new_out import)
ensure_bag
MCAP_BAG=$BAG
echo "bag $BAG: $BAG_BYTES bytes, $BAG_MSGS messages" | tee "$OUT/summary.txt"

# bag_for FORMAT: sets BAG (what both importers are given), BAG_FILE (its storage file) and
# BAG_BYTES; converts the bench bag with rosbags the first time.
bag_for() {
    local dir=${MCAP_BAG%/*}
    case $1 in
        mcap) BAG=$MCAP_BAG; BAG_FILE=$MCAP_BAG ;;
        db3)
            local out=${dir}_db3
            if [ ! -f "$out/metadata.yaml" ]; then  # written last, when the conversion is complete
                echo "converting to sqlite3: $out ..." >&2
                rm -rf "$out"
                "$VENV/bin/rosbags-convert" --src "$dir" --dst "$out" --dst-storage sqlite3 >&2
            fi
            BAG=$(ls "$out"/*.db3); BAG_FILE=$BAG ;;
        ros1)
            BAG=$dir.bag
            if [ ! -f "$BAG" ]; then
                echo "converting to ROS 1: $BAG ..." >&2
                rm -f "$BAG.tmp.bag"
                "$VENV/bin/rosbags-convert" --src "$dir" --dst "$BAG.tmp.bag" >&2
                mv "$BAG.tmp.bag" "$BAG"
            fi
            BAG_FILE=$BAG ;;
        *) echo "unknown format $1 (mcap, db3, ros1)" >&2; exit 2 ;;
    esac
    BAG_BYTES=$(stat -c %s "$BAG_FILE")
}
for format in $FORMATS; do
    bag_for "$format"
    echo "format $format: $BAG_FILE, $BAG_BYTES bytes" | tee -a "$OUT/summary.txt"
done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime + stime, clock ticks
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
HZ=$(getconf CLK_TCK)

# run_one RUN TOOL SEQ FORMAT: one import of $BAG under /usr/bin/time; appends a JSON line to
# results.jsonl
run_one() {
    local run=$1 tool=$2 seq=$3 format=$4 tf="$OUT/time-$1-$4-$2.txt" log="$OUT/$2-$4-$1.log" s0 s1 rc=0
    local cmd
    case $tool in
        ours) cmd=("$BIN" --server "127.0.0.1:$PORT" import "$BAG" --sequence "$seq" --json) ;;
        ours_png) cmd=("$BIN" --server "127.0.0.1:$PORT" import "$BAG" --sequence "$seq" --json --images png) ;;
        python) cmd=("$INJECTOR" "$BAG" --name "$seq" --host 127.0.0.1 --port "$PORT") ;;
        *) echo "unknown tool $tool" >&2; exit 2 ;;
    esac
    echo "run $run, $format: $tool -> $seq  (load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    s0=$(cpu_ticks "$SERVER")
    /usr/bin/time -f '%e %U %S %M' -o "$tf" "${cmd[@]}" >"$log.out" 2>"$log" || rc=$?
    s1=$(cpu_ticks "$SERVER")
    if [ "$rc" != 0 ]; then
        echo "$tool import failed (exit $rc); see $log" >&2
        tail -20 "$log" >&2
        exit 1
    fi
    "$BIN" --server "127.0.0.1:$PORT" info "$seq" --json >"$OUT/info-$run-$format-$tool.json"
    read -r wall user sys maxrss < <(tail -1 "$tf")
    jq -c --arg run "$run" --arg tool "$tool" --arg seq "$seq" --arg format "$format" \
        --argjson wall "$wall" --argjson user "$user" --argjson sys "$sys" --argjson maxrss "$maxrss" \
        --argjson srv "$(awk -v a="$s0" -v b="$s1" -v hz="$HZ" 'BEGIN {print (b - a) / hz}')" --argjson srv_rss "$(rss_kb "$SERVER")" \
        --argjson bytes "$BAG_BYTES" --argjson msgs "$BAG_MSGS" \
        '{run: ($run|tonumber), format: $format, tool: $tool, seq: $seq, wall_s: $wall, cpu_user_s: $user, cpu_sys_s: $sys,
          max_rss_kb: $maxrss, server_cpu_s: $srv, server_rss_kb_after: $srv_rss,
          mb_s: ($bytes / 1e6 / $wall), msg_s: ($msgs / $wall),
          stored_bytes: ([.topic_details[].total_size_bytes // 0] | add),
          rows: ([.topic_details[] | {key: .topic, value: .row_count}] | from_entries)}' \
        "$OUT/info-$run-$format-$tool.json" >>"$OUT/results.jsonl"
}

# --- the runs ------------------------------------------------------------------------------
host_line >>"$OUT/summary.txt"
for run in $(seq "$RUNS"); do
    for format in $FORMATS; do
        bag_for "$format"
        start_dev_server "$run-$format"
        cat "$BAG_FILE" >/dev/null  # the bag in the page cache for both importers
        order=$TOOLS
        [ $((run % 2)) = 0 ] && order=$(echo "$TOOLS" | tr ' ' '\n' | tac | tr '\n' ' ')
        for tool in $order; do
            case $tool in ours) seq=A ;; python) seq=B ;; ours_png) seq=C ;; esac
            run_one "$run" "$tool" "$seq" "$format"
        done
        stop_server
    done
done

# --- summary -------------------------------------------------------------------------------
{
    jq -rs '
      def f(x): (x * 10 | round) / 10;
      (["run", "format", "tool", "wall s", "MB/s", "msg/s", "user+sys s", "CPU %", "max RSS MB", "server CPU s", "stored MB"] | @tsv),
      (.[] | [.run, .format, .tool, .wall_s, f(.mb_s), (.msg_s | round), f(.cpu_user_s + .cpu_sys_s),
              ((.cpu_user_s + .cpu_sys_s) / .wall_s * 100 | round), (.max_rss_kb / 1024 | round), .server_cpu_s, (.stored_bytes / 1e6 | round)] | @tsv)
    ' "$OUT/results.jsonl" | column -t -s $'\t'
    echo
    echo "throughput ratio vs python (python wall / wall), per run and format:"
    jq -rs 'def f(x): (x * 100 | round) / 100;
      group_by([.run, .format])[] | (map(select(.tool == "python"))[0]) as $p
      | "  run \(.[0].run) \(.[0].format): " + (map(select(.tool != "python") | "\(.tool) \(if $p then "\(f($p.wall_s / .wall_s))x" else "-" end)") | join(", "))' \
      "$OUT/results.jsonl"
    echo
    echo "rows per topic, last run of each format and tool:"
    jq -rs 'group_by([.format, .tool]) | map(last) as $l | ($l | map(.rows) | add | keys) as $topics
      | (["  topic"] + ($l | map("\(.format) \(.seq) (\(.tool))"))),
        ($topics[] as $t | ["  " + $t] + ($l | map(.rows[$t] // "-" | tostring)))
      | @tsv' "$OUT/results.jsonl" | column -t -s $'\t'
} | tee -a "$OUT/summary.txt"
[ -f "${BAG%/*}.json" ] && echo "bag topics: $(jq -c .topics "${BAG%/*}.json")" | tee -a "$OUT/summary.txt"
echo "results in $OUT" >&2
