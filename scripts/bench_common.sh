# Sourced by the bench scripts that run the in-memory dev server against the bench bag.
# Expects ROOT, BIN, PY, PORT, BENCH_DIR, BAG_DURATION (and optionally BAG, SKIP_BUILD) to be set.

[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install -y time" >&2; exit 2; }
command -v jq >/dev/null || { echo "needs jq: apt-get install -y jq" >&2; exit 2; }

build_release() {
    if [ -z "${SKIP_BUILD:-}" ] && [ "$BIN" = "$ROOT/target/release/mosaico-bridge" ]; then
        cargo build --quiet --release --bin mosaico-bridge
    fi
}

new_out() { # KIND -> a fresh results directory
    local out=$BENCH_DIR/$1-$(date +%Y%m%d-%H%M%S)
    mkdir -p "$out"
    echo "$out"
}

# Sets BAG (the .mcap), BAG_BYTES and BAG_MSGS; generates the bench bag once per duration.
ensure_bag() {
    mkdir -p "$BENCH_DIR"
    if [ -z "${BAG:-}" ]; then
        local dir=$BENCH_DIR/bag_${BAG_DURATION}s
        if [ ! -f "$dir.json" ]; then
            rm -rf "$dir"
            echo "generating $dir ..." >&2
            "$PY" python/make_bench_bag.py "$dir" --duration "$BAG_DURATION" >"$dir.json.tmp"
            mv "$dir.json.tmp" "$dir.json"
        fi
        BAG=$(ls "$dir"/*.mcap)
    fi
    BAG_BYTES=$(stat -c %s "$BAG")
    BAG_MSGS=$("$PY" -c '
import sys
from rosbags.highlevel import AnyReader
from pathlib import Path
with AnyReader([Path(sys.argv[1]).parent]) as r:
    print(sum(c.msgcount for c in r.connections))' "$BAG")
}

SERVER=
stop_server() {
    if [ -n "$SERVER" ]; then
        kill "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
        SERVER=
    fi
}
trap stop_server EXIT
trap 'exit 130' INT TERM

start_dev_server() { # RUN: a fresh dev server on PORT, its log in $OUT/server-RUN.log
    "$BIN" dev-server --listen "127.0.0.1:$PORT" >"$OUT/server-$1.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0
        kill -0 "$SERVER" 2>/dev/null || break
        sleep 0.1
    done
    echo "dev server did not start (see $OUT/server-$1.log)" >&2
    exit 1
}

host_line() {
    echo "host: $(nproc) cores, $(free -g | awk '/^Mem/ {print $2}') GB; binary $BIN"
    echo "before: $(uptime)"
    top -bn1 | sed -n '7,14p'
}
