#!/usr/bin/env python
r"""One command for a machine with a CUDA device: its tests, speed and a timed slice of the protocol (issue 13).

Usage (from the repository's root; ``benchmarks/gpu_check.sh OUT`` is the same)::

    mkdir -p data && cp -r ../shared/data/mnist data/       # once: the MNIST IDX files (git ignores data/)
    python benchmarks/gpu_check.py OUT                        # on the GPU machine: at most 8 minutes
    python benchmarks/gpu_check.py --device cpu --smoke OUT   # the dry run on a CPU: tiny sizes, about a minute

Nothing is fetched from the network. The MNIST files are looked for first (``--mnist-root``,
default ``data/mnist``), and the run stops with a message naming the copy above when they are
absent. Five stages follow, each a fresh process under ``timeout`` with its own cap in seconds
(a stage that fails or runs out of time is recorded and the next one still runs; no cap reaches
past the total budget, ``--budget``, 450 s by default, so the whole run stays under 8 minutes):

``tests`` (cap 65)
    ``python -m pytest --device cuda -m cuda``: the suite's CUDA cases (``tests/conftest.py``).
    Without a CUDA device they are collected and skipped, with the reason. ``--smoke`` runs one
    test file only.
``speed-mnist-u`` (50), ``speed-galaxy-zoo`` (50)
    ``benchmarks/speed.py --sizes mnist-u`` (50 x 50 x 1, d = 32) and ``--sizes galaxy-zoo``
    (64 x 64 x 3, d = 512), both at the paper's batch of 128 with the ResNet18 encoder: the naive
    per-sample reference and the encoder alone (the floor) in the same run as our exact step and
    its speed options, bfloat16 where the device has it natively. ``compile`` is left out (its
    compilation would take most of the cap), and so are the peak-memory subprocesses.
``slice-paper`` (140), ``slice-mnist-quick`` (140)
    ``benchmarks/reproduce.py slice``: the ``paper`` preset, then ``mnist-quick``, trained on all
    60,000 MNIST(U) training images for ``--train-seconds`` (default 95) each, in chunks of 100
    steps (so a run overshoots by one chunk at most); then Table 1 (pose recovery) and Table 2 (k-means and Ward on ``z``) on the quick
    protocol's 2,000 test images (seeded; the pixel baselines of that split are in a ``reproduce.py
    quick`` run and ``docs/results.md``, so they are not rerun here). SCAN is left out.

Files written to OUT (seven; logs and JSON, no sub-folders):

* ``gpu_check.json``: the machine (GPU name and memory, torch, CUDA and cuDNN versions, CPU, load),
  the date, the command, and per stage its command, cap, wall time, exit code and status, with
  the headline figures (pytest's summary line, step times and ratios, passes over the training
  set, seconds per pass, Table 1 and 2 figures);
* ``tests.log``; ``speed.log`` and ``speed.json`` (the two speed.py reports); ``slice.log``,
  ``slice.json`` (the two reproduce.py results) and ``slice.md`` (their tables beside the paper's).

The trained models and their codes go to a scratch folder that is removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "src"))  # the checkout's library, installed or not
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helpers shared by the benchmark scripts

import torch  # noqa: E402
from _run_record import command_line, machine_record, utc_now, write_json  # noqa: E402

__all__ = ["MNIST_FILES", "main", "pytest_summary", "stages"]

DEFAULT_MNIST_ROOT = REPO_ROOT / "data" / "mnist"
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
COPY_HINT = "mkdir -p data && cp -r ../shared/data/mnist data/"
TOTAL_BUDGET_S = 450.0  # 8 minutes, less the start of this process (18 s on a busy 2-core CPU) and the last writes
SMOKE_BUDGET_S = 660.0  # the dry run's caps together: on a busy CPU it is the load, not the 8 minutes, that limits
SPEED_OPTIONS = ("pixels", "chunk", "bf16", "channels_last", "all")  # all but compile
SMOKE_MODEL = {"encoder": "small", "latent_dim": 8, "num_frequencies": 16, "inr_hidden": [32], "hyper_hidden": [32], "head_hidden": [64]}
_SUMMARY = re.compile(r"^=*\s*((?:\d+ \w+|no tests ran)(?:, \d+ \w+)* in [\d.]+s.*?)\s*=*$")


def missing_mnist(root: Path) -> list[str]:
    """The MNIST IDX files (plain or ``.gz``) not found in ``root``."""
    return [name for name in MNIST_FILES if not (root / name).is_file() and not (root / f"{name}.gz").is_file()]


def stages(args: argparse.Namespace, scratch: Path) -> list[dict[str, Any]]:
    """Name, output group, cap in seconds and command line of each stage, in order."""
    python, device = sys.executable, args.device
    tests = [python, "-m", "pytest", "--device", "cuda", "-m", "cuda", "-q", "-p", "no:cacheprovider"]
    speed = [python, "benchmarks/speed.py", "--device", device, "--options", *SPEED_OPTIONS, "--no-memory"]
    # the slice: the time limit is training seconds per model (data, evaluation and start come on top)
    slice_ = [python, "benchmarks/reproduce.py", "slice", "--device", device, "--mnist-root", str(args.mnist_root),
              "--skip-scan", "--skip-baselines", "--no-progress", "--time-limit", str(args.train_seconds)]
    caps = {"tests": 65.0, "speed": 50.0, "slice": 140.0}  # 445 s together
    if args.smoke:  # tiny sizes and budgets: the same commands, checked end to end in about a minute
        tests += ["tests/test_se2.py"]
        speed += ["--quick", "--repeats", "1", "--gemm-size", "256", "--threads", "1"]
        config = {"model": SMOKE_MODEL, "fit": {"batch_size": 16, "max_steps_per_epoch": 2}}
        slice_ += ["--train-size", "64", "--test-size", "40", "--image-size", "32", "--threads", "1",
                   "--config", json.dumps(config)]
        caps = {"tests": 120.0, "speed": 120.0, "slice": 150.0}
    out = []
    for name in ("mnist-u", "galaxy-zoo"):
        out.append({"name": f"speed-{name}", "group": "speed", "cap_s": caps["speed"],
                    "argv": [*speed, "--sizes", name, "--json", str(scratch / f"speed-{name}.json")]})
    for preset in ("paper", "mnist-quick"):
        out.append({"name": f"slice-{preset}", "group": "slice", "cap_s": caps["slice"],
                    "argv": [*slice_, "--preset", preset, "--out", str(scratch / f"slice-{preset}")]})
    return [{"name": "tests", "group": "tests", "cap_s": caps["tests"], "argv": tests}, *out]


def run_stage(stage: dict[str, Any], cap: float, log_path: Path, env: dict[str, str]) -> dict[str, Any]:
    """Run one stage under ``timeout``, appending its output to ``log_path``; its record."""
    argv = ["timeout", "--kill-after=5", f"{max(cap, 1.0):.1f}", *stage["argv"]]  # a duration of 0 would mean none
    record: dict[str, Any] = {"command": command_text(stage["argv"]), "cap_s": round(cap, 1)}
    with open(log_path, "a") as log:
        log.write(f"\n===== {stage['name']} ({utc_now()}, cap {cap:.0f} s): {record['command']}\n")
        log.flush()
        started = time.perf_counter()
        try:  # the backstop beyond timeout's own kill
            code = subprocess.run(argv, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=cap + 15).returncode
        except subprocess.TimeoutExpired:
            code = 137
        record["wall_s"] = round(time.perf_counter() - started, 1)
        record["exit_code"] = code
        record["status"] = "ok" if code == 0 else "timed out" if code in (124, 137) else "failed"
        log.write(f"===== {stage['name']}: {record['status']} (exit code {code}) after {record['wall_s']} s\n")
    return record


def command_text(argv: Sequence[str]) -> str:
    """A stage's command as one would type it from the repository's root."""
    return shlex.join(["python", *argv[1:]] if argv and argv[0] == sys.executable else list(argv))


def pytest_summary(log_text: str) -> str | None:
    """pytest's closing line (``3 passed, 2 skipped, 400 deselected in 5.1s``), the last one in ``log_text``."""
    lines = [match.group(1) for match in map(_SUMMARY.match, log_text.splitlines()) if match]
    return lines[-1] if lines else None


def speed_headline(report: dict[str, Any]) -> dict[str, Any]:
    """The step times and ratios of one speed.py report."""
    steps, summary = report.get("steps", {}), report.get("summary", {})
    settings = report.get("settings", {})
    return {
        "sizes": {key: settings.get(key) for key in ("image_size", "channels", "latent_dim", "batch", "encoder")},
        "native_bf16": report.get("native_bf16"),
        "median_step_s": {name: entry["median_s"] for name, entry in steps.items()},
        "step_over_encoder": summary.get("step_over_encoder"),
        "naive_over_step": summary.get("naive_over_step"),
        "images_per_s": summary.get("images_per_s"),
        "epoch_estimate": summary.get("epoch_estimate"),
    }


def slice_headline(results: dict[str, Any]) -> dict[str, Any]:
    """Passes over the training set, seconds per pass, and the Table 1 and 2 figures of each model."""
    out: dict[str, Any] = {"test_images": results.get("settings", {}).get("test_size"), "models": {}}
    for tag, model in results.get("models", {}).items():
        training, pose, clustering = model.get("training", {}), model.get("pose", {}), model.get("clustering", {})
        passes = training.get("passes_over_training_set") or 0.0
        out["models"][tag] = {
            "passes_over_training_set": passes,  # epochs of 60,000 images
            "steps": training.get("steps"),
            "train_seconds": training.get("train_seconds"),
            "seconds_per_pass": training["train_seconds"] / passes if passes else None,
            "final_losses": training.get("final_losses"),
            "table1": {key: pose.get(key) for key in ("rotation_pearson", "rotation_circular_correlation", "rotation_median_error_deg",
                                                      "translation_pearson_x", "translation_pearson_y",
                                                      "displacement_pearson_x", "displacement_pearson_y")},
            "table2": {name: (clustering.get(name) or {}).get("accuracy", {}).get("mean") for name in ("kmeans", "agglomerative")},
        }
    return out


def collect(group: str, scratch: Path, out: Path, names: Sequence[str]) -> dict[str, Any]:
    """Merge what the stages of ``group`` wrote into OUT's files; the headline per stage."""
    merged: dict[str, Any] = {}
    headlines: dict[str, Any] = {}
    markdown: list[str] = []
    for name in names:
        path = scratch / f"{name}.json" if group == "speed" else scratch / name / "results.json"
        if not path.is_file():
            continue
        data = json.loads(path.read_text())
        merged[name] = data
        headlines[name] = speed_headline(data) if group == "speed" else slice_headline(data)
        if group == "slice":
            md = path.with_suffix(".md")
            markdown.append(md.read_text() if md.is_file() else f"# {name}\n\nStopped before its report: see slice.json.\n")
    if merged:
        write_json(out / f"{group}.json", merged)
    if markdown:
        (out / "slice.md").write_text("\n\n".join(markdown))
    return headlines


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="output folder (created; at most 7 files are written to it)")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda", help="cpu: the dry run (default: cuda)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes and budgets (the dry run; about a minute)")
    parser.add_argument("--mnist-root", type=Path, default=DEFAULT_MNIST_ROOT, help="folder with the MNIST IDX files (default: %(default)s)")
    parser.add_argument(
        "--budget", type=float, default=None,
        help=f"seconds for all stages together (default: {TOTAL_BUDGET_S:g}; with --smoke {SMOKE_BUDGET_S:g})",
    )
    parser.add_argument("--train-seconds", type=float, default=95.0, help="training seconds per preset in the slice (default: %(default)s)")
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run the stages; returns what ``OUT/gpu_check.json`` holds."""
    args = _parser().parse_args(argv)
    started = time.perf_counter()
    args.out, args.mnist_root = args.out.resolve(), args.mnist_root.resolve()  # the stages run in the repository's root
    if args.smoke:
        args.train_seconds = min(args.train_seconds, 1.0)
        args.budget = SMOKE_BUDGET_S if args.budget is None else args.budget
    elif args.budget is None:
        args.budget = TOTAL_BUDGET_S
    missing = missing_mnist(args.mnist_root)
    if missing:
        raise SystemExit(
            f"gpu_check: the MNIST files {missing} are not in {args.mnist_root}. From the repository's root, copy them "
            f"with `{COPY_HINT}` (or pass --mnist-root FOLDER); nothing is downloaded."
        )
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu_check: --device cuda, but torch.cuda.is_available() is False (use --device cpu --smoke for the dry run)")
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "command": command_line("gpu_check.py", argv),
        "date": utc_now(),
        "machine": machine_record(device),
        "smoke": args.smoke,
        "budget_s": args.budget,
        "train_seconds_per_preset": args.train_seconds,
        "notes": [
            "slice: training in chunks of 100 steps, each from a fresh shuffle; 'passes_over_training_set' is the "
            "number of epochs of 60,000 images that amounts to",
            "slice: pixel baselines not rerun; the test split is reproduce.py quick's (2,000 images, seed 1): see docs/results.md",
        ],
        "stages": {},
    }
    json_path = args.out / "gpu_check.json"
    write_json(json_path, report)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    deadline = started + args.budget
    scratch = Path(tempfile.mkdtemp(prefix="gpu_check_"))
    try:
        plan = stages(args, scratch)
        for stage in plan:
            left = deadline - time.perf_counter()
            if left < 5:
                report["stages"][stage["name"]] = {"command": command_text(stage["argv"]), "status": "skipped: budget spent", "exit_code": None}
                continue
            print(f"[gpu_check] {stage['name']} (cap {min(stage['cap_s'], left):.0f} s)", flush=True)
            record = run_stage(stage, min(stage["cap_s"], left), args.out / f"{stage['group']}.log", env)
            group_names = [other["name"] for other in plan if other["group"] == stage["group"]]
            if stage["group"] == "tests":
                record["summary_line"] = pytest_summary((args.out / "tests.log").read_text())
            else:
                record["headline"] = collect(stage["group"], scratch, args.out, group_names).get(stage["name"])
            report["stages"][stage["name"]] = record
            print(f"[gpu_check] {stage['name']}: {record['status']} in {record['wall_s']} s", flush=True)
            write_json(json_path, report)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        report["wall_s"] = round(time.perf_counter() - started, 1)
        write_json(json_path, report)
    print(f"[gpu_check] wrote {sorted(path.name for path in args.out.iterdir())} to {args.out} in {report['wall_s']} s", flush=True)
    return report


if __name__ == "__main__":
    main()
