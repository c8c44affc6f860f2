#!/usr/bin/env bash
# The whole test suite, from a fresh clone: sets up the Python peers the tests talk to (the
# official Mosaico SDK, rosbags, cyclonedds) in .venv, then runs every Rust test, including the
# ones marked `#[ignore]` because they need that environment.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh --test cli      # extra arguments go to `cargo test`
#
# MOSAICO_TEST_SERVER=host:port runs the integration suite against that server instead of the
# in-process test server (see README).
set -euo pipefail
cd "$(dirname "$0")/.."

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

cargo test --all-targets "$@" -- --include-ignored
