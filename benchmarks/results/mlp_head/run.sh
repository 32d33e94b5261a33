#!/bin/bash
# usage: [PLAIN=1] run.sh TAG SEED CONFIGJSON [more reproduce.py options]
# One 600 s reproduce.py quick run of the mnist-quick preset with the paper's "mlp" pose head through
# vector_wrap.py (PLAIN=1: the library as it is) into ${RUNS:-runs}/TAG. The runs wrote to the session's
# scratch folder; results.json and results.md were copied here.
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
tag=$1; seed=$2; cfg=$3; shift 3
wrap=(benchmarks/results/mlp_head/vector_wrap.py)
[ "${PLAIN:-0}" = 1 ] && wrap=()
python "${wrap[@]}" benchmarks/reproduce.py quick --preset mnist-quick --rule moments --time-limit "${TL:-600}" --threads 2 \
    --skip-baselines --scan-mode features --no-resume --no-progress --seed "$seed" --config "$cfg" \
    --out "${RUNS:-runs}/$tag" "$@"
echo "DONE $tag"
