#!/usr/bin/env bash
# Runs each fuzz target (fuzz/fuzz_targets, cargo fuzz + libFuzzer) for a fixed number of
# executions, seeded from the committed corpus fuzz/corpus/<target>/. New inputs go to a work
# directory (not the repository); a crash stops the run and leaves its reproducer in
# fuzz/artifacts/<target>/ — fix the bug, copy the file to fuzz/regressions/<target>/ so
# tests/fuzz_regressions.rs replays it on stable Rust, and commit both.
#
#   scripts/fuzz.sh                    # every target, 20000 runs each (the CI smoke pass)
#   scripts/fuzz.sh -runs=10000000 cdr # one target, a long campaign
#   scripts/fuzz.sh --seed             # rewrite the seed corpus first (examples/fuzz_seeds.rs,
#                                      # python/make_bag.py)
#   scripts/fuzz.sh --merge            # after the runs, minimize each work corpus back into
#                                      # fuzz/corpus/<target> (libFuzzer -merge=1)
#
# cargo fuzz needs nightly features: with the stable toolchain it runs with RUSTC_BOOTSTRAP=1.
# It is installed (`cargo install cargo-fuzz`) when missing. The fuzz crate builds with sanitizer
# flags into its own target directory (FUZZ_TARGET_DIR, default target/fuzz), never the main one.
# Runs under `nice -n 19` (FUZZ_NICE) so a shared machine stays usable. Prints one line per target:
# "fuzz <target>: N runs, T s, 0 crashes".
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=20000 SEED=0 MERGE=0 targets=()
for a in "$@"; do
  case $a in
    -runs=*) RUNS=${a#-runs=} ;;
    --seed) SEED=1 ;;
    --merge) MERGE=1 ;;
    -*) echo "unknown option $a" >&2; exit 2 ;;
    *) targets+=("$a") ;;
  esac
done
ALL=(cdr mcap config server_reply do_get)
((${#targets[@]})) || targets=("${ALL[@]}")
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR=${FUZZ_TARGET_DIR:-$ROOT/target/fuzz}
WORK=${FUZZ_WORK_DIR:-$CARGO_TARGET_DIR/corpus}
NICE=(nice -n "${FUZZ_NICE:-19}")

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz (cargo install cargo-fuzz)..." >&2
  "${NICE[@]}" cargo install --locked cargo-fuzz >&2
fi
if ((SEED)); then
  tmp=$(mktemp -d)
  CARGO_TARGET_DIR=${MAIN_TARGET_DIR:-$ROOT/target} cargo run --quiet --example fuzz_seeds -- "$tmp"
  for t in "${ALL[@]}"; do
    [[ -d $tmp/$t ]] || continue
    mkdir -p "fuzz/corpus/$t"
    cp "$tmp/$t"/* "fuzz/corpus/$t/"
  done
  py=${MOSAICO_TEST_PYTHON:-$ROOT/.venv/bin/python}
  if [[ -x $py ]]; then # a bag written by rosbags, an independent writer
    "$py" python/make_bag.py "$tmp/bag" && cp "$tmp"/bag/*.mcap fuzz/corpus/mcap/rosbags.mcap
  fi
  rm -rf "$tmp"
fi
"${NICE[@]}" cargo fuzz build --fuzz-dir fuzz >&2
for t in "${targets[@]}"; do
  mkdir -p "$WORK/$t" "fuzz/corpus/$t" "fuzz/artifacts/$t"
  started=$SECONDS
  log=$CARGO_TARGET_DIR/fuzz-$t.log
  # -rss_limit_mb / -max_len bound one input; -timeout makes a hang a crash.
  if ! "${NICE[@]}" cargo fuzz run --fuzz-dir fuzz "$t" "$WORK/$t" "fuzz/corpus/$t" -- \
      -runs="$RUNS" -max_len=1048576 -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="$ROOT/fuzz/artifacts/$t/" >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "fuzz $t: CRASH after $((SECONDS - started)) s (reproducer in fuzz/artifacts/$t/, log $log)" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  echo "fuzz $t: $runs runs, $((SECONDS - started)) s, 0 crashes"
  if ((MERGE)); then
    # Candidates: the committed corpus and the work corpus's inputs of at most
    # FUZZ_MERGE_MAX_BYTES (default 12 KiB), so the committed corpus stays small.
    m=$(mktemp -d) cand=$(mktemp -d)
    find "$WORK/$t" -type f -size -"${FUZZ_MERGE_MAX_BYTES:-12288}"c -exec cp -t "$cand" {} +
    "${NICE[@]}" cargo fuzz run --fuzz-dir fuzz "$t" "$m" "fuzz/corpus/$t" "$cand" -- -merge=1 \
      -max_len=1048576 >>"$log" 2>&1
    rm -rf "fuzz/corpus/$t" "$cand" && mv "$m" "fuzz/corpus/$t"
    echo "fuzz $t: corpus merged into fuzz/corpus/$t ($(ls "fuzz/corpus/$t" | wc -l) files)"
  fi
done
