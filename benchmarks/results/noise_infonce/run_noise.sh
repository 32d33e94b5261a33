#!/bin/bash
# usage: run_noise.sh TAG SIGMA SEED CONFIGJSON
. /work/venv/bin/activate
cd /work/main
python benchmarks/reproduce.py quick --preset mnist-quick --rule ${RULE:-moments} --time-limit 600 --threads 2 --skip-baselines --scan-mode features --no-resume --no-progress --seed $3 --noise $2 --config "$4" --out /work/exp/i11/$1
echo DONE $1
