"""Checkpoints: save/load round trips, refusal of foreign or newer files, atomic writes, exact resume,
a training process killed with SIGKILL in the middle of an epoch, and seeded determinism on the CPU."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from invariant_inr import IRLINR, fit
from invariant_inr._io import atomic_save


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models: one thread is faster, and identical numerics need an identical thread count."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


TINY = dict(num_frequencies=8, inr_hidden=(16,), hyper_hidden=(16,), head_hidden=(32,))


def tiny(size: int = 12, **overrides) -> IRLINR:
    options = dict(encoder="small", **TINY)
    options.update(overrides)
    return IRLINR(1, size, 4, **options)


def data(n: int = 16, size: int = 12, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed))


def same_state(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


def hidden_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


class Flat(nn.Module):
    """A custom backbone: flatten the image."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)


# ------------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("encoder", ["small", "resnet18", "custom"])
@pytest.mark.parametrize("pose, rule", [("learned", "com"), ("learned", "moments"), ("analytic", "com"), ("analytic", "moments")])
def test_save_load_round_trip_gives_identical_outputs(tmp_path, encoder, pose, rule):
    kwargs = dict(pose=pose, canonical_rule=rule)
    if encoder == "custom":
        model = tiny(encoder=Flat(), encoder_features=144, **kwargs)
    else:
        model = tiny(encoder=encoder, **kwargs)
    with torch.no_grad():  # move every weight and buffer away from its seeded initial value
        generator = torch.Generator().manual_seed(1)
        for tensor in model.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(0.01 * torch.randn(tensor.shape, generator=generator))
    model.save(tmp_path / "model.pt")
    loaded = IRLINR.load(tmp_path / "model.pt", backbone=Flat() if encoder == "custom" else None)
    assert loaded.config == model.config
    assert same_state(model.state_dict(), loaded.state_dict())
    assert torch.equal(model.fourier.frequencies, loaded.fourier.frequencies)  # the Fourier matrix is saved
    model.eval(), loaded.eval()
    images = data(3)
    with torch.no_grad():
        a, b = model.encode(images), loaded.encode(images)
        assert all(torch.equal(x, y) for x, y in zip(a, b))
        assert torch.equal(model.render(a.z), loaded.render(b.z))
        assert torch.equal(model.render(a.z, size=(7, 9), theta=a.theta, tau=a.tau), loaded.render(b.z, size=(7, 9), theta=b.theta, tau=b.tau))
        assert torch.equal(model.reconstruct(images), loaded.reconstruct(images))


def test_checkpoint_file_loads_with_weights_only_and_holds_plain_types(tmp_path):
    tiny().save(tmp_path / "model.pt")
    raw = torch.load(tmp_path / "model.pt", weights_only=True)
    assert raw["format"] == "invariant-inr" and raw["format_version"] == 1
    assert isinstance(raw["config"], dict) and "fourier.frequencies" in raw["state_dict"]


def test_load_accepts_a_training_checkpoint(tmp_path):
    model = tiny()
    fit(model, data(8), epochs=1, batch_size=4, progress=False, checkpoint_dir=tmp_path)
    loaded = IRLINR.load(tmp_path / "last.pt")
    assert same_state(model.state_dict(), loaded.state_dict())


# ------------------------------------------------------------------------------ refusals
def test_resume_from_another_architecture_is_refused(tmp_path):
    fit(tiny(), data(8), epochs=1, batch_size=4, progress=False, checkpoint_dir=tmp_path)
    other = tiny(num_frequencies=16)
    before = {k: v.clone() for k, v in other.state_dict().items()}
    with pytest.raises(ValueError, match=r"another architecture \(num_frequencies: checkpoint 8, this model 16\)"):
        fit(other, data(8), epochs=2, batch_size=4, progress=False, checkpoint_dir=tmp_path)
    assert same_state(before, other.state_dict())  # nothing was loaded or trained


@pytest.mark.parametrize("pose", ["analytic", "learned"])
def test_checkpoints_from_before_new_options_resume(tmp_path, pose):
    """A training checkpoint written before ``pose_head`` (and ``canonical_denoise``, ``hypernetwork``)
    existed resumes: the missing fields mean what the model was trained with, and with the analytic
    pose the pose head (whose default changed) does not exist at all."""
    old = dict(pose="analytic") if pose == "analytic" else dict(pose="learned", pose_head="mlp")
    fit(tiny(**old), data(8), epochs=1, batch_size=4, progress=False, checkpoint_dir=tmp_path)
    state = torch.load(tmp_path / "last.pt", weights_only=False)
    for field in ("pose_head", "canonical_denoise", "hypernetwork"):
        del state["model"]["config"][field]
    atomic_save(state, tmp_path / "last.pt")
    now = tiny(pose="analytic") if pose == "analytic" else tiny(pose="learned", pose_head="mlp")
    history = fit(now, data(8), epochs=2, batch_size=4, progress=False, checkpoint_dir=tmp_path)
    assert history.epochs == 2 and len(history["total"]) == 2  # resumed after epoch 1
    if pose == "learned":  # the old file's head is the MLP: a weight-map model is another architecture
        with pytest.raises(ValueError, match=r"pose_head: checkpoint 'mlp', this model 'weight_map'"):
            fit(tiny(pose="learned", pose_head="weight_map"), data(8), epochs=3, batch_size=4, progress=False, checkpoint_dir=tmp_path)


def test_newer_format_version_is_refused(tmp_path):
    model = tiny()
    data_ = model.checkpoint_dict()
    data_["format_version"] = 2
    atomic_save(data_, tmp_path / "new.pt")
    with pytest.raises(ValueError, match=r"format version 2, newer than this library's 1"):
        IRLINR.load(tmp_path / "new.pt")
    fit(model, data(8), epochs=1, batch_size=4, progress=False, checkpoint_dir=tmp_path)
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    state["model"]["format_version"] = 2
    atomic_save(state, tmp_path / "last.pt")
    with pytest.raises(ValueError, match=r"format version 2, newer than this library's 1; upgrade"):
        fit(tiny(), data(8), epochs=2, batch_size=4, progress=False, checkpoint_dir=tmp_path)


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04broken zip"])
def test_non_checkpoint_file_is_refused(tmp_path, content):
    (tmp_path / "last.pt").write_bytes(content)
    with pytest.raises(ValueError, match=r"is not a readable invariant-inr checkpoint"):
        IRLINR.load(tmp_path / "last.pt")
    with pytest.raises(ValueError, match=r"is not a readable invariant-inr checkpoint"):
        fit(tiny(), data(8), epochs=1, batch_size=4, progress=False, checkpoint_dir=tmp_path)


# --------------------------------------------------------------------------- atomic writes
def _crashing_save(real_save):
    def crash(obj, handle, *args, **kwargs):
        handle.write(b"PK\x03\x04 half a checkpoint")  # some bytes reach the disk, then the process "dies"
        handle.flush()
        raise OSError("simulated crash in the middle of torch.save")

    return crash


def test_crash_while_saving_a_model_keeps_the_previous_file(tmp_path, monkeypatch):
    first = tiny(seed=1)
    first.save(tmp_path / "model.pt")
    before = (tmp_path / "model.pt").read_bytes()
    monkeypatch.setattr(torch, "save", _crashing_save(torch.save))
    with pytest.raises(OSError, match="simulated crash"):
        tiny(seed=2).save(tmp_path / "model.pt")
    monkeypatch.undo()
    assert (tmp_path / "model.pt").read_bytes() == before
    assert same_state(IRLINR.load(tmp_path / "model.pt").state_dict(), first.state_dict())
    assert hidden_files(tmp_path) == []  # the temporary file was removed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


def test_crash_while_writing_a_training_checkpoint_keeps_the_last_one_and_resumes(tmp_path, monkeypatch):
    images = data(8)
    fit(tiny(), images, epochs=1, batch_size=4, progress=False, checkpoint_dir=tmp_path)
    monkeypatch.setattr(torch, "save", _crashing_save(torch.save))
    with pytest.raises(OSError, match="simulated crash"):
        fit(tiny(), images, epochs=3, batch_size=4, progress=False, checkpoint_dir=tmp_path)
    monkeypatch.undo()
    assert torch.load(tmp_path / "last.pt", weights_only=True)["epoch"] == 1  # epoch 2's write never landed
    assert hidden_files(tmp_path) == []
    resumed = tiny()
    history = fit(resumed, images, epochs=3, batch_size=4, progress=False, checkpoint_dir=tmp_path)
    straight = tiny()
    reference = fit(straight, images, epochs=3, batch_size=4, progress=False)
    assert history["total"] == reference["total"]
    assert same_state(resumed.state_dict(), straight.state_dict())


def test_fit_removes_temporary_files_left_by_a_killed_writer(tmp_path):
    stale = tmp_path / ".last.pt.k1ll3d.tmp"
    stale.write_bytes(b"half")
    unrelated = tmp_path / "notes.txt"
    unrelated.write_text("keep me")
    fit(tiny(), data(8), epochs=1, batch_size=4, progress=False, checkpoint_dir=tmp_path)
    assert not stale.exists() and unrelated.exists()


# ----------------------------------------------------------------------------- exact resume
@pytest.mark.parametrize("variant", ["default", "scheduler-pixel-subset-learned-moments"])
def test_resume_equals_uninterrupted_training(tmp_path, variant):
    """Train 2 epochs with checkpoints, continue in a new model object to 4, compare with 4 straight epochs."""
    options: dict = {}
    if variant != "default":
        options = dict(pixel_fraction=0.5, canonical_rule="moments")

    def run(epochs: int, model: IRLINR, checkpoint_dir):
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5) if variant != "default" else None
        history = fit(
            model, data(16), epochs=epochs, batch_size=4, progress=False, optimizer=optimizer, scheduler=scheduler,
            checkpoint_dir=checkpoint_dir,
        )
        return history, optimizer, scheduler

    run(2, tiny(**options), tmp_path)
    assert torch.load(tmp_path / "last.pt", weights_only=True)["epoch"] == 2
    resumed = tiny(**options)
    history, optimizer, scheduler = run(4, resumed, tmp_path)
    straight = tiny(**options)
    reference, ref_optimizer, ref_scheduler = run(4, straight, None)
    for name in ("total", "recon", "consis", "symm"):
        assert history[name] == reference[name], name  # bit for bit, every epoch
    assert same_state(resumed.state_dict(), straight.state_dict())
    state, ref_state = optimizer.state_dict()["state"], ref_optimizer.state_dict()["state"]
    assert all(same_state(state[key], ref_state[key]) for key in ref_state)
    if scheduler is not None:
        assert scheduler.state_dict() == ref_scheduler.state_dict()
        assert optimizer.param_groups[0]["lr"] == ref_optimizer.param_groups[0]["lr"] == 1e-3 * 0.5**4


def test_cosine_schedule_resumes_exactly(tmp_path):
    """lr_schedule="cosine" over 4 epochs, interrupted after 2 and resumed by a new model object, equals 4 straight epochs."""

    def run(model, folder, callback=None):
        return fit(
            model, data(16), epochs=4, batch_size=4, lr=1e-3, progress=False, lr_schedule="cosine",
            checkpoint_dir=folder, callback=callback,
        )  # fmt: skip

    def interrupt_after_two(epoch, history):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(tiny(), tmp_path, interrupt_after_two)
    resumed = tiny()
    history = run(resumed, tmp_path)
    straight = tiny()
    reference = run(straight, None)
    # half cosine from 1e-3: the rate of epoch e is 1e-3 * (1 + cos(pi e / 4)) / 2
    expected = [1e-3 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)]
    assert history["lr"] == pytest.approx(expected, rel=1e-12) and reference["lr"] == history["lr"]
    assert history["total"] == reference["total"]
    assert same_state(resumed.state_dict(), straight.state_dict())


def test_cosine_schedule_anneals_within_the_time_limit(monkeypatch):
    """With a time limit the schedule follows the clock: the run ends at a rate near zero."""
    import types

    import invariant_inr.training as training

    clock = iter(float(t) for t in range(10_000))  # each reading of fit's clock moves it one second on
    monkeypatch.setattr(training, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    history = fit(tiny(), data(8), epochs=1000, batch_size=4, lr=1e-3, progress=False, lr_schedule="cosine", time_limit=20)
    assert 3 <= history.epochs < 20  # cut by the time limit long before 1000 epochs
    assert history["lr"][0] == 1e-3
    assert all(a > b for a, b in zip(history["lr"], history["lr"][1:]))  # falls every epoch
    assert history["lr"][-1] < 0.25e-3  # the last epoch trains in the schedule's last quarter


def test_resume_of_a_finished_run_trains_nothing(tmp_path):
    model = tiny()
    history = fit(model, data(8), epochs=2, batch_size=4, progress=False, checkpoint_dir=tmp_path)
    again = tiny()
    repeat = fit(again, data(8), epochs=2, batch_size=4, progress=False, checkpoint_dir=tmp_path)
    assert repeat["total"] == history["total"]
    assert same_state(model.state_dict(), again.state_dict())


# ----------------------------------------------------------------------------- determinism
def test_two_seeded_cpu_runs_are_identical():
    histories, states = [], []
    for _ in range(2):
        model = tiny(pixel_fraction=0.5)
        histories.append(fit(model, data(16), epochs=2, batch_size=4, progress=False, seed=123))
        states.append(model.state_dict())
    assert histories[0]["total"] == histories[1]["total"]
    assert same_state(*states)
    other = fit(tiny(pixel_fraction=0.5), data(16), epochs=2, batch_size=4, progress=False, seed=124)
    assert other["total"] != histories[0]["total"]  # the seed matters


def test_seed_none_does_not_reseed_the_global_generator():
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    fit(tiny(), data(4), epochs=1, batch_size=4, progress=False, seed=None)
    torch.manual_seed(5)
    assert torch.equal(torch.rand(3), expected)
    # and with seed=None two runs from the same global state agree
    runs = []
    for _ in range(2):
        torch.manual_seed(9)
        runs.append(fit(tiny(), data(8), epochs=1, batch_size=4, progress=False, seed=None)["total"])
    assert runs[0] == runs[1]


# ------------------------------------------------------------------------- SIGKILL + resume
TRAIN_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    import torch
    from invariant_inr import IRLINR, fit

    checkpoint_dir, epochs = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(1)
    model = IRLINR(1, 12, 4, encoder="small", num_frequencies=8, inr_hidden=(16,), hyper_hidden=(16,), head_hidden=(32,))
    images = torch.rand(16, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    real_loss = model.loss

    def slow_loss(batch, **kwargs):  # a slow step, so the kill lands inside an epoch
        print("step", flush=True)
        time.sleep(0.1)
        return real_loss(batch, **kwargs)

    model.loss = slow_loss

    def report(epoch, history):
        print("epoch_done", epoch + 1, json.dumps(history["total"], separators=(",", ":")), flush=True)

    history = fit(model, images, epochs=epochs, batch_size=4, progress=False, checkpoint_dir=checkpoint_dir, callback=report)
    print("finished", json.dumps(history["total"], separators=(",", ":")), flush=True)
    """
)


def _start(script: Path, checkpoint_dir: Path, epochs: int) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, str(script), str(checkpoint_dir), str(epochs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )


def _read_lines(proc: subprocess.Popen, deadline: float):
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            return
        yield line.split()


@pytest.mark.slow
def test_sigkill_in_the_middle_of_an_epoch_then_resume(tmp_path):
    epochs = 5
    script = tmp_path / "train.py"
    script.write_text(TRAIN_SCRIPT)
    checkpoint_dir = tmp_path / "ckpt"
    deadline = time.monotonic() + 120

    # 1. run until at least one epoch is saved and the next epoch is two steps in, then SIGKILL
    proc = _start(script, checkpoint_dir, epochs)
    done_before_kill, steps_after, saved_totals = 0, 0, None
    for words in _read_lines(proc, deadline):
        if words[0] == "epoch_done":
            done_before_kill, steps_after, saved_totals = int(words[1]), 0, json.loads(words[2])
        elif words[0] == "step" and done_before_kill >= 1:
            steps_after += 1
            if steps_after == 2:
                proc.send_signal(signal.SIGKILL)
                break
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the training process finished before it could be killed"
    assert 1 <= done_before_kill < epochs
    state = torch.load(checkpoint_dir / "last.pt", weights_only=True)
    assert state["epoch"] == done_before_kill  # the checkpoint of the last finished epoch survived the kill
    assert state["history"]["total"] == saved_totals

    # 2. restart the same command: it resumes from the checkpoint's epoch and finishes
    proc = _start(script, checkpoint_dir, epochs)
    ran, final = [], None
    for words in _read_lines(proc, deadline):
        if words[0] == "epoch_done":
            ran.append(int(words[1]))
        elif words[0] == "finished":
            final = json.loads(words[1])
    proc.wait(timeout=30)
    assert proc.returncode == 0
    assert ran == list(range(done_before_kill + 1, epochs + 1))  # continued where it stopped, not from epoch 1
    assert final is not None and len(final) == epochs  # every epoch is in the history
    assert final[:done_before_kill] == saved_totals
    assert torch.load(checkpoint_dir / "last.pt", weights_only=True)["epoch"] == epochs
    assert hidden_files(checkpoint_dir) == []

    # 3. the killed-and-resumed run equals an uninterrupted one (same code, one thread, same seed)
    model = tiny()
    reference = fit(model, data(16), epochs=epochs, batch_size=4, progress=False)
    assert final == reference["total"]
