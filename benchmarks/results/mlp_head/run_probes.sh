#!/bin/bash
# The regression probes of this folder, one after another (300 s each): the preset's encoder, with
# coordinate channels, twice as wide, a 3x larger learning rate. Output: probe_*.json and probes.log.
set -euo pipefail
cd "$(dirname "$0")"
run() { tag=$1; shift; echo "== $tag $*"; python regression_probe.py --time-limit "${TL:-300}" --out "probe_$tag.json" "$@"; }
run base
run coord --coord
run w32 --width 32
run lr3e-3 --lr 3e-3
