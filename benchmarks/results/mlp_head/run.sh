#!/bin/bash
# usage: [PLAIN=1] run.sh TAG SEED CONFIGJSON [more reproduce.py options]
# One 600 s reproduce.py quick run of the mnist-quick preset with the paper's "mlp" pose head through
# vector_wrap.py (PLAIN=1: the library as it is) into ${RUNS:-runs}/TAG. The runs wrote to the session's
# scratch folder; results.json and results.md were copied here.
exec "$(dirname "$0")/../run_wrapped.sh" benchmarks/results/mlp_head/vector_wrap.py "$@"
