#!/bin/sh
# Creates a Python venv with the official SDK and rosbags, for scripts/gen_cdr_fixtures.py,
# scripts/check_sdk_reads_typed.py and the tests that use them:
#   scripts/sdk_venv.sh /tmp/sdkvenv && export MOSAICO_SDK_PYTHON=/tmp/sdkvenv/bin/python
set -eu
VENV=${1:-/tmp/sdkvenv}
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet 'mosaicolabs==0.7.0' 'rosbags>=0.10'
echo "MOSAICO_SDK_PYTHON=$VENV/bin/python"
