#!/usr/bin/env bash
# The GPU check of issue 13 in one command: bash benchmarks/gpu_check.sh OUT [options of gpu_check.py].
# A thin wrapper around benchmarks/gpu_check.py, run with $PYTHON (default python3).
set -euo pipefail
exec "${PYTHON:-python3}" "$(dirname "$0")/gpu_check.py" "$@"
