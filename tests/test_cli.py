"""The ``invariant-inr`` command line: demo, train/embed/cluster/reconstruct round trip, errors, help."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from invariant_inr import IRLINR, cli, plotting
from invariant_inr.datasets import make_sprites
from invariant_inr.inference import encode_all

# a tiny model, so that training steps take milliseconds
TINY = [
    "--preset", "quick", "--latent-dim", "4", "--num-frequencies", "8", "--inr-hidden", "16",
    "--hyper-hidden", "16", "--head-hidden", "32",
]  # fmt: skip
COMMANDS = ("demo", "train", "embed", "cluster", "reconstruct")


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def data_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sprites = make_sprites(18, size=16, seed=3)
    path = tmp_path_factory.mktemp("data") / "sprites.pt"
    torch.save({"images": sprites.images, "labels": sprites.labels}, path)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, data_file: Path) -> Path:
    folder = tmp_path_factory.mktemp("model")
    code = cli.main(["train", str(data_file), *TINY, "--epochs", "1", "--batch-size", "6",
                     "--checkpoint-dir", str(folder / "ck"), "--out", str(folder / "m.pt"), "--quiet", "--no-progress"])
    assert code == 0
    return folder / "m.pt"


@pytest.mark.slow
def test_demo_quick_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    code, stdout, _ = run(["demo", "--quick", "--out", str(out), "--no-progress"], capsys)
    assert code == 0
    for name in ("reconstructions.png", "rotation.png", "scores.json", "model.pt"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
        assert str(out / name) in stdout  # the command says where each file is
    assert (out / "reconstructions.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    scores = json.loads((out / "scores.json").read_text())
    for key in ("accuracy", "nmi", "ari"):
        for method in ("kmeans_z", "kmeans_whitened_z", "kmeans_whitened_canonicalized_pixels"):
            assert 0.0 <= scores["clustering"][method][key] <= 1.0 or key == "ari", method
    assert "k-means on PCA-whitened z: accuracy" in stdout
    assert set(scores["pose_recovery"]) >= {"all", "heart"}
    assert scores["training"]["epochs"] == scores["settings"]["epochs"]
    model = IRLINR.load(out / "model.pt")
    assert model.config.image_size == (scores["settings"]["image_size"],) * 2


def test_train_resume_embed_cluster_reconstruct(
    tmp_path: Path, data_file: Path, trained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # resume: a second run with the same checkpoint folder continues at epoch 2
    checkpoint_dir = trained.parent / "ck"
    code, stdout, _ = run(["train", str(data_file), *TINY, "--epochs", "2", "--batch-size", "6", "--checkpoint-dir",
                           str(checkpoint_dir), "--out", str(tmp_path / "m2.pt"), "--history", str(tmp_path / "h.json"),
                           "--no-progress"], capsys)
    assert code == 0 and "resuming" in stdout
    history = json.loads((tmp_path / "h.json").read_text())
    assert len(history["total"]) == 2

    model = IRLINR.load(trained)
    images = torch.load(data_file, weights_only=True)["images"]
    with torch.no_grad():
        expected = model.eval().encode(images)

    for suffix in (".pt", ".npz", ".npy", ".csv"):
        path = tmp_path / f"z{suffix}"
        code, _, _ = run(["embed", str(trained), str(data_file), "--out", str(path), "--quiet", "--no-progress"], capsys)
        assert code == 0 and path.is_file()
        z, labels, _ = cli.read_embeddings(path)
        assert z.shape == (18, 4)
        torch.testing.assert_close(z, expected.z, atol=1e-5, rtol=1e-5)
    stored = torch.load(tmp_path / "z.pt", weights_only=True)
    torch.testing.assert_close(stored["theta"], expected.theta)
    torch.testing.assert_close(stored["tau"], expected.tau)
    assert np.load(tmp_path / "z.theta.npy").shape == (18,) and np.load(tmp_path / "z.tau.npy").shape == (18, 2)
    with (tmp_path / "z.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 18 and rows[0]["label"] == str(int(stored["labels"][0]))

    for method, source in (("kmeans", ["--embeddings", str(tmp_path / "z.csv")]),
                           ("agglomerative", ["--embeddings", str(tmp_path / "z.pt")]),
                           ("scan", ["--checkpoint", str(trained), str(data_file), "--scan-epochs", "1",
                                     "--self-label-epochs", "1", "--num-neighbors", "3", "--batch-size", "6"])):
        out = tmp_path / f"{method}.csv"
        code, stdout, _ = run(["cluster", *source, "-k", "3", "--method", method, "--out", str(out),
                               "--scores", str(tmp_path / f"{method}.json"), "--no-progress"], capsys)
        assert code == 0, method
        with out.open() as handle:
            rows = list(csv.DictReader(handle))
        assert [row["index"] for row in rows] == [str(i) for i in range(18)]
        assert {int(row["cluster"]) for row in rows} <= {0, 1, 2}
        scores = json.loads((tmp_path / f"{method}.json").read_text())
        assert 1 / 3 - 1e-9 <= scores["accuracy"] <= 1.0 and "against the labels" in stdout

    from invariant_inr.cli import read_embeddings
    from invariant_inr.cluster import SCAN, kmeans, whiten

    code, _, _ = run(["cluster", "--embeddings", str(tmp_path / "z.pt"), "-k", "3", "--whiten", "--out", str(tmp_path / "w.csv"), "--quiet"], capsys)
    with (tmp_path / "w.csv").open() as handle:
        whitened = [int(row["cluster"]) for row in csv.DictReader(handle)]
    assert code == 0 and whitened == kmeans(whiten(read_embeddings(tmp_path / "z.pt")[0]), 3, seed=0).assignments.tolist()
    # whitening is the default; --no-whiten clusters the codes as they are
    code, _, _ = run(["cluster", "--embeddings", str(tmp_path / "z.pt"), "-k", "3", "--out", str(tmp_path / "d.csv"), "--quiet"], capsys)
    assert code == 0 and (tmp_path / "d.csv").read_text() == (tmp_path / "w.csv").read_text()
    code, _, _ = run(["cluster", "--embeddings", str(tmp_path / "z.pt"), "-k", "3", "--no-whiten", "--out", str(tmp_path / "p.csv"), "--quiet"], capsys)
    with (tmp_path / "p.csv").open() as handle:
        plain = [int(row["cluster"]) for row in csv.DictReader(handle)]
    assert code == 0 and plain == kmeans(read_embeddings(tmp_path / "z.pt")[0], 3, seed=0).assignments.tolist()
    code, _, _ = run(["cluster", "--embeddings", str(tmp_path / "z.pt"), "-k", "3", "--whiten", "--method", "scan", "--scan-epochs", "1",
                      "--self-label-epochs", "1", "--num-neighbors", "3", "--batch-size", "6", "--out", str(tmp_path / "ws.csv"), "--quiet"], capsys)
    assert code == 0 and len((tmp_path / "ws.csv").read_text().splitlines()) == 19  # header + 18 images
    code, _, _ = run(["cluster", "--embeddings", str(tmp_path / "z.pt"), "-k", "3", "--whiten", "--method", "scan", "--scan-epochs", "2",
                      "--self-label-epochs", "0", "--num-neighbors", "3", "--batch-size", "6", "--head-hidden", "8",
                      "--out", str(tmp_path / "mlp.csv"), "--quiet"], capsys)
    with (tmp_path / "mlp.csv").open() as handle:
        mlp = [int(row["cluster"]) for row in csv.DictReader(handle)]
    direct = SCAN(3, num_neighbors=3, epochs=2, self_label_epochs=0, batch_size=6, head_hidden=8).fit_predict(
        whiten(read_embeddings(tmp_path / "z.pt")[0]))
    assert code == 0 and mlp == direct.tolist()  # the flag reaches SCAN: an MLP head, same everything else

    png = tmp_path / "grid.png"
    code, _, _ = run(["reconstruct", str(trained), str(data_file), "--out", str(png), "--rotations", "3",
                      "--num-images", "2", "--render-size", "24", "--quiet"], capsys)
    assert code == 0 and png.read_bytes()[:4] == b"\x89PNG"


def test_train_lr_schedule_cosine(tmp_path: Path, data_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # the quick preset trains at 1e-3; cosine over 2 epochs: 1e-3, then half of it
    code, _, _ = run(["train", str(data_file), *TINY, "--epochs", "2", "--batch-size", "6", "--lr-schedule", "cosine",
                      "--out", str(tmp_path / "m.pt"), "--history", str(tmp_path / "h.json"), "--quiet", "--no-progress"], capsys)
    assert code == 0
    assert json.loads((tmp_path / "h.json").read_text())["lr"] == pytest.approx([1e-3, 0.5e-3], rel=1e-12)


def test_image_folder_embeds_with_file_names(tmp_path: Path, trained: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    for cls in ("cats", "dogs"):
        (tmp_path / "imgs" / cls).mkdir(parents=True)
        for i in range(2):
            Image.fromarray((np.random.default_rng(i).random((20, 24)) * 255).astype(np.uint8)).save(
                tmp_path / "imgs" / cls / f"{i}.png"
            )
    out = tmp_path / "z.csv"
    code, _, _ = run(["embed", str(trained), str(tmp_path / "imgs"), "--labels-from-folders", "--out", str(out),
                      "--quiet", "--no-progress"], capsys)  # resized to the model's 16x16
    assert code == 0
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [row["index"] for row in rows] == ["cats/0.png", "cats/1.png", "dogs/0.png", "dogs/1.png"]
    assert [row["label"] for row in rows] == ["0", "0", "1", "1"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["embed", "{model}", "missing.pt", "--out", "z.pt"], "neither a file"),
        (["embed", "missing.pt", "{data}", "--out", "z.pt"], "no checkpoint file"),
        (["embed", "{data}", "{data}", "--out", "z.pt"], "not an invariant-inr model checkpoint"),
        (["embed", "{model}", "{data}", "--out", "z.txt"], "--out must end in"),
        (["embed", "{model}", "sprites", "--image-size", "20", "--out", "z.pt"], "16x16"),
        (["cluster", "-k", "3"], "either --embeddings"),
        (["cluster", "--embeddings", "{data}", "-k", "3"], "without a 'z' entry"),
        (["train", "mnist-u"], "--root"),
        (["train", "mnist-u", "--root", "{tmp}"], "not found"),
        (["train", "{tmp}/bad.npy"], "floating-point"),
        (["train", "{data}", "--epochs", "0"], "positive integer"),
        (["train", "{data}", "--inr-hidden", "a,b"], "comma-separated"),
        (["embed", "{model}", "{data}", "--out", "z.pt", "--device", "cuda:7"], "CUDA"),
        (["reconstruct", "{model}", "{data}", "--indices", "99"], "--indices"),
        (["nonsense"], "invalid choice"),
        (["embed", "{model}", "{data}", "--out", "z.pt", "--noise", "0.1"], "built-in data"),
        (["cluster", "--checkpoint", "{model}", "{data}", "-k", "2", "--method", "scan", "--whiten"], "--whiten with SCAN needs --embeddings"),
        (["cluster", "--checkpoint", "{model}", "{data}", "-k", "2", "--method", "scan", "--normalize"], "--normalize with SCAN needs --embeddings"),
        (["embed", "{model}", "sprites", "--out", "z.pt", "--noise", "-1"], ">= 0"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    argv: list[str], expected: str, tmp_path: Path, data_file: Path, trained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if "cuda" in " ".join(argv) and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    np.save(tmp_path / "bad.npy", np.zeros((3, 1, 8, 8), dtype=np.int32))
    filled = [arg.format(model=trained, data=data_file, tmp=tmp_path) for arg in argv]
    filled = [str(tmp_path / a) if a in ("z.pt", "z.txt") else a for a in filled]
    code, _, err = run(filled, capsys)
    assert code == 2
    assert expected in err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("invariant-inr")


def test_resume_with_another_model_is_a_clear_error(
    tmp_path: Path, data_file: Path, trained: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["train", str(data_file), *TINY, "--latent-dim", "5", "--epochs", "3", "--checkpoint-dir",
                        str(trained.parent / "ck"), "--out", str(tmp_path / "x.pt"), "--no-progress"], capsys)
    assert code == 2 and "last.pt" in err and "another" in err


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_for_every_command(command: str | None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(([command] if command else []) + ["--help"], capsys)
    assert code == 0
    assert out.startswith("usage: invariant-inr")
    if command == "train":
        for flag in ("--preset", "--latent-dim", "--checkpoint-dir", "--precision", "--device", "--epochs"):
            assert flag in out


def test_python_dash_m_runs_the_cli() -> None:
    result = subprocess.run([sys.executable, "-m", "invariant_inr", "--version"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0
    assert result.stdout.strip().startswith("invariant-inr ")


def test_grid_without_matplotlib_is_a_plain_png(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> None:
        raise ImportError(plotting.PLOT_HINT)

    monkeypatch.setattr(plotting, "_import_matplotlib", missing)
    assert not plotting.have_matplotlib()
    rows = [torch.rand(3, 1, 5, 5), torch.rand(2, 3, 5, 5)]
    path = plotting.save_image_grid(tmp_path / "g.png", rows, row_labels=["a", "b"])
    from PIL import Image

    with Image.open(path) as image:
        assert image.size == (3 * 6 + 1, 2 * 6 + 1)
        pixels = np.asarray(image.convert("RGB"))
    expected = plotting.tile_images(rows).numpy()
    assert np.abs(pixels / 255.0 - expected).max() <= 0.5 / 255 + 1e-6
    with pytest.raises(ImportError, match="invariant-inr\\[plot\\]"):
        plotting.plot_rotation(tmp_path / "r.png", torch.zeros(3), torch.zeros(3))


def test_read_embeddings_accepts_a_plain_array(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.ones((4, 3), dtype=np.float64))
    z, labels, ids = cli.read_embeddings(tmp_path / "a.npy")
    assert z.shape == (4, 3) and z.dtype == torch.float32 and labels is None and ids is None
    np.save(tmp_path / "b.npy", np.ones(4))
    with pytest.raises(ValueError, match="shape \\(N, D\\)"):
        cli.read_embeddings(tmp_path / "b.npy")


def test_cluster_keeps_a_collapsed_code_unwhitened_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # every row the same: nothing to whiten; the default clusters it as it is and says so, --whiten is an error
    np.save(tmp_path / "z.npy", np.ones((6, 3), dtype=np.float32))
    code, stdout, _ = run(["cluster", "--embeddings", str(tmp_path / "z.npy"), "-k", "2", "--out", str(tmp_path / "c.csv")], capsys)
    assert code == 0 and "not whitened" in stdout and len((tmp_path / "c.csv").read_text().splitlines()) == 7
    code, _, err = run(["cluster", "--embeddings", str(tmp_path / "z.npy"), "-k", "2", "--whiten", "--out", str(tmp_path / "w.csv")], capsys)
    assert code == 2 and "no variance" in err


def test_cluster_normalizes_the_codes_of_a_contrastive_model_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data_file: Path
) -> None:
    from invariant_inr.cluster import kmeans, l2_normalize, whiten

    model_path = tmp_path / "m.pt"
    code = cli.main(["train", str(data_file), *TINY, "--consistency", "infonce", "--augment-strength", "1", "--epochs", "1",
                     "--batch-size", "6", "--out", str(model_path), "--quiet", "--no-progress"])
    assert code == 0
    model = IRLINR.load(model_path)
    assert model.config.consistency == "infonce"
    z = encode_all(model.eval(), torch.load(data_file)["images"]).z
    found = {}
    for name, flags in (("default", []), ("whitened", ["--whiten"]), ("plain", ["--no-normalize"]),
                        ("no-whiten", ["--no-whiten"])):
        out = tmp_path / f"{name}.csv"
        code, stdout, _ = run(["cluster", "--checkpoint", str(model_path), str(data_file), "-k", "3", *flags, "--out", str(out),
                               "--no-figures", "--no-progress"], capsys)
        assert code == 0
        with out.open() as handle:
            found[name] = ([int(row["cluster"]) for row in csv.DictReader(handle)], stdout)
    assert found["default"][0] == kmeans(l2_normalize(z), 3, seed=0).assignments.tolist()
    assert "unit length, not whitened: the model was trained with consistency='infonce'" in found["default"][1]
    assert found["no-whiten"][0] == found["default"][0]  # --no-whiten leaves the contrastive default on
    assert found["whitened"][0] == kmeans(whiten(z), 3, seed=0).assignments.tolist()
    assert found["plain"][0] == kmeans(z, 3, seed=0).assignments.tolist()


def test_cluster_normalize_on_embeddings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from invariant_inr.cluster import kmeans, l2_normalize

    g = torch.Generator().manual_seed(4)
    z = torch.cat([torch.randn(10, 3, generator=g) * 0.2 + c for c in (torch.tensor([5.0, 0, 0]), torch.tensor([0, 5.0, 0]))])
    torch.save({"z": z}, tmp_path / "z.pt")
    code, _, _ = run(["cluster", "--embeddings", str(tmp_path / "z.pt"), "-k", "2", "--normalize", "--out", str(tmp_path / "n.csv"),
                      "--quiet"], capsys)
    with (tmp_path / "n.csv").open() as handle:
        normalized = [int(row["cluster"]) for row in csv.DictReader(handle)]
    assert code == 0 and normalized == kmeans(l2_normalize(z), 2, seed=0).assignments.tolist()
    code, _, err = run(["cluster", "--embeddings", str(tmp_path / "z.pt"), "-k", "2", "--normalize", "--whiten",
                        "--out", str(tmp_path / "x.csv")], capsys)
    assert code == 2 and "at most one of --whiten and --normalize" in err
