"""Experiment only (not the library): run a script with the "small" encoder pooled to POOL x POOL (4 in the library).

The small CNN averages its last feature map to 4 x 4 (1,024 features for width 16); POOL=8 keeps 4,096, more of
where each stroke is. Usage, from the repository root:
    POOL=8 python benchmarks/results/levers_infonce/pool_wrap.py benchmarks/reproduce.py quick [options]
    POOL=8 python benchmarks/results/levers_infonce/pool_wrap.py benchmarks/results/levers_infonce/purity_probe.py 0=CKPT
(a checkpoint of such a model loads only under the wrapper: its backbone has the larger head input).
"""
import os
import sys
from pathlib import Path

import invariant_inr.encoders as encoders

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/results: wrap_tools
from wrap_tools import run_script_from_argv  # noqa: E402

POOL = int(os.environ.get("POOL", "4"))


class PooledCNN(encoders.SmallCNN):
    """SmallCNN with the environment's pooled side, whatever its caller asks."""

    def __init__(self, in_channels=1, *, width=32, pool=4):
        super().__init__(in_channels, width=width, pool=POOL)


encoders.SmallCNN = PooledCNN  # the name build_backbone looks up when it builds the "small" encoder
run_script_from_argv()
