#!/usr/bin/env bash
# Builds the Fast DDS peer of the interop tests (peers/fastdds) into target/fastdds_peer/, installing
# with apt what it needs when missing (Debian 12: Fast DDS 2.9, fastddsgen, cmake, g++, OpenSSL).
# Prints the binary's path. tests/fastdds_interop.rs runs it from there (or $MOSAICO_FASTDDS_PEER).
#
#   scripts/build_fastdds_peer.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${MOSAICO_FASTDDS_BUILD:-$ROOT/target/fastdds_peer}

need=()
for p in libfastrtps-dev libfastcdr-dev fastddsgen cmake g++ make libssl-dev; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if ((${#need[@]})); then
  command -v apt-get >/dev/null 2>&1 || { echo "missing packages ${need[*]} and no apt-get" >&2; exit 1; }
  SUDO=$([[ $(id -u) -eq 0 ]] || echo sudo)
  echo "installing ${need[*]}..." >&2
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi

cmake -S peers/fastdds -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j "$(nproc)" >&2
echo "$BUILD/fastdds_peer"
