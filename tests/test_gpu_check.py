"""The GPU check ``benchmarks/gpu_check.py`` (issue 13), dry-run on the CPU so that it cannot rot.

The dry run (``--device cpu --smoke``) reads a tiny MNIST-shaped set of IDX files written here, runs
every stage at tiny sizes, and must leave at most 8 files (logs and JSON) in its output folder,
with the machine, the command and each stage's wall time and exit code recorded. The other tests
check the parts a dry run does not reach: the message when the MNIST files are absent, a stage
that fails or runs out of time, and a budget that is spent before a stage starts.
"""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from invariant_inr.datasets import write_idx

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("invariant_inr_gpu_check", ROOT / "benchmarks" / "gpu_check.py")
gpu_check = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = gpu_check
spec.loader.exec_module(gpu_check)


def write_tiny_mnist(root: Path, *, count: int = 80) -> Path:
    """The four MNIST IDX files (gzip) with ``count`` 28 x 28 images each: a label-dependent bar plus noise."""
    root.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(count) % 10
    images = torch.rand(count, 28, 28, generator=generator) * 40
    for digit in range(10):
        images[labels == digit, 8 : 12 + digit, 10:14] += 200
    for prefix in ("train", "t10k"):
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", images.clamp(0, 255).to(torch.uint8))
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", labels.to(torch.uint8))
    return root


@pytest.mark.slow
def test_cpu_dry_run_writes_every_stage_into_at_most_eight_files(tmp_path: Path) -> None:
    mnist, out = write_tiny_mnist(tmp_path / "mnist"), tmp_path / "out"
    command = [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--device", "cpu", "--smoke", "--mnist-root", str(mnist), str(out)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert time.perf_counter() - started < 660  # the smoke budget

    files = sorted(path.name for path in out.iterdir())
    assert all((out / name).is_file() for name in files) and len(files) <= 8
    assert files == ["gpu_check.json", "slice.json", "slice.log", "slice.md", "speed.json", "speed.log", "tests.log"]

    report = json.loads((out / "gpu_check.json").read_text())
    assert report["command"].startswith("python benchmarks/gpu_check.py") and report["date"].endswith("+00:00")
    machine = report["machine"]
    assert machine["device"] == "cpu" and machine["torch"] == torch.__version__ and "cuda_build" in machine
    assert list(report["stages"]) == ["tests", "speed-mnist-u", "speed-galaxy-zoo", "slice-paper", "slice-mnist-quick"]
    for name, stage in report["stages"].items():
        assert stage["status"] == "ok" and stage["exit_code"] == 0, (name, stage)
        assert 0 < stage["wall_s"] <= stage["cap_s"] + 15
    assert report["wall_s"] >= sum(stage["wall_s"] for stage in report["stages"].values())

    # pytest's summary line, also in the log; without CUDA the CUDA cases are skipped
    summary = report["stages"]["tests"]["summary_line"]
    assert summary is not None and summary in (out / "tests.log").read_text()
    if not torch.cuda.is_available():
        assert "skipped" in summary and "passed" not in summary

    speed = json.loads((out / "speed.json").read_text())
    assert set(speed) == {"speed-mnist-u", "speed-galaxy-zoo"}
    for name, channels in (("speed-mnist-u", 1), ("speed-galaxy-zoo", 3)):
        headline = report["stages"][name]["headline"]
        assert headline["sizes"]["channels"] == channels
        assert {"naive", "encoder", "exact", "all"} <= set(headline["median_step_s"])
        assert all(value > 0 for value in headline["median_step_s"].values())

    results = json.loads((out / "slice.json").read_text())
    assert set(results) == {"slice-paper", "slice-mnist-quick"}
    assert results["slice-paper"]["settings"]["preset"] == "paper" and results["slice-paper"]["settings"]["skip_baselines"]
    for name in results:
        models = report["stages"][name]["headline"]["models"]
        assert len(models) == 1
        (figures,) = models.values()
        assert figures["passes_over_training_set"] > 0 and figures["seconds_per_pass"] > 0
        assert -1 <= figures["table1"]["rotation_pearson"] <= 1 and not math.isnan(figures["table1"]["translation_pearson_x"])
        assert 0 < figures["table2"]["kmeans"] <= 1 and 0 < figures["table2"]["agglomerative"] <= 1
    markdown = (out / "slice.md").read_text()
    assert markdown.count("## Table 1: pose recovery") == 2 and markdown.count("## Table 2") == 2


def test_absent_mnist_files_stop_the_run_with_the_copy_command(tmp_path: Path) -> None:
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").write_bytes(b"")  # one of four
    with pytest.raises(SystemExit, match="cp -r ../shared/data/mnist data/") as error:
        gpu_check.main(["--device", "cpu", "--smoke", "--mnist-root", str(tmp_path / "mnist"), str(tmp_path / "out")])
    assert "train-labels-idx1-ubyte" in str(error.value) and "train-images-idx3-ubyte'" not in str(error.value)
    assert not (tmp_path / "out").exists()  # nothing written before the check


def test_a_failing_or_overrunning_stage_is_recorded(tmp_path: Path) -> None:
    log = tmp_path / "stage.log"
    env = {"PATH": "/usr/bin:/bin"}
    slow = {"name": "slow", "argv": [sys.executable, "-c", "import time; time.sleep(60)"]}
    started = time.perf_counter()
    record = gpu_check.run_stage(slow, 1.0, log, env)
    assert time.perf_counter() - started < 20
    assert record["status"] == "timed out" and record["exit_code"] == 124 and record["cap_s"] == 1.0
    failing = {"name": "failing", "argv": [sys.executable, "-c", "print('partial output'); raise SystemExit(3)"]}
    record = gpu_check.run_stage(failing, 30.0, log, env)
    assert record["status"] == "failed" and record["exit_code"] == 3
    text = log.read_text()
    assert "===== slow" in text and "partial output" in text and "failed (exit code 3)" in text


def test_a_spent_budget_skips_the_stages_and_still_writes_the_record(tmp_path: Path) -> None:
    mnist = write_tiny_mnist(tmp_path / "mnist", count=10)
    report = gpu_check.main(["--device", "cpu", "--smoke", "--budget", "0", "--mnist-root", str(mnist), str(tmp_path / "out")])
    assert [path.name for path in (tmp_path / "out").iterdir()] == ["gpu_check.json"]
    assert {stage["status"] for stage in report["stages"].values()} == {"skipped: budget spent"}
    assert json.loads((tmp_path / "out" / "gpu_check.json").read_text())["stages"] == report["stages"]


@pytest.mark.parametrize(
    ("log", "expected"),
    [
        ("collected\n===== 3 passed, 2 skipped in 1.25s =====\n", "3 passed, 2 skipped in 1.25s"),
        ("57 skipped, 20 deselected in 3.26s\n===== tests: ok\n", "57 skipped, 20 deselected in 3.26s"),
        ("== 1 failed, 120 passed, 715 deselected, 2 warnings in 40.10s (0:00:40) ==", "1 failed, 120 passed, 715 deselected, 2 warnings in 40.10s (0:00:40)"),
        ("no tests ran in 0.05s", "no tests ran in 0.05s"),
        ("killed before the end\n", None),
    ],
)
def test_pytest_summary_line(log: str, expected: str | None) -> None:
    assert gpu_check.pytest_summary(log) == expected
