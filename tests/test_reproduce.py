"""The reproduction harness ``benchmarks/reproduce.py`` (issue 3), run end to end on a fake MNIST.

The fake MNIST is a few hundred 28 x 28 "digits" written as IDX files into ``tmp_path``: a bar
whose size and place depend on the label, plus noise. Nothing here reads the real MNIST files or
checks a score against the paper; the tests check that every figure is computed, in range, and
written to ``results.json`` and ``results.md``, that an interrupted run resumes from its
checkpoint, and that ``--config`` is routed and checked.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest
import torch

from invariant_inr.center import CANONICAL_RULES
from invariant_inr.datasets import write_idx

ROOT = Path(__file__).resolve().parents[1]


def _load_benchmark(script: str):
    """Import ``benchmarks/<script>.py`` (not a package) as a module."""
    spec = importlib.util.spec_from_file_location(f"invariant_inr_{script}_benchmark", ROOT / "benchmarks" / f"{script}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


reproduce = _load_benchmark("reproduce")


def write_fake_mnist(root: Path, *, train: int = 120, test: int = 80, seed: int = 0) -> Path:
    """Write the four MNIST IDX files (gzip) with label-dependent bars plus noise; returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(seed)
    for prefix, count in (("train", train), ("t10k", test)):
        labels = torch.arange(count) % 10  # every class present
        labels = labels[torch.randperm(count, generator=generator)]
        images = torch.zeros(count, 28, 28)
        for digit in range(10):
            images[labels == digit, 6 + digit : 9 + digit, 6 : 10 + digit] = 1.0
        noise = torch.rand(count, 28, 28, generator=generator)
        pixels = (images * 200 + noise * 40).clamp(0, 255).to(torch.uint8)
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", pixels)
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", labels.to(torch.uint8))
    return root


def _smoke_args(mnist: Path, out: Path, *extra: str) -> list[str]:
    return [
        "smoke",
        "--mnist-root", str(mnist),
        "--out", str(out),
        "--train-size", "96",
        "--test-size", "64",
        "--image-size", "32",
        "--time-limit", "0.5",
        "--threads", "1",  # small tensors: one thread is fastest, and immune to a busy machine
        "--no-progress",
        "--config", json.dumps({"fit": {"batch_size": 32}, "scan": {"epochs": 2, "num_neighbors": 4, "batch_size": 32}}),
        *extra,
    ]


@pytest.fixture
def keep_threads():
    """``main`` sets torch's thread count; put the test process's back afterwards."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _check_scores(summary: dict, runs: int) -> None:
    assert summary["runs"] == runs
    for key in ("accuracy", "nmi", "ari"):
        entry = summary[key]
        assert len(entry["values"]) == runs
        assert -1.0 <= entry["mean"] <= 1.0 and entry["std"] >= 0.0
    assert 0.0 < summary["accuracy"]["mean"] <= 1.0


POSE_KEYS = {
    "rotation_circular_correlation",
    "rotation_pearson",
    "rotation_median_error_deg",
    "rotation_mean_error_deg",
    "rotation_within_5deg",
    "translation_pearson_x",
    "translation_pearson_y",
    "displacement_pearson_x",
    "displacement_pearson_y",
}


@pytest.mark.slow
def test_smoke_protocol_end_to_end_and_resume(tmp_path: Path, keep_threads: None) -> None:
    mnist = write_fake_mnist(tmp_path / "mnist")
    out = tmp_path / "out"
    returned = reproduce.main(_smoke_args(mnist, out, "--rule", "both", "--baseline-seeds", "1"))

    data = json.loads((out / "results.json").read_text())
    assert data["protocol"] == "smoke" and data["command"].startswith("python benchmarks/reproduce.py smoke")
    assert {"date", "machine", "settings", "paper", "wall_times", "baselines", "models", "data"} <= set(data)
    assert {"cpu", "torch", "torch_threads", "logical_cpus"} <= set(data["machine"])
    assert data["settings"]["train_size"] == 96 and data["settings"]["test_size"] == 64
    assert data["data"]["test"]["n"] == 64 and sum(data["data"]["test"]["labels"]) == 64
    assert data["settings"]["rules"] == ["com", "moments"]
    assert data["settings"]["fit"]["batch_size"] == 32  # --config reached fit
    assert data["wall_times"]["total"] > 0

    # baselines: raw pixels and one canonicalisation per rule, and the rules' own pose recovery
    seeds = len(data["settings"]["kmeans_seeds"])
    for entry in data["baselines"]["clustering"].values():
        _check_scores(entry["kmeans"], 1)  # --baseline-seeds 1
        _check_scores(entry["agglomerative"], 1)
    assert set(data["baselines"]["clustering"]) == (
        {"raw_pixels"} | {f"{rule}_pixels" for rule in CANONICAL_RULES} | {f"{rule}_pixels_pca10" for rule in CANONICAL_RULES if rule != "com"}
        | {f"{rule}_pixels_pca10_unit" for rule in CANONICAL_RULES if rule != "com"}
    )
    assert set(data["baselines"]["pose"]) == set(CANONICAL_RULES)

    # one model per rule, with Tables 1-3
    assert set(data["models"]) == {"com", "moments"} and data["main_models"] == ["com", "moments"]
    for rule, record in data["models"].items():
        training = record["training"]
        assert training["epochs"] >= 1 and training["model_config"]["canonical_rule"] == rule
        assert training["steps"] == training["epochs"] * 3  # 96 images in batches of 32
        assert math.isclose(training["passes_over_training_set"], training["epochs"])
        assert set(record["pose"]) == POSE_KEYS
        assert -1.0 <= record["pose"]["rotation_circular_correlation"] <= 1.0
        _check_scores(record["clustering"]["kmeans"], seeds)
        _check_scores(record["clustering"]["agglomerative"], 1)
        _check_scores(record["clustering_whitened"]["kmeans"], seeds)  # the same clustering on PCA-whitened z
        _check_scores(record["clustering_whitened"]["agglomerative"], 1)
        _check_scores(record["clustering_normalized"]["kmeans"], seeds)  # and on centred, unit-length z
        _check_scores(record["clustering_normalized"]["agglomerative"], 1)
        _check_scores(record["scan"], data["settings"]["scan_runs"])
        assert record["scan"]["mode"] == "features"
        _check_scores(record["scan_whitened"], data["settings"]["scan_runs"])  # the same SCAN on whitened z
        _check_scores(record["scan_normalized"], data["settings"]["scan_runs"])  # and on centred, unit-length z
        assert (out / f"ckpt_{rule}" / "last.pt").is_file() and (out / f"model_{rule}.pt").is_file()
        assert (out / f"z_test_{rule}.npy").is_file() and (out / f"scan_test_{rule}.csv").is_file()
        # the analytic-pose preset's model recovers exactly what its rule recovers from the pixels
        analytic = data["baselines"]["pose"][rule]
        assert math.isclose(record["pose"]["translation_pearson_x"], analytic["translation_pearson_x"], abs_tol=1e-3)
    assert returned["models"].keys() == data["models"].keys()

    markdown = (out / "results.md").read_text()
    for needle in ("## Table 1", "## Table 2", "## Table 3", "## Protocol", "## Gaps to the paper", "`moments` against the paper: k-means on z",
                   "0.9891", "59.6 ± 1.12", "71.53 ± 1.01", "90.4 ± 1.74", "baseline: raw pixels", "`moments`"):
        assert needle in markdown, needle
    assert "## Table 4" not in markdown  # only the full protocol loops over d
    assert "PLACEHOLDER" not in markdown

    # a second run in the same folder finds the budget spent: it loads the checkpoint, trains no further
    epochs = data["models"]["com"]["training"]["epochs"]
    again = reproduce.main(_smoke_args(mnist, out, "--rule", "com", "--skip-scan"))
    training = again["models"]["com"]["training"]
    assert training["resumed_from_epoch"] == epochs and training["epochs"] == epochs
    assert "scan" not in again["models"]["com"]
    assert "not run (--skip-scan)" in (out / "results.md").read_text()


def test_gap_lines_are_computed_from_the_figures() -> None:
    def summary(accuracy: float) -> dict:
        return {"accuracy": {"mean": accuracy, "std": 0.0}, "runs": 1}

    record = {
        "clustering": {"kmeans": summary(0.5), "agglomerative": summary(0.6)},
        "scan": {**summary(0.7), "mode": "features"},
        "pose": {"rotation_pearson": 0.9991},
        "training": {"passes_over_training_set": 2.0, "steps": 100},
    }
    results = {
        "settings": {"protocol": "quick", "train_size": 6000},
        "models": {"moments": record},
        "main_models": ["moments"],
        "baselines": {"clustering": {"raw_pixels": {"kmeans": summary(0.2)}, "com_pixels": {"kmeans": summary(0.55)}}},
    }
    text = "\n".join(reproduce.gap_lines(results))
    # ours minus the paper's 59.6 / 71.53 / 90.4 and 0.9891, in points
    assert "k-means on z 50.0 % (-9.6 points)" in text
    assert "agglomerative on z 60.0 % (-11.5 points)" in text
    assert "SCAN on z 70.0 % (-20.4 points)" in text
    assert "rotation Pearson 0.9991 (+0.0100)" in text
    assert "raw pixels +30.0, com-canonicalised pixels -5.0" in text
    assert "saw 12,000 training images (100 steps), 1/1,000 of the paper's 12,000,000" in text
    assert "features mode" in text
    assert reproduce.gap_lines({"settings": {"protocol": "full"}, "models": {}}) == ["- No model was trained in this run."]


def test_config_routing_and_errors(tmp_path: Path) -> None:
    sections = reproduce._parse_config('{"latent_dim": 4, "num_neighbors": 3, "precision": "bf16", "fit": {"lr": 0.01}}')
    assert sections == {"model": {"latent_dim": 4}, "fit": {"precision": "bf16", "lr": 0.01}, "scan": {"num_neighbors": 3}}
    path = tmp_path / "c.json"
    path.write_text('{"scan": {"runs": 2}}')
    assert reproduce._parse_config(str(path))["scan"] == {"runs": 2}
    with pytest.raises(SystemExit, match="ambiguous"):
        reproduce._parse_config('{"lr": 0.1}')  # fit and SCAN both take lr
    with pytest.raises(SystemExit, match="not an option"):
        reproduce._parse_config('{"learning_rate": 0.1}')
    with pytest.raises(SystemExit, match="unknown option"):
        reproduce._parse_config('{"model": {"depth": 3}}')
    with pytest.raises(SystemExit, match="valid JSON"):
        reproduce._parse_config("{latent_dim: 4}")


def test_settings_per_protocol(tmp_path: Path) -> None:
    parse = reproduce.build_parser().parse_args
    quick = reproduce.resolve_settings(parse(["quick"]))
    assert (quick["train_size"], quick["test_size"], quick["time_limit_per_model"]) == (10_000, 2_000, 1200.0)
    assert quick["preset"] in ("mnist-quick", "quick") and len(quick["rules"]) == 1
    assert quick["fit"]["max_steps_per_epoch"] == 25 and quick["fit"]["epochs"] >= 1000  # the time limit cuts
    full = reproduce.resolve_settings(parse(["full", "--rule", "both", "--time-limit", "0"]))
    assert (full["train_size"], full["test_size"], full["dims"]) == (60_000, 10_000, [32, 64, 128, 256, 512])
    assert full["model"]["encoder"] == "resnet18" and full["model"]["pose"] == "learned"
    assert full["fit"] == {"epochs": 200, "lr": 1e-4, "weight_decay": 5e-4, "batch_size": 128}
    assert full["rules"] == ["com", "moments"] and full["time_limit_per_model"] is None
    smoke = reproduce.resolve_settings(parse(["smoke", "--dims", "4,8", "--time-limit", "7", "--rule", "all"]))
    assert smoke["dims"] == [4, 8] and smoke["time_limit_per_model"] == 7.0
    assert smoke["rules"] == list(CANONICAL_RULES) and smoke["preset"] == "quick"
    assert reproduce.resolve_settings(parse(["smoke", "--rule", "moments"]))["rules"] == ["moments"]
    assert reproduce.DEFAULT_MNIST_ROOT == ROOT.parent / "shared" / "data" / "mnist"


def test_z_ablation_runs_each_variant(tmp_path: Path, keep_threads: None) -> None:
    ablation = _load_benchmark("z_ablation")
    mnist = write_fake_mnist(tmp_path / "mnist", train=64, test=40)
    tiny = {"encoder_width": 4, "num_frequencies": 8, "inr_hidden": [16], "hyper_hidden": [16], "head_hidden": [16], "latent_dim": 4}
    ablation.main([
        "--variants", "plain,augment-flip", "--budget", "0.3", "--threads", "1", "--mnist-root", str(mnist),
        "--out", str(tmp_path / "out"), "--train-size", "64", "--test-size", "40", "--image-size", "32",
        "--batch-size", "16", "--chunk-steps", "2", "--model-overrides", json.dumps(tiny),
    ])
    for variant, strength in (("plain", 0.0), ("augment-flip", 1.0)):
        record = json.loads((tmp_path / "out" / f"{variant}.json").read_text())
        assert record["config"]["augment_strength"] == strength and record["config"]["latent_dim"] == 4
        steps = [evaluation["steps"] for evaluation in record["evaluations"]]
        assert len(steps) == 3 and steps[0] >= 2 and steps == sorted(steps)  # a chunk at least per third
        for evaluation in record["evaluations"]:
            assert 0.1 <= evaluation["kmeans"] <= 1.0 and 0.0 <= evaluation["knn20"] <= 1.0
        assert record["machine"]["device"] == "cpu" and record["command"].startswith("python benchmarks/z_ablation.py")
    # the flip variant replaced the model's deformation; the neighbour purity is a fraction of agreeing labels
    assert ablation.build_model("augment-flip", 0, image_size=32, overrides=tiny).augment.flip == 0.5
    labels = torch.tensor([0, 0, 1, 1])
    z = torch.tensor([[0.0], [0.1], [5.0], [5.1]])
    assert ablation.neighbour_purity(z, labels, k=1) == 1.0
    assert ablation.neighbour_purity(z, labels, k=3) == 1 / 3
    with pytest.raises(SystemExit):
        ablation.main(["--variants", "nonsense", "--out", str(tmp_path / "bad")])


def test_scan_levers_whitened_code_and_heads() -> None:
    # the encoder SCAN fine-tunes through must give exactly the whitened codes the features rows use
    from invariant_inr import IRLINR
    from invariant_inr.cluster import PCAWhitening

    levers = _load_benchmark("scan_levers")
    tiny = {"encoder_width": 4, "num_frequencies": 8, "inr_hidden": [16], "hyper_hidden": [16], "head_hidden": [16], "latent_dim": 4}
    model = IRLINR(1, 16, **tiny).eval()
    images = torch.rand(24, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        z = model.encode(images).z
        whitening = PCAWhitening().fit(z.double())
        through_encoder = levers.WhitenedCode(model, whitening)(images)
    assert torch.allclose(through_encoder.double(), whitening.transform(z.double()), atol=1e-4)
    assert levers.parse_heads("linear, 256") == [None, 256]
    with pytest.raises(Exception, match="hidden width"):
        levers.parse_heads("linear,wide")
    labels = torch.tensor([0, 0, 1, 1])
    assert levers.purity_of(torch.tensor([[1], [0], [3], [2]]), labels) == 1.0
    assert levers.purity_of(torch.tensor([[2], [3], [0], [1]]), labels) == 0.0


def test_scan_levers_augmentations_and_plain_code() -> None:
    from invariant_inr import IRLINR

    levers = _load_benchmark("scan_levers")
    assert levers.scan_augmentation("rt", 1.0, seed=0) is None  # SCAN's own default (R + T)
    images = torch.zeros(6, 1, 20, 20)
    images[:, :, 6:14, 8:12] = 1.0
    first = levers.scan_augmentation("nuisance", 1.0, seed=3)(images)
    again = levers.scan_augmentation("nuisance", 1.0, seed=3)(images)
    assert first.shape == images.shape and torch.isfinite(first).all()
    assert torch.equal(first, again)  # seeded: the same draws for the same seed
    assert not torch.allclose(first, images, atol=1e-3)  # and it does move the images
    model = IRLINR(1, 16, encoder_width=4, num_frequencies=8, inr_hidden=[16], hyper_hidden=[16], head_hidden=[16],
                   latent_dim=4).eval()
    x = torch.rand(5, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.equal(levers.PlainCode(model)(x), model.encode(x).z)


def test_pose_table_rows_of_rules_and_models(tmp_path: Path, keep_threads: None) -> None:
    from invariant_inr import IRLINR

    pose_table = _load_benchmark("pose_table")
    mnist = write_fake_mnist(tmp_path / "mnist", train=40, test=40)
    tiny = {"encoder_width": 4, "num_frequencies": 8, "inr_hidden": [16], "hyper_hidden": [16], "head_hidden": [16], "latent_dim": 4}
    # an analytic-pose model encodes exactly its rule's pose, so its row must repeat the rule's row
    IRLINR(1, 32, pose="analytic", canonical_rule="moments", **tiny).save(tmp_path / "model.pt")
    out = tmp_path / "table" / "results.md"
    pose_table.main([
        "--seeds", "0", "--rules", "moments", "com", "--model", f"0:{tmp_path / 'model.pt'}", "--mnist-root", str(mnist),
        "--test-size", "30", "--image-size", "32", "--threads", "1", "--out", str(out),
    ])
    text = out.read_text()
    assert text.count("| 0 |") == 3 and "--seeds 0 --rules moments com" in text
    rows = {line.split(" | ")[0]: line.split(" | ", 2)[2] for line in text.splitlines() if line.endswith("|") and "| 0 |" in line}
    assert rows["| `moments` rule"] == rows[f"| model `{tmp_path / 'model.pt'}`"]
    assert rows["| `moments` rule"] != rows["| `com` rule"]
    with pytest.raises(SystemExit):
        pose_table.main(["--model", "model.pt"])  # SEED:PATH is required


def test_code_geometry_preparations_and_checkpoint_argument() -> None:
    from invariant_inr.cluster import PCAWhitening

    geometry = _load_benchmark("code_geometry")
    assert geometry.parse_checkpoint("2=/tmp/a/last.pt") == (2, Path("/tmp/a/last.pt"))
    for bad in ("/tmp/a/last.pt", "x=/tmp/a.pt", "1="):
        with pytest.raises(Exception, match="SEED=PATH"):
            geometry.parse_checkpoint(bad)
    g = torch.Generator().manual_seed(0)
    train, test = torch.randn(40, 3, generator=g) * 3 + 1, torch.randn(7, 3, generator=g)
    (plain,) = geometry.prepared("as it is", train, test)
    assert torch.equal(plain, test)
    (unit,) = geometry.prepared("centred, unit length", train, test)
    expected = (test.double() - train.double().mean(0))
    torch.testing.assert_close(unit.double(), expected / expected.norm(dim=1, keepdim=True), atol=1e-6, rtol=0)  # the train mean
    # clusters relabelled by their matched class: a perfect clustering under other ids is diagonal
    labels = torch.arange(10).repeat_interleave(3)
    matrix = geometry.matched_confusion(labels, (labels + 4) % 10)
    assert matrix == (3 * torch.eye(10, dtype=torch.long)).tolist()
    (white,) = geometry.prepared("PCA-whitened", train, test)
    torch.testing.assert_close(white, PCAWhitening().fit(train.double()).transform(test.double()).float())


def test_code_geometry_report_names_the_noise_level() -> None:
    geometry = _load_benchmark("code_geometry")
    record = {"command": "python benchmarks/code_geometry.py", "date": "2026-12-07", "seconds": 1.0, "seeds": 5, "runs": [],
              "machine": {"cpu": "cpu", "torch_threads": 2, "load_average_at_start": [0.0, 0.0, 0.0]}}
    assert "Noise 0." in geometry.markdown(record) and "denoise=auto" not in geometry.markdown(record)
    assert geometry._run_name("/work/n02_s0/ckpt_moments/last.pt") == "n02_s0" and geometry._run_name("/tmp/model.pt") == "model.pt"
    assert "Noise 0.2 (pixels canonicalised with denoise=auto)" in geometry.markdown({**record, "noise": 0.2})
    with pytest.raises(SystemExit):
        geometry.main(["--checkpoint", "0=/nonexistent/last.pt", "--noise", "-1", "--out", "/tmp/unused"])
