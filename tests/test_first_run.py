"""A newcomer's first run: the demo and the commands keep what they made, say what they skipped, and never reward a blank output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from invariant_inr import IRLINR, cli
from invariant_inr.datasets import make_sprites
from invariant_inr.demo import reconstruction_quality

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--preset", "quick", "--latent-dim", "4", "--num-frequencies", "8", "--inr-hidden", "16",
        "--hyper-hidden", "16", "--head-hidden", "32"]  # fmt: skip

# Run the CLI in a fresh interpreter in which the named packages cannot be imported, as on a
# machine where they are not installed.
BLOCKED_RUN = r"""
import sys
blocked = set(sys.argv[1].split(","))

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
        return None

sys.meta_path.insert(0, Blocker())
from invariant_inr import cli
sys.exit(cli.main(sys.argv[2:]))
"""


def run_blocked(blocked: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCKED_RUN, blocked, *argv], capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_demo_without_scipy_and_matplotlib_writes_what_it_can(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    done = run_blocked("scipy,matplotlib", ["demo", "--quick", "--num-samples", "32", "--epochs", "1", "--out", str(out), "--no-progress"])
    assert done.returncode == 0, done.stderr[-2000:]
    # written: everything that needs neither extra
    for name in ("model.pt", "reconstructions.png", "clusters.png", "scores.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
        assert str(out / name) in done.stdout
    IRLINR.load(out / "model.pt")
    # skipped, each said in one line: the plots (matplotlib) and the matched scores (scipy)
    for name in ("losses.png", "rotation.png", "confusion.png"):
        assert not (out / name).exists(), name
    scores = json.loads((out / "scores.json").read_text())
    assert set(scores["skipped"]) == {"losses.png", "pose recovery", "clustering"}, scores["skipped"]
    assert all(item["kind"] == "missing-dependency" for item in scores["skipped"].values())
    skipped_lines = [line for line in done.stdout.splitlines() if line.startswith("skipped ")]
    assert len(skipped_lines) == 3 and any("scipy" in line for line in skipped_lines)
    assert "pose_recovery" in scores  # computed before its plot was skipped
    assert "invariance" in scores and "reconstruction_psnr_db" in scores["invariance"]


@pytest.mark.slow
def test_demo_writes_every_picture_and_says_which_shows_what(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "demo"
    code = cli.main(["demo", "--quick", "--num-samples", "32", "--epochs", "1", "--out", str(out), "--no-progress", "--quiet"])
    assert code == 0
    for name in ("model.pt", "losses.png", "reconstructions.png", "rotation.png", "clusters.png", "confusion.png", "scores.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    scores = json.loads((out / "scores.json").read_text())
    assert scores["skipped"] == {}
    counts = scores["clustering"]["confusion_matrix"]["counts"]
    assert sum(map(sum, counts)) == scores["settings"]["num_test"]


def test_a_failing_part_is_one_line_and_the_rest_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from invariant_inr import demo

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("the plot broke")

    monkeypatch.setattr(demo, "plot_rotation", broken)
    out = tmp_path / "demo"
    code = cli.main(["demo", "--quick", "--num-samples", "16", "--epochs", "1", "--out", str(out), "--no-progress"])
    stdout = capsys.readouterr().out
    assert code == cli.EXIT_FAILURE  # a real failure is not hidden behind exit code 0
    assert "failed pose recovery: RuntimeError: the plot broke" in stdout
    assert (out / "model.pt").is_file() and (out / "reconstructions.png").is_file() and (out / "clusters.png").is_file()
    assert json.loads((out / "scores.json").read_text())["skipped"]["pose recovery"]["kind"] == "failed"


def test_blank_reconstructions_are_called_blank() -> None:
    images = torch.zeros(4, 1, 16, 16)
    images[:, :, 4:12, 6:10] = 1.0
    blank = reconstruction_quality(images, torch.zeros_like(images))
    grey = reconstruction_quality(images, images.mean(dim=(1, 2, 3), keepdim=True).expand_as(images))
    good = reconstruction_quality(images, 0.95 * images + 0.01)
    assert blank["blank"] and grey["blank"] and not good["blank"]
    assert grey["psnr_db"] == pytest.approx(grey["blank_psnr_db"])  # the reference is exactly that image
    assert good["psnr_db"] > good["blank_psnr_db"] + 10
    with pytest.raises(ValueError, match="one shape"):
        reconstruction_quality(images, images[:2])


def test_the_demo_report_does_not_praise_a_blank_or_collapsed_model(capsys: pytest.CaptureFixture[str]) -> None:
    from invariant_inr.demo import _Report, _summary

    lines: list[str] = []
    report = _Report(Path("."), lines.append, {"settings": {"model": {"pose": "analytic", "canonical_rule": "harmonic"}}})
    report.scores["invariance"] = {
        "reconstruction_psnr_db": 11.3, "blank_image_psnr_db": 11.7, "reconstructions_blank": True,
        "canonical_to_input_spread_ratio": 0.0001, "z_cosine_similarity_after_known_pose": 1.0,
        "z_cosine_similarity_other_images": 0.999,
    }
    _summary(report)
    text = "\n".join(lines)
    assert "BLANK" in text and "too short" in text
    assert "vary 0.000" not in text  # the invariance of a blank image is not reported as a result
    assert "COLLAPSED" in text


def test_cluster_command_writes_its_grid_and_confusion(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    sprites = make_sprites(24, size=16, seed=5)
    data = tmp_path / "sprites.pt"
    torch.save({"images": sprites.images, "labels": sprites.labels}, data)
    model = tmp_path / "m.pt"
    assert cli.main(["train", str(data), *TINY, "--epochs", "1", "--batch-size", "8", "--out", str(model), "--quiet", "--no-progress"]) == 0
    out = tmp_path / "c" / "clusters.csv"
    code = cli.main(["cluster", "--checkpoint", str(model), str(data), "-k", "3", "--out", str(out),
                     "--scores", str(tmp_path / "s.json"), "--no-progress"])
    stdout = capsys.readouterr().out
    assert code == 0
    grid, confusion = tmp_path / "c" / "clusters_grid.png", tmp_path / "c" / "clusters_confusion.png"
    for path in (out, grid, confusion):
        assert path.is_file() and path.stat().st_size > 0, path
        assert str(path) in stdout
    assert grid.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    scores = json.loads((tmp_path / "s.json").read_text())
    assert sum(map(sum, scores["confusion_matrix"]["counts"])) == 24
    # --no-figures: only the assignments
    out2 = tmp_path / "d" / "clusters.csv"
    assert cli.main(["cluster", "--checkpoint", str(model), str(data), "-k", "3", "--out", str(out2), "--no-figures", "--quiet"]) == 0
    assert sorted(p.name for p in out2.parent.iterdir()) == ["clusters.csv"]


def test_interrupted_training_saves_the_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from invariant_inr import training

    real_fit = training.fit

    def fit_then_interrupt(model, data, **kwargs):  # noqa: ANN001, ANN003, ANN202
        kwargs["epochs"] = 1
        real_fit(model, data, **kwargs)
        raise KeyboardInterrupt  # as if Ctrl-C came during the second epoch

    monkeypatch.setattr(training, "fit", fit_then_interrupt)
    sprites = make_sprites(12, size=16, seed=1)
    data = tmp_path / "sprites.pt"
    torch.save(sprites.images, data)
    out = tmp_path / "m.pt"
    code = cli.main(["train", str(data), *TINY, "--epochs", "3", "--batch-size", "6", "--out", str(out), "--no-progress"])
    assert code == cli.EXIT_INTERRUPTED
    assert "interrupted: saved the model as it was" in capsys.readouterr().out
    IRLINR.load(out)


def test_readme_first_lines_are_the_two_commands_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text().splitlines()
    start = readme.index("```bash")
    first, second = readme[start + 1], readme[start + 2]
    assert first.startswith("python3 -m venv .venv && . .venv/bin/activate && pip install ") and first.endswith("invariant-inr demo")
    assert second.endswith("python -m pytest") and '".[test]"' in second
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash .ci/readme_first_line.sh" in ci and 'pip install -e ".[test]" && python -m pytest' in ci
