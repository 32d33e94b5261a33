#!/bin/bash
# usage: run.sh TAG SIGMA SEED CONFIGJSON [more reproduce.py options]
# One 600 s reproduce.py quick run of the mnist-quick preset into ${RUNS:-runs}/TAG (RULE=harmonic|com
# picks the rule, TL the budget). The runs of this folder wrote to the session's scratch folder.
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
tag=$1; sigma=$2; seed=$3; cfg=$4; shift 4
python benchmarks/reproduce.py quick --preset mnist-quick --rule "${RULE:-moments}" --time-limit "${TL:-600}" --threads 2 \
    --skip-baselines --scan-mode features --no-resume --no-progress --seed "$seed" --noise "$sigma" --config "$cfg" \
    --out "${RUNS:-runs}/$tag" "$@"
echo "DONE $tag"
