#!/bin/bash
# usage: [MOMENTUM=m QUEUE=n] run.sh TAG SEED CONFIGJSON [more reproduce.py options]
# One 600 s reproduce.py quick run of the mnist-quick preset through moco_wrap.py into ${RUNS:-runs}/TAG
# (PLAIN=1 runs the library as it is, the preset's baseline beside the variants). The runs of this folder
# wrote to the session's scratch folder; results.json and results.md were copied here.
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
tag=$1; seed=$2; cfg=$3; shift 3
wrap=(benchmarks/results/moco_infonce/moco_wrap.py)
[ "${PLAIN:-0}" = 1 ] && wrap=()
python "${wrap[@]}" benchmarks/reproduce.py quick --preset mnist-quick --rule moments --time-limit "${TL:-600}" --threads 2 \
    --skip-baselines --scan-mode features --no-resume --no-progress --seed "$seed" --config "$cfg" \
    --out "${RUNS:-runs}/$tag" "$@"
echo "DONE $tag"
