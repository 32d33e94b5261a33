"""Every script in ``examples/`` runs end to end in its ``--smoke`` mode, so the examples cannot rot."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest
import torch

from invariant_inr.datasets import write_idx

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
pytestmark = pytest.mark.slow  # each example trains a small model end to end (seconds to tens of seconds)


@pytest.fixture()
def run_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run ``examples/NAME --smoke ARGS`` in this process (no second torch import), in ``tmp_path``; return its stdout."""

    def run(name: str, *args: str) -> str:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr(sys, "argv", [str(EXAMPLES / name), "--smoke", *args])
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")  # raises on failure, SystemExit included
        return capsys.readouterr().out

    return run


def fake_mnist(folder: Path, train: int = 80, test: int = 40) -> Path:
    """A tiny MNIST in IDX format: random strokes, labels 0..9, both splits."""
    generator = torch.Generator().manual_seed(0)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, count in (("train", train), ("t10k", test)):
        digits = torch.zeros(count, 28, 28, dtype=torch.uint8)
        digits[:, 8:20, 10:18] = (torch.rand(count, 12, 8, generator=generator) * 255).to(torch.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", digits)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", (torch.arange(count) % 10).to(torch.uint8))
    return folder


def test_every_example_has_a_test() -> None:
    scripts = sorted(path.name for path in EXAMPLES.glob("*.py"))
    assert scripts == ["clustering.py", "custom_pipeline.py", "mnist_u.py", "quickstart.py"]


def test_quickstart(tmp_path: Path, run_example) -> None:
    stdout = run_example("quickstart.py", "--out", str(tmp_path / "m.pt"))
    assert "k-means on z finds the 3 shapes with accuracy" in stdout
    assert (tmp_path / "m.pt").is_file()


def test_mnist_u_on_a_fake_mnist_folder(tmp_path: Path, run_example) -> None:
    root = fake_mnist(tmp_path / "mnist")
    stdout = run_example("mnist_u.py", "--root", str(root), "--out", str(tmp_path / "out"))
    assert "rotation: circular correlation" in stdout
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert set(results) >= {"pose_recovery", "kmeans", "agglomerative", "kmeans_raw_pixels", "kmeans_canonical_pixels"}
    assert results["settings"]["preset"] == "mnist-quick" and results["codes_prepared_by"] == "l2_normalize"
    assert results["settings"]["train_size"] == 64 and results["settings"]["test_size"] == 32


def test_custom_pipeline(tmp_path: Path, run_example) -> None:
    stdout = run_example("custom_pipeline.py", "--out", str(tmp_path / "custom.pt"))
    assert "reloaded model gives the same codes: True" in stdout


def test_clustering(tmp_path: Path, run_example) -> None:
    stdout = run_example("clustering.py", "--out", str(tmp_path / "out"))
    for method in ("kmeans", "agglomerative", "scan"):
        lines = (tmp_path / "out" / f"clusters_{method}.csv").read_text().splitlines()
        assert lines[0] == "index,cluster" and len(lines) == 61
    assert "k-means, K=6 (majority)" in stdout
