#!/bin/bash
# usage: [MOMENTUM=m QUEUE=n] run.sh TAG SEED CONFIGJSON [more reproduce.py options]
# One 600 s reproduce.py quick run of the mnist-quick preset through moco_wrap.py into ${RUNS:-runs}/TAG
# (PLAIN=1 runs the library as it is, the preset's baseline beside the variants). The runs of this folder
# wrote to the session's scratch folder; results.json and results.md were copied here.
exec "$(dirname "$0")/../run_wrapped.sh" benchmarks/results/moco_infonce/moco_wrap.py "$@"
