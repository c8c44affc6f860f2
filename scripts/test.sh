#!/usr/bin/env bash
# The whole test suite, from a fresh clone: sets up the Python peers the tests talk to (the
# official Mosaico SDK, rosbags, cyclonedds) in .venv, builds the Fast DDS peer (peers/fastdds,
# scripts/build_fastdds_peer.sh), then runs every Rust test, including the
# ones marked `#[ignore]` because they need that environment, against the in-process test server;
# then, when the real mosaicod is at ../shared/mosaicod (beside the clone, as on CI), the
# integration tests that can run against an external server, against a real mosaicod started here
# (PostgreSQL included, in a temporary directory; stopped on exit). At the end it prints what was
# skipped: "N checks skipped: ...". Under CI=true a skipped check fails the run.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh --test cli      # extra arguments go to `cargo test`; the real-server pass
#                                   # then runs only the named --test targets it covers
#
# MOSAICO_TEST_SERVER=host:port runs the integration suite against that server instead of the
# in-process test server (see README); MOSAICO_TEST_REAL_SERVER=0 leaves the real-server pass out
# (counted as a skip); MOSAICOD_DIR=DIR takes mosaicod and run.sh from DIR.
# MOSAICO_FUZZ_SMOKE=1 adds a short cargo-fuzz pass of each fuzz target (scripts/fuzz.sh; the
# committed corpus and crash reproducers always run, in tests/fuzz_regressions.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

VENV=${MOSAICO_TEST_VENV:-$PWD/.venv}
REQ=python/requirements-test.txt
if [[ ! -x $VENV/bin/python ]] || ! cmp -s "$REQ" "$VENV/.requirements"; then
  echo "setting up $VENV (Python peers for the tests)..." >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --upgrade pip
  "$VENV/bin/pip" install --quiet -r "$REQ"
  cp "$REQ" "$VENV/.requirements"
fi
export MOSAICO_TEST_PYTHON=$VENV/bin/python

# Every skipped check appends a line here (tests/common/mod.rs: `skip`, `not_on_external`).
SKIPS=$(mktemp "${TMPDIR:-/tmp}/mosaico-test-skips.XXXXXX")
export MOSAICO_TEST_SKIPS=$SKIPS
MOSAICOD_STATE=

skip() { # CHECK: REASON, recorded like the tests' own skips
  printf 'skipped\tscripts/test.sh\t%s\n' "$1" >>"$SKIPS"
  echo "skipped: $1" >&2
}

summary() {
  local rc=$? n lines
  if [[ -n $MOSAICOD_STATE ]]; then
    "$MOSAICOD_DIR/run.sh" stop "$MOSAICOD_STATE" || true
    rm -rf "$MOSAICOD_STATE"
  fi
  echo
  n=$(grep -c '^not-on-external' "$SKIPS" || true)
  if ((n)); then
    echo "$n checks not run against the external server (they ran against the in-process test server):"
    grep '^not-on-external' "$SKIPS" | cut -f2- | sort | sed 's/\t/ — /; s/^/  /'
  fi
  n=$(grep -c '^skipped' "$SKIPS" || true)
  if ((n)); then
    lines=$(grep '^skipped' "$SKIPS" | cut -f2- | sort | sed 's/\t/ — /' | paste -sd ';' | sed 's/;/; /g')
    echo "$n checks skipped: $lines"
    if [[ ${CI:-} == true && $rc -eq 0 ]]; then
      echo "CI=true: a skipped check fails the run" >&2
      rc=1
    fi
  else
    echo "0 checks skipped"
  fi
  rm -f "$SKIPS"
  exit "$rc"
}
trap summary EXIT

# The Fast DDS peer of tests/fastdds_interop.rs (its apt packages are installed when missing).
if peer=$(scripts/build_fastdds_peer.sh); then
  export MOSAICO_FASTDDS_PEER=$peer
else
  skip "the Fast DDS peer: scripts/build_fastdds_peer.sh failed (tests/fastdds_interop.rs skips)"
fi

# Pass 1: everything, against the in-process test server (or MOSAICO_TEST_SERVER when set).
cargo test --all-targets "$@" -- --include-ignored

# Optional: a short cargo-fuzz pass of each target (the corpus and reproducers already ran above,
# in tests/fuzz_regressions.rs). Opt-in: building the instrumented crate takes long.
if [[ ${MOSAICO_FUZZ_SMOKE:-0} == 1 ]]; then
  scripts/fuzz.sh -runs="${MOSAICO_FUZZ_RUNS:-20000}"
fi

# Pass 2: the integration tests that run against an external server, against a real mosaicod.
# Not the DDS ones (each records into its own server inside a network namespace), not
# record_faults (it kills and restarts its server), not sdk_interop (the official SDK needs a
# current-generation server; this mosaicod speaks legacy).
REAL_TESTS=(cancel cli errors export import lifecycle query record record_spool roundtrip)
named=() prev=
for a in "$@"; do
  [[ $prev == --test ]] && named+=("$a")
  [[ $a == --test=* ]] && named+=("${a#--test=}")
  prev=$a
done
if ((${#named[@]})); then
  keep=()
  for t in "${REAL_TESTS[@]}"; do [[ " ${named[*]} " == *" $t "* ]] && keep+=("$t"); done
  REAL_TESTS=("${keep[@]}")
fi
MOSAICOD_DIR=${MOSAICOD_DIR:-$(dirname "$ROOT")/shared/mosaicod}
if [[ -n ${MOSAICO_TEST_SERVER:-} ]]; then
  echo "MOSAICO_TEST_SERVER=$MOSAICO_TEST_SERVER: the suite ran against it; no second pass" >&2
elif ((${#REAL_TESTS[@]} == 0)); then
  echo "no test named here runs against the real server: no second pass" >&2
elif [[ ${MOSAICO_TEST_REAL_SERVER:-1} == 0 ]]; then
  skip "the real-server pass: MOSAICO_TEST_REAL_SERVER=0"
elif [[ ! -x $MOSAICOD_DIR/mosaicod || ! -x $MOSAICOD_DIR/run.sh ]]; then
  skip "the real-server pass: no mosaicod at $MOSAICOD_DIR (CI has one in ../shared/mosaicod)"
elif [[ $(id -u) -ne 0 ]]; then
  skip "the real-server pass: $MOSAICOD_DIR/run.sh needs root (PostgreSQL runs as postgres)"
else
  MOSAICOD_STATE=$(mktemp -d "${TMPDIR:-/tmp}/mosaicod-test.XXXXXX")
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  started=$SECONDS
  addr=$("$MOSAICOD_DIR/run.sh" start "$MOSAICOD_STATE" "$port")
  echo "real mosaicod on $addr (state in $MOSAICOD_STATE, up in $((SECONDS - started)) s)" >&2
  tests=()
  for t in "${REAL_TESTS[@]}"; do tests+=(--test "$t"); done
  started=$SECONDS
  args=() prev=
  for a in "$@"; do # the --test targets are chosen above; every other cargo argument applies
    if [[ $a == --test ]]; then prev=$a; continue; fi
    if [[ $prev == --test || $a == --test=* ]]; then prev=; continue; fi
    args+=("$a"); prev=
  done
  MOSAICO_TEST_SERVER=$addr cargo test "${tests[@]}" ${args[@]+"${args[@]}"} -- --include-ignored ||
    { echo "the real-server pass failed; mosaicod's log: $MOSAICOD_STATE/log/mosaicod.log" >&2
      tail -20 "$MOSAICOD_STATE/log/mosaicod.log" >&2; exit 1; }
  echo "real-server pass: $((SECONDS - started)) s" >&2
fi
