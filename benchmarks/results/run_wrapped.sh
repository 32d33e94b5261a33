#!/bin/bash
# usage: [PLAIN=1] run_wrapped.sh WRAPPER TAG SEED CONFIGJSON [more reproduce.py options]
# One ${TL:-600} s reproduce.py quick run of the mnist-quick preset (rule ${RULE:-moments}) through the experiment
# wrapper WRAPPER (a path from the repository root) into ${RUNS:-runs}/TAG; PLAIN=1 runs the library as it is,
# the baseline beside the variants. The folders' run.sh call this with their own wrapper.
set -euo pipefail
cd "$(dirname "$0")/../.."  # the repository root
wrapper=$1; tag=$2; seed=$3; cfg=$4; shift 4
wrap=("$wrapper")
[ "${PLAIN:-0}" = 1 ] && wrap=()
python "${wrap[@]}" benchmarks/reproduce.py quick --preset mnist-quick --rule "${RULE:-moments}" --time-limit "${TL:-600}" --threads 2 \
    --skip-baselines --scan-mode features --no-resume --no-progress --seed "$seed" --config "$cfg" \
    --out "${RUNS:-runs}/$tag" "$@"
echo "DONE $tag"
