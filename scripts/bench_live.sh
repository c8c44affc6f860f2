#!/usr/bin/env bash
# Live recorder benchmark: `mosaico-bridge record` (pure-Rust DDS backend) recording a robot's
# sensor load published over DDS by the independent Cyclone DDS peer python/ros_peer.py into the
# in-memory dev server, all inside a loopback-only network namespace (root; nothing leaves the host).
#
#   scripts/bench_live.sh                          # 60 s, the peer stock, then the peer tuned
#   DURATION=30 VARIANTS=stock scripts/bench_live.sh
#
# Load (ros_peer.py defaults): /camera/image_raw 1920x1080 rgb8 30 Hz, /imu 1 kHz, /points
# 128x2048 x,y,z,intensity 10 Hz, /gps 10 Hz, /tf 50 Hz, /tf_static once. Variants:
#   stock   the peer as a stock rmw_cyclonedds node (MaxMessageSize 14720B, FragmentSize 1344B)
#   tuned   the peer with --max-message-size 65500B --fragment-size 64000B (~100 fragments per
#           image instead of ~4600)
# Per variant, in a fresh namespace: net.core.rmem_max raised inside it (RMEM, reported whether it
# took), the dev server, the recorder (`record --sequence bench --json --spool DIR`, shipped
# config/record.yaml, RUST_LOG=info, under /usr/bin/time -v), then the peer (`--duration DURATION
# --wait-subscribers 1`). When the peer exits: 2 s, then the recorder's CPU (utime+stime from
# /proc/PID/stat) and peak RSS (VmHWM) are sampled and it gets SIGTERM; it must exit 0 and its stop
# time is measured. Reported per topic: published (peer manifest), received (recorder), DDS loss =
# published - received, written, dropped inside the bridge (queue policy), lost, malformed; plus the
# recorder's CPU % of one core over [peer start, SIGTERM] and its peak RSS; per topic the latency
# from receive to sent (batch handed to its DoPut stream) and to committed (its part finalized on
# the server), p50/p99/max, from the recorder's report (RECORD_CONFIG with a short
# split.max_duration_s shows committed latency with short parts); and, to explain losses,
# the namespace's UDP counters (RcvbufErrors = datagrams dropped by full socket receive buffers) and
# the recorder's busiest threads. Side by side with the bridge, a native DDS reader receives the same
# stream in the same run (NATIVE: the Fast DDS peer, built by scripts/build_fastdds_peer.sh; best
# effort, the same 64 MiB SO_RCVBUF request, counting only): column "native reader".
#
# The dev server keeps everything in memory (60 s of this load is ~14 GB). A watchdog stops the
# peer early (SIGTERM; the manifest is still written) if MemAvailable falls below MEM_FLOOR_MB;
# the summary says so.
#
# Env: DURATION (60), VARIANTS ("stock tuned"), RMEM (67108864), PORT (6791), MEM_FLOOR_MB (1500),
# BIN (target/release/mosaico-bridge, built unless SKIP_BUILD=1), RECORD_CONFIG (a record.yaml
# instead of the shipped one), PEER_EXTRA (more ros_peer.py flags), BENCH_DIR (/tmp/mosaico-bench),
# NATIVE (the native reader's binary; NATIVE= leaves it out: the publisher then sends one copy).
# Results: $BENCH_DIR/live-<stamp>/<variant>/ (logs, manifest, recorder report) and summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install -y time" >&2; exit 2; }
DURATION=${DURATION:-60}
VARIANTS=${VARIANTS:-stock tuned}
RMEM=${RMEM:-67108864}
PORT=${PORT:-6791}
MEM_FLOOR_MB=${MEM_FLOOR_MB:-1500}
BENCH_DIR=${BENCH_DIR:-/tmp/mosaico-bench}
PY=${PY:-$ROOT/.venv/bin/python}
BIN=${BIN:-$ROOT/target/release/mosaico-bridge}
NATIVE=${NATIVE:-$ROOT/target/fastdds_peer/fastdds_peer}
if [ -z "${SKIP_BUILD:-}" ] && [ "$BIN" = "$ROOT/target/release/mosaico-bridge" ]; then
    cargo build --quiet --release --bin mosaico-bridge
fi
OUT=$BENCH_DIR/live-$(date +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
HZ=$(getconf CLK_TCK)

NS=
SERVER= RECTIME= PEERTIME= WATCHDOG=
kill_tree() {  # kill_tree PID: the process and its direct children (ip netns exec + time wrappers)
    local p=$1 c
    [ -n "$p" ] || return 0
    for c in $(pgrep -P "$p" 2>/dev/null); do kill "$c" 2>/dev/null || true; done
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}
cleanup() {
    kill_tree "$WATCHDOG"; kill_tree "$PEERTIME"; kill_tree "$RECTIME"; kill_tree "$SERVER"
    WATCHDOG= PEERTIME= RECTIME= SERVER=
    if [ -n "$NS" ]; then ip netns del "$NS" 2>/dev/null || true; NS=; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
now() { date +%s.%N; }
mem_avail_mb() { awk '/^MemAvailable/ {print int($2 / 1024)}' /proc/meminfo; }
child_of() {  # the process that PARENT exec'd into / forked (GNU time forks the measured command)
    local c
    for _ in $(seq 100); do
        c=$(pgrep -P "$1" | head -1) && [ -n "$c" ] && { echo "$c"; return 0; }
        sleep 0.05
    done
    return 1
}

run_variant() {
    local v=$1 dir=$OUT/$1 peer_flags=()
    mkdir -p "$dir"
    [ "$v" = tuned ] && peer_flags=(--max-message-size 65500B --fragment-size 64000B)
    # shellcheck disable=SC2206
    peer_flags+=(${PEER_EXTRA:-})

    NS=mbench$$$v
    ip netns add "$NS"
    ip netns exec "$NS" ip link set lo up
    ip netns exec "$NS" ip link set lo multicast on
    ip netns exec "$NS" ip route add 224.0.0.0/4 dev lo
    local ifs; ifs=$(ip netns exec "$NS" ls /sys/class/net | tr '\n' ' ')
    [ "$ifs" = "lo " ] || { echo "namespace $NS has interfaces other than lo: $ifs" >&2; exit 1; }
    local host_rmem ns_rmem rmem_note
    host_rmem=$(sysctl -n net.core.rmem_max)
    if ip netns exec "$NS" sysctl -qw "net.core.rmem_max=$RMEM" 2>"$dir/sysctl.err"; then :; fi
    ns_rmem=$(ip netns exec "$NS" sysctl -n net.core.rmem_max)
    if [ "$ns_rmem" = "$RMEM" ] && [ "$(sysctl -n net.core.rmem_max)" = "$host_rmem" ]; then
        rmem_note="took: rmem_max $ns_rmem in the namespace (host unchanged: $host_rmem)"
    else
        rmem_note="did not take: rmem_max in the namespace $ns_rmem, host $(sysctl -n net.core.rmem_max) ($(cat "$dir/sysctl.err"))"
    fi

    {
        echo "== $v: $(date -Is)"
        echo "rmem: $rmem_note"
        echo "peer flags: --duration $DURATION --wait-subscribers 1 ${peer_flags[*]}"
        echo "before: $(uptime)"
        free -m | sed -n 1,2p
        top -bn1 | sed -n '7,15p'
    } >"$dir/env.txt"

    ip netns exec "$NS" "$BIN" dev-server --listen "127.0.0.1:$PORT" >"$dir/server.log" 2>&1 &
    SERVER=$!
    local up=
    for _ in $(seq 100); do
        ip netns exec "$NS" bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null && { up=1; break; }
        sleep 0.1
    done
    [ -n "$up" ] || { echo "dev server did not start (see $dir/server.log)" >&2; exit 1; }

    local rec_cfg=()
    [ -n "${RECORD_CONFIG:-}" ] && rec_cfg=(--config "$RECORD_CONFIG")
    RUST_LOG=${RUST_LOG:-info} ip netns exec "$NS" /usr/bin/time -v -o "$dir/recorder.time" \
        "$BIN" --server "127.0.0.1:$PORT" record "${rec_cfg[@]}" --sequence bench --json --spool "$dir/spool" \
        >"$dir/recorder.json" 2>"$dir/recorder.log" &
    RECTIME=$!
    local rec; rec=$(child_of "$RECTIME")
    sleep 2  # the recorder's participant up before the peer starts

    # memory watchdog: samples every second; stops the peer if MemAvailable < MEM_FLOOR_MB
    (
        while sleep 1; do
            m=$(mem_avail_mb)
            echo "$(date +%T) avail_mb=$m server_rss_mb=$(( $(status_kb "$SERVER" VmRSS 2>/dev/null || echo 0) / 1024 )) recorder_rss_mb=$(( $(status_kb "$rec" VmRSS 2>/dev/null || echo 0) / 1024 ))"
            if [ "$m" -lt "$MEM_FLOOR_MB" ]; then
                echo "MEMORY FLOOR: MemAvailable ${m} MB < $MEM_FLOOR_MB MB, stopping the peer"
                [ -f "$dir/peer.pid" ] && kill -TERM "$(cat "$dir/peer.pid")" 2>/dev/null
                touch "$dir/memory_floor_hit"
                break
            fi
        done
    ) >"$dir/memory.log" 2>&1 &
    WATCHDOG=$!

    # A native reader of the same stream, side by side with the bridge: the Fast DDS peer
    # (best effort like the bridge's camera/LIDAR readers, the same SO_RCVBUF request, no hashing).
    local native=
    if [ -x "$NATIVE" ]; then
        ip netns exec "$NS" "$NATIVE" subscribe --transport udp --count-only --rcvbuf 67108864 \
            --topic /camera/image_raw=sensor_msgs/msg/Image,best_effort \
            --topic /points=sensor_msgs/msg/PointCloud2,best_effort \
            --topic /imu=sensor_msgs/msg/Imu,best_effort \
            --duration $((DURATION + 60)) --idle-exit 3 >"$dir/native.json" 2>"$dir/native.log" &
        native=$!
        sleep 1
    fi

    local t_peer c_peer
    t_peer=$(now); c_peer=$(cpu_ticks "$rec")
    ip netns exec "$NS" /usr/bin/time -v -o "$dir/peer.time" "$PY" python/ros_peer.py \
        --duration "$DURATION" --wait-subscribers 1 --manifest "$dir/manifest.json" --manifest-keys none \
        "${peer_flags[@]}" >"$dir/peer.out" 2>"$dir/peer.log" &
    PEERTIME=$!
    child_of "$PEERTIME" >"$dir/peer.pid"
    local peer_rc=0
    wait "$PEERTIME" || peer_rc=$?
    PEERTIME=
    kill_tree "$WATCHDOG"; WATCHDOG=
    sleep 2
    [ -n "$native" ] && { wait "$native" || true; }

    local t_term c_term hwm srv_cpu srv_rss rec_rc=0 t_exit
    c_term=$(cpu_ticks "$rec"); hwm=$(status_kb "$rec" VmHWM)
    srv_cpu=$(cpu_ticks "$SERVER"); srv_rss=$(status_kb "$SERVER" VmRSS)
    # diagnostics: the recorder's busiest threads, the namespace's UDP counters (receive-buffer
    # overflows are DDS loss at the socket)
    for t in /proc/"$rec"/task/*; do
        echo "$(awk '{print $14 + $15}' "$t/stat") $(cat "$t/comm")"
    done 2>/dev/null | sort -rn | head -8 >"$dir/recorder-threads.txt"
    ip netns exec "$NS" cat /proc/net/snmp | grep '^Udp:' >"$dir/udp-snmp.txt"
    t_term=$(now)
    kill -TERM "$rec"
    wait "$RECTIME" || rec_rc=$?
    t_exit=$(now)
    RECTIME=
    kill_tree "$SERVER"; SERVER=
    ip netns del "$NS"; NS=

    jq -n --arg v "$v" --arg rmem "$rmem_note" --arg peer_flags "${peer_flags[*]}" --arg rec_cfg "${RECORD_CONFIG:-shipped config/record.yaml}" --argjson peer_rc "$peer_rc" --argjson rec_rc "$rec_rc" \
        --argjson cpu_s "$(awk -v a="$c_peer" -v b="$c_term" -v hz="$HZ" 'BEGIN {print (b - a) / hz}')" \
        --argjson window_s "$(awk -v a="$t_peer" -v b="$t_term" 'BEGIN {print b - a}')" \
        --argjson stop_s "$(awk -v a="$t_term" -v b="$t_exit" 'BEGIN {print b - a}')" \
        --argjson hwm_kb "$hwm" --argjson srv_cpu_s "$(awk -v a="$srv_cpu" -v hz="$HZ" 'BEGIN {print a / hz}')" \
        --argjson srv_rss_kb "$srv_rss" --argjson floor "$([ -f "$dir/memory_floor_hit" ] && echo true || echo false)" \
        '{variant: $v, rmem: $rmem, peer_flags: $peer_flags, recorder_config: $rec_cfg, peer_exit: $peer_rc, recorder_exit: $rec_rc, recorder_cpu_s: $cpu_s,
          window_s: $window_s, stop_s: $stop_s, recorder_vmhwm_kb: $hwm_kb, server_cpu_s: $srv_cpu_s,
          server_rss_kb: $srv_rss_kb, memory_floor_hit: $floor}' >"$dir/measure.json"
    echo "$v: peer exit $peer_rc, recorder exit $rec_rc" >&2
}

for v in $VARIANTS; do
    run_variant "$v"
done

# --- summary -------------------------------------------------------------------------------
HZ=$HZ "$PY" - "$OUT" $VARIANTS <<'EOF' | tee "$OUT/summary.txt"
import json, sys, re
out, variants = sys.argv[1], sys.argv[2:]
for v in variants:
    d = f"{out}/{v}"
    m = json.load(open(f"{d}/measure.json"))
    man = json.load(open(f"{d}/manifest.json"))
    try:
        rep = json.load(open(f"{d}/recorder.json"))
    except Exception as e:
        rep = {"sessions": []}
        print(f"(no recorder report: {e})")
    rec = {}
    for s in rep.get("sessions", []):
        for t in s["topics"]:
            r = rec.setdefault(t["topic"], dict.fromkeys(("received", "written", "dropped", "lost", "malformed"), 0))
            for k in r:
                r[k] += t[k]
    tm = open(f"{d}/recorder.time").read()
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", tm).group(1)
    maxrss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", tm).group(1))
    ptm = open(f"{d}/peer.time").read()
    p_cpu = sum(float(x) for x in re.findall(r"(?:User|System) time \(seconds\): (\S+)", ptm))
    print(f"\n== {v}: peer flags {m['peer_flags'] or '(none: stock Cyclone settings)'}, duration {man['run_s']:.0f} s")
    print(f"recorder config: {m['recorder_config']}")
    print(f"rmem: {m['rmem']}")
    print(f"peer: run {man['run_s']:.1f} s, interrupted={man['interrupted']}, waited {man['wait']['waited_s']:.1f} s for subscribers, CPU {p_cpu:.1f} s"
          + ("   ** memory floor hit: the peer was stopped early **" if m["memory_floor_hit"] else ""))
    native = {}
    try:
        for line in open(f"{d}/native.json"):
            if line.startswith('{"summary"'):
                native = {k: v["received"] for k, v in json.loads(line)["summary"].items()}
    except OSError:
        pass
    hdr = ("topic", "published", "received", "DDS loss", "loss %", "native reader", "written", "dropped", "lost", "malformed", "peer Hz", "peer late")
    rows = []
    tot = dict.fromkeys(("published", "received", "written", "dropped", "lost", "malformed"), 0)
    for topic, t in man["topics"].items():
        r = rec.get(topic, dict.fromkeys(("received", "written", "dropped", "lost", "malformed"), 0))
        pub = t["published"]
        loss = pub - r["received"]
        rows.append((topic, pub, r["received"], loss, f"{100 * loss / pub:.2f}" if pub else "-", native.get(topic, "-"),
                     r["written"], r["dropped"], r["lost"], r["malformed"], t["timing"].get("achieved_hz") or "-", t["timing"].get("late", "-")))
        tot["published"] += pub
        for k in r:
            tot[k] += r[k]
    for topic in sorted(set(rec) - set(man["topics"])):
        r = rec[topic]
        rows.append((topic, "-", r["received"], "-", "-", "-", r["written"], r["dropped"], r["lost"], r["malformed"], "-", "-"))
    w = [max(len(str(x)) for x in col) for col in zip(hdr, *rows)]
    for row in (hdr, *rows):
        print("  ".join(str(x).rjust(n) if i else str(x).ljust(n) for i, (x, n) in enumerate(zip(row, w))))
    print(f"recorder: exit {m['recorder_exit']}, CPU {m['recorder_cpu_s']:.1f} s over {m['window_s']:.1f} s "
          f"= {100 * m['recorder_cpu_s'] / m['window_s']:.0f} % of one core; peak RSS (VmHWM) {m['recorder_vmhwm_kb'] / 1024:.0f} MB "
          f"(/usr/bin/time max RSS {maxrss / 1024:.0f} MB, wall {wall}); stop after SIGTERM {m['stop_s']:.2f} s")
    lat = [(t["topic"], t.get("latency") or {}) for s in rep.get("sessions", []) for t in s["topics"]]
    for topic, l in lat:
        cell = lambda k: (f"p50 {l[k]['p50_ms']:.0f} ms, p99 {l[k]['p99_ms']:.0f} ms, max {l[k]['max_ms']:.0f} ms"
                          if l.get(k) else "-")
        print(f"latency {topic}: received→sent {cell('received_to_sent')}; received→committed {cell('received_to_committed')}")
    print(f"dev server: CPU {m['server_cpu_s']:.1f} s, RSS {m['server_rss_kb'] / 1024 / 1024:.1f} GB at the end")
    udp = open(f"{d}/udp-snmp.txt").read().splitlines()
    if len(udp) == 2:
        u = dict(zip(udp[0].split()[1:], map(int, udp[1].split()[1:])))
        print(f"UDP in the namespace: InDatagrams {u['InDatagrams']}, RcvbufErrors {u['RcvbufErrors']}, "
              f"InErrors {u['InErrors']}, SndbufErrors {u['SndbufErrors']}")
    hz = int(__import__("os").environ["HZ"])
    threads = [l.split(maxsplit=1) for l in open(f"{d}/recorder-threads.txt").read().splitlines()]
    print("recorder's busiest threads (CPU s): " + ", ".join(f"{n.strip()} {int(c) / hz:.1f}" for c, n in threads))
EOF
echo "results in $OUT" >&2
