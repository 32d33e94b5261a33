"""``fit`` under ``torchrun --nproc_per_node=2`` on the CPU (gloo backend, localhost only).

The worker script trains a tiny model for 2 epochs with a checkpoint folder shared by both ranks, then
builds a fresh model and resumes to 3 epochs from that checkpoint, all inside the same two processes.
Each rank writes its final ``state_dict``, its history, a checksum of the images it was given and the
list of checkpoint writes it made; the test checks that the run finished, that both ranks end with
bit-identical weights and buffers although they saw different images, that only rank 0 wrote the
checkpoint, and that the checkpoint holds rank 0's final weights.

A second worker has no set-up code at all (no ``init_process_group``): ``fit`` must join the
group ``torchrun --standalone`` describes, train one model across both ranks, write the checkpoint
from rank 0 only, and destroy the group it created before returning.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch

WORKER = textwrap.dedent(
    """
    import json, os, sys
    import torch
    import torch.distributed as dist
    import invariant_inr.training as training
    from invariant_inr import IRLINR, fit

    out_dir = sys.argv[1]
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()

    writes = []
    real_save = training.atomic_save

    def recording_save(obj, path):
        writes.append(str(path))
        return real_save(obj, path)

    training.atomic_save = recording_save

    def build():
        model = IRLINR(1, 12, 4, encoder="small", num_frequencies=8, inr_hidden=(16,), hyper_hidden=(16,), head_hidden=(32,))
        seen = []
        real_loss = model.loss

        def loss(images, **kwargs):
            seen.append(float(images.double().sum()))
            return real_loss(images, **kwargs)

        model.loss = loss
        return model, seen

    images = torch.rand(24, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    checkpoint_dir = os.path.join(out_dir, "ckpt")
    model, seen = build()
    first = fit(model, images, epochs=2, batch_size=4, progress=False, checkpoint_dir=checkpoint_dir)
    model, seen_resumed = build()  # a fresh model: everything must come from the checkpoint
    second = fit(model, images, epochs=3, batch_size=4, progress=False, checkpoint_dir=checkpoint_dir)
    torch.save(model.state_dict(), os.path.join(out_dir, f"rank{rank}.pt"))
    # a cosine schedule that follows the clock: each rank's clock differs, rank 0's must rule
    annealed, _ = build()
    cosine = fit(annealed, images, epochs=1000, batch_size=4, progress=False, lr_schedule="cosine", time_limit=0.5)
    torch.save(annealed.state_dict(), os.path.join(out_dir, f"cosine_rank{rank}.pt"))
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as handle:
        json.dump(
            {"rank": rank, "world": world, "writes": writes, "first": first["total"], "second": second["total"],
             "seen": seen, "seen_resumed": seen_resumed, "cosine_lr": cosine["lr"]},
            handle,
        )
    dist.barrier()  # leave together: gloo can abort when one rank tears down while its peer still talks
    dist.destroy_process_group()
    """
)


PLAIN_WORKER = textwrap.dedent(
    """
    import json, os, sys
    import torch
    import torch.distributed as dist
    import invariant_inr.training as training
    from invariant_inr import IRLINR, fit

    out_dir = sys.argv[1]
    torch.set_num_threads(1)
    rank = int(os.environ["RANK"])  # only to name the output files: no process group is set up here
    writes, worlds = [], []
    real_save = training.atomic_save

    def recording_save(obj, path):
        writes.append(str(path))
        return real_save(obj, path)

    training.atomic_save = recording_save

    def during_training(epoch, history):
        worlds.append(dist.get_world_size() if dist.is_initialized() else 1)

    model = IRLINR(1, 12, 4, encoder="small", num_frequencies=8, inr_hidden=(16,), hyper_hidden=(16,), head_hidden=(32,))
    with torch.no_grad():  # different initial weights per rank: only DistributedDataParallel can make them agree
        for parameter in model.parameters():
            parameter.add_(0.01 * rank)
    seen = []
    real_loss = model.loss

    def loss(images, **kwargs):
        seen.append(float(images.double().sum()))
        return real_loss(images, **kwargs)

    model.loss = loss
    images = torch.rand(24, 1, 12, 12, generator=torch.Generator().manual_seed(0))
    checkpoint_dir = os.path.join(out_dir, "ckpt")
    first = fit(model, images, epochs=2, batch_size=4, progress=False, checkpoint_dir=checkpoint_dir,
                callback=during_training)
    after_first = dist.is_initialized()
    second = fit(model, images, epochs=3, batch_size=4, progress=False, checkpoint_dir=checkpoint_dir,
                 callback=during_training)  # joins again and resumes from rank 0's checkpoint
    torch.save(model.state_dict(), os.path.join(out_dir, f"rank{rank}.pt"))
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as handle:
        json.dump({"writes": writes, "worlds": worlds, "seen": seen, "after_first": after_first,
                   "after_second": dist.is_initialized(), "first": first["total"], "second": second["total"]}, handle)
    """
)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_torchrun_two_cpu_ranks_end_identical(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    command = [
        sys.executable, "-m", "torch.distributed.run",
        "--nproc_per_node=2", "--nnodes=1", "--master_addr=127.0.0.1", f"--master_port={_free_port()}",
        str(script), str(tmp_path),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env)
    assert result.returncode == 0, result.stderr[-4000:]

    reports = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert [r["world"] for r in reports] == [2, 2]
    states = [torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) for rank in (0, 1)]
    # identical parameters AND buffers (BatchNorm statistics) on both ranks, bit for bit
    assert states[0].keys() == states[1].keys()
    different = [key for key in states[0] if not torch.equal(states[0][key], states[1][key])]
    assert different == []
    # ...although each rank trained on its own shard of the data (DistributedSampler)
    assert len(reports[0]["seen"]) == len(reports[1]["seen"]) == 2 * 3  # 24 images / 2 ranks / batch 4, 2 epochs
    assert sorted(reports[0]["seen"]) != sorted(reports[1]["seen"])
    # the weights moved: training happened
    fresh = _fresh_state()
    assert any(not torch.equal(fresh[key], states[0][key]) for key in fresh if fresh[key].is_floating_point())
    # only rank 0 wrote checkpoints: one per epoch of each fit
    checkpoint = str(tmp_path / "ckpt" / "last.pt")
    assert reports[0]["writes"] == [checkpoint] * 3
    assert reports[1]["writes"] == []
    saved = torch.load(checkpoint, weights_only=True)
    assert saved["epoch"] == 3
    assert all(torch.equal(saved["model"]["state_dict"][key], states[0][key]) for key in states[0])
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == ["last.pt"]
    # the losses are averaged over ranks, so both ranks report the same history; the resumed fit
    # continued from epoch 2 (one epoch of steps) and kept the first two epochs
    assert reports[0]["first"] == reports[1]["first"] and len(reports[0]["first"]) == 2
    assert reports[0]["second"] == reports[1]["second"]
    assert reports[0]["second"][:2] == reports[0]["first"] and len(reports[0]["second"]) == 3
    assert len(reports[0]["seen_resumed"]) == 3
    # lr_schedule="cosine" with a time limit: the same rates and the same weights on both ranks
    rates = [r["cosine_lr"] for r in reports]
    assert rates[0] == rates[1] and len(rates[0]) >= 2 and rates[0][-1] < rates[0][0]
    annealed = [torch.load(tmp_path / f"cosine_rank{rank}.pt", weights_only=True) for rank in (0, 1)]
    assert [key for key in annealed[0] if not torch.equal(annealed[0][key], annealed[1][key])] == []


@pytest.mark.slow
@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_torchrun_without_setup_code_trains_one_model(tmp_path):
    script = tmp_path / "plain_worker.py"
    script.write_text(PLAIN_WORKER)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script), str(tmp_path)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=240, env=env)
    assert result.returncode == 0, result.stderr[-4000:]

    reports = [json.loads((tmp_path / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    # fit joined a 2-rank group in every epoch, and left no group behind after each call
    assert [r["worlds"] for r in reports] == [[2, 2, 2]] * 2
    assert [(r["after_first"], r["after_second"]) for r in reports] == [(False, False)] * 2
    # the ranks started from different weights and read different shards, yet end bit-identical
    states = [torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) for rank in (0, 1)]
    assert [key for key in states[0] if not torch.equal(states[0][key], states[1][key])] == []
    assert len(reports[0]["seen"]) == len(reports[1]["seen"]) == 3 * 3  # 24 images / 2 ranks / batch 4, 3 epochs
    assert sorted(reports[0]["seen"]) != sorted(reports[1]["seen"])
    assert reports[0]["first"] == reports[1]["first"] and reports[0]["second"][:2] == reports[0]["first"]
    # only rank 0 wrote the checkpoint, once per epoch; it holds the final weights
    checkpoint = str(tmp_path / "ckpt" / "last.pt")
    assert reports[0]["writes"] == [checkpoint] * 3 and reports[1]["writes"] == []
    saved = torch.load(checkpoint, weights_only=True)
    assert saved["epoch"] == 3
    assert all(torch.equal(saved["model"]["state_dict"][key], states[0][key]) for key in states[0])


def _fresh_state() -> dict:
    from invariant_inr import IRLINR

    model = IRLINR(1, 12, 4, encoder="small", num_frequencies=8, inr_hidden=(16,), hyper_hidden=(16,), head_hidden=(32,))
    return model.state_dict()


# ---- joining torchrun's group: the decision logic, without starting processes ----------------


def _torchrun_env(monkeypatch, **extra):
    for key, value in {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1", **extra}.items():
        monkeypatch.setenv(key, value)


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
def test_launched_by_torchrun_needs_world_rank_and_address(monkeypatch):
    from invariant_inr._distributed import launched_by_torchrun

    for key in ("WORLD_SIZE", "RANK", "MASTER_ADDR"):
        monkeypatch.delenv(key, raising=False)
    assert not launched_by_torchrun()
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert not launched_by_torchrun()  # a stray WORLD_SIZE alone is not a launch
    _torchrun_env(monkeypatch)
    assert launched_by_torchrun()
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert not launched_by_torchrun()
    monkeypatch.setenv("WORLD_SIZE", "two")
    assert not launched_by_torchrun()


@pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed is not available")
@pytest.mark.parametrize(
    ("device_name", "given", "backend", "expected"),
    [("cpu", True, "gloo", "cpu"), ("cuda", True, "nccl", "cuda:1"), ("cuda:0", False, "nccl", "cuda:1"),
     ("cuda:0", True, "nccl", "cuda:0")],
)
def test_join_torchrun_group_backend_device_and_fresh_prefix(monkeypatch, device_name, given, backend, expected):
    import invariant_inr._distributed as distributed

    dist = torch.distributed
    _torchrun_env(monkeypatch)
    calls, current, shared = [], [], dist.HashStore()  # torchrun's store outlives every group
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist, "rendezvous", lambda url: iter([(shared, 1, 2)]))
    monkeypatch.setattr(dist, "init_process_group", lambda backend, **kwargs: calls.append((backend, kwargs)))
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: current.append(str(device)))
    created, chosen = distributed.join_torchrun_group(device_name, device_given=given)
    assert created and str(chosen) == expected
    assert current == ([expected] if expected.startswith("cuda") else [])
    created, _ = distributed.join_torchrun_group(device_name, device_given=given)  # a second join: a new key prefix
    (first_backend, first), (_, second) = calls
    assert first_backend == backend and (first["rank"], first["world_size"]) == (1, 2)
    first["store"].set("key", "old")
    assert shared.check([key for key in ("key",)]) is False  # keys go under a prefix, never bare
    assert second["store"].check(["key"]) is False  # the second group cannot read the first group's keys
    second["store"].set("key", "new")
    assert first["store"].get("key") == b"old"
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    assert distributed.join_torchrun_group(device_name) == (False, torch.device(device_name))  # the caller's group: left alone
