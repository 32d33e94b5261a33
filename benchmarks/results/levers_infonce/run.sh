#!/bin/bash
# usage: run.sh TAG SIGMA SEED CONFIGJSON [extra reproduce args]
. /work/venv/bin/activate
cd /work/main
tag=$1; sigma=$2; seed=$3; cfg=$4; shift 4
python benchmarks/reproduce.py quick --preset mnist-quick --rule ${RULE:-moments} --time-limit ${TL:-600} --threads 2 --skip-baselines --scan-mode features --no-resume --no-progress --seed $seed --noise $sigma --config "$cfg" --out /work/exp/i10/$tag "$@"
echo DONE $tag
