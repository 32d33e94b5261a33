"""``fit()``: a thin training loop around :meth:`IRLINR.loss`, with checkpoints and resume.

A user with their own loop needs none of this: ``model.loss(images).total.backward()`` is the
whole training signal.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler, TensorDataset

from . import _checks
from ._distributed import join_torchrun_group
from ._io import atomic_save, load_file
from .losses import LossParts
from .model import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, IRLINR, IRLINRConfig

__all__ = ["History", "fit", "make_loader", "seed_everything"]

LOSS_NAMES = ("total", "recon", "consis", "symm")
LR_SCHEDULES = ("constant", "cosine")
"""The values of ``fit(lr_schedule=...)``."""
CHECKPOINT_NAME = "last.pt"


class History(dict):
    """Per-epoch mean of each loss term: ``history["recon"][epoch]``; also ``"epoch_time"`` (s) and ``"lr"``.

    ``"lr"`` is the learning rate the epoch trained with (of the first parameter group).
    """

    def __init__(self, data: dict[str, list[float]] | None = None) -> None:
        super().__init__({name: [] for name in (*LOSS_NAMES, "epoch_time", "lr")})
        if data:
            for key, values in data.items():
                self[key] = list(values)

    @property
    def epochs(self) -> int:
        """Number of completed epochs."""
        return len(self["total"])


def _first_tensor(item: Any) -> Tensor:
    return item[0] if isinstance(item, (tuple, list)) else item


def make_loader(
    data: Tensor | Dataset | DataLoader,
    *,
    batch_size: int = 128,
    shuffle: bool = True,
    num_workers: int = 0,
    drop_last: bool = False,
    generator: torch.Generator | None = None,
    sampler: Any = None,
) -> DataLoader:
    """A ``DataLoader`` over an ``(N, C, H, W)`` tensor, a ``Dataset`` (items: images or ``(image, ...)``), or a loader as is.

    Example:
        >>> import torch
        >>> loader = make_loader(torch.rand(10, 1, 8, 8), batch_size=4)
        >>> [batch[0].shape[0] for batch in loader]
        [4, 4, 2]
    """
    if isinstance(data, DataLoader):
        return data
    if isinstance(data, Tensor):
        _checks.check_images(data, "data")
        data = TensorDataset(data)
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be an (N, C, H, W) tensor, a torch Dataset or a DataLoader, got {type(data).__name__}")
    try:
        length = len(data)  # type: ignore[arg-type]
    except TypeError:
        length = None
    if length == 0:
        raise ValueError("data is an empty dataset; give at least one image")
    _checks.check_positive_int(batch_size, "batch_size")
    _checks.check_positive_int(num_workers, "num_workers", minimum=0)
    return DataLoader(
        data,
        batch_size=batch_size,
        shuffle=shuffle and sampler is None,
        sampler=sampler,
        num_workers=num_workers,
        drop_last=drop_last,
        generator=generator,
    )


def _numpy_rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached_gaussian = np.random.get_state()  # type: ignore[misc]
    return {
        "name": str(name),
        "keys": torch.from_numpy(keys.astype(np.int64)),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached_gaussian": float(cached_gaussian),
    }


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": _numpy_rng_state(),  # as tensors and plain types: weights_only=True cannot load numpy arrays
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            numpy_state["name"],
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def fit(
    model: IRLINR,
    data: Tensor | Dataset | DataLoader,
    *,
    epochs: int = 10,
    batch_size: int = 128,
    lr: float = 1e-4,
    weight_decay: float = 5e-4,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    lr_schedule: Literal["constant", "cosine"] = "constant",
    checkpoint_dir: str | os.PathLike[str] | None = None,
    resume: bool = True,
    seed: int | None = 0,
    device: torch.device | str | None = None,
    progress: bool = True,
    num_workers: int = 0,
    max_steps_per_epoch: int | None = None,
    time_limit: float | None = None,
    callback: Callable[[int, History], None] | None = None,
    precision: Literal["32", "bf16"] = "32",
    channels_last: bool = False,
    compile: bool = False,
) -> History:
    """Train ``model`` with Adam on its IRL-INR loss; returns the per-epoch :class:`History`.

    Defaults follow the paper (appendix B): Adam, learning rate 1e-4, weight decay 5e-4 (L2, as
    ``torch.optim.Adam`` applies it), batch size 128. The Adam update is PyTorch's fused one where
    supported (same algorithm, several times faster on CPU).

    Args:
        model: the :class:`IRLINR` to train (in place).
        data: ``(N, C, H, W)`` float tensor, a ``Dataset`` yielding images or ``(image, label)``, or a
            ``DataLoader``.
        epochs: total number of epochs (a resumed run continues up to this number).
        batch_size: images per step (ignored for a ``DataLoader``).
        lr: Adam learning rate.
        weight_decay: Adam weight decay.
        optimizer: your own optimizer over ``model.parameters()`` (replaces Adam).
        scheduler: optional learning-rate scheduler, stepped once per epoch.
        lr_schedule: ``"constant"`` keeps the learning rate (or leaves it to ``scheduler``);
            ``"cosine"`` lowers every parameter group's rate along a half cosine from its starting
            value to zero over the run, set after each epoch from the run's progress: the larger of
            epochs done / ``epochs`` and seconds spent / ``time_limit``, so a run cut by its time
            limit still ends annealed. A resumed run continues the schedule from where the
            checkpoint left it and spreads the rest over its own ``time_limit``. Not combined with
            ``scheduler``.
        checkpoint_dir: folder for ``last.pt`` written atomically after every epoch (model, optimizer,
            scheduler, RNG states, epoch, history); ``None`` keeps nothing on disk.
        resume: continue from ``checkpoint_dir/last.pt`` when it exists.
        seed: seeds Python, NumPy and PyTorch before training (``None``: leave the RNGs alone).
        device: where to train (default: the model's device); data batches are moved there.
        progress: show a tqdm progress bar.
        num_workers: ``DataLoader`` workers.
        max_steps_per_epoch: cut each epoch after this many steps (for quick runs).
        time_limit: stop after the epoch during which this many seconds have passed.
        callback: called as ``callback(epoch, history)`` after each epoch.
        precision: ``"32"`` (exact float32) or ``"bf16"`` (bfloat16 autocast of the forward pass on
            CPU or CUDA; weights and optimizer stay float32).
        channels_last: store images and convolution weights channels-last (faster convolutions
            on many CPUs and GPUs).
        compile: run the loss through ``torch.compile`` (pays off for long runs; the first steps
            compile).

    Distributed training:
        Under ``torchrun`` the loss runs through ``DistributedDataParallel`` (gradients averaged
        across ranks), each rank reads its own shard through a ``DistributedSampler`` (a
        ``DataLoader`` passed in is rebuilt with one), and only rank 0 shows progress and writes
        checkpoints. Batch size is per rank. A time-based ``lr_schedule="cosine"`` follows rank 0's
        clock on every rank, so all ranks step with the same rate. A script needs no set-up code of its own: when the
        environment says it runs under ``torchrun`` (``WORLD_SIZE`` > 1, ``RANK`` and
        ``MASTER_ADDR`` set) and no process group is initialised, ``fit`` joins one itself (NCCL
        on CUDA, each rank on ``cuda:LOCAL_RANK`` unless ``device`` names a GPU; gloo on the CPU)
        and destroys it before returning, so no global state is left behind (when ``fit`` raises,
        the group is left as it is: destroying it could block while another rank waits in a
        collective, and the process is usually ending). A group the caller initialised before
        ``fit`` is used as it is and never destroyed.

    Returns:
        The :class:`History` of every completed epoch (including resumed ones).

    Example:
        >>> import torch
        >>> from invariant_inr import IRLINR, fit
        >>> model = IRLINR(1, 12, 4, encoder="small", num_frequencies=8, inr_hidden=(16,),
        ...                hyper_hidden=(16,), head_hidden=(32,))
        >>> history = fit(model, torch.rand(8, 1, 12, 12), epochs=2, batch_size=4, progress=False)
        >>> history.epochs, sorted(history)[:2]
        (2, ['consis', 'epoch_time'])
    """
    if not isinstance(model, IRLINR):
        raise TypeError(f"model must be an IRLINR, got {type(model).__name__}")
    _checks.check_positive_int(epochs, "epochs")
    _checks.check_positive_float(lr, "lr")
    _checks.check_positive_float(weight_decay, "weight_decay", allow_zero=True)
    _check_fit_options(seed, optimizer, scheduler, checkpoint_dir, max_steps_per_epoch, time_limit, callback)
    _checks.check_choice(precision, "precision", ("32", "bf16"))
    _checks.check_choice(lr_schedule, "lr_schedule", LR_SCHEDULES)
    if lr_schedule == "cosine" and scheduler is not None:
        raise ValueError("lr_schedule='cosine' and a scheduler both set the learning rate; pass one of them")
    created_group, rank_device = join_torchrun_group(device if device is not None else model.device, device_given=device is not None)
    run = _TrainingRun.set_up(
        model, data, batch_size=batch_size, lr=lr, weight_decay=weight_decay, optimizer=optimizer,
        scheduler=scheduler, checkpoint_dir=checkpoint_dir, seed=seed,
        device=rank_device if created_group or device is not None else None, num_workers=num_workers,
        precision=precision, channels_last=channels_last, compile=compile,
    )  # fmt: skip
    history, start_epoch = run.resume() if resume else (History(), 0)
    cosine = None
    if lr_schedule == "cosine":
        cosine = _CosineSchedule(
            run.optimizer, epochs=epochs, time_limit=time_limit, start_epoch=start_epoch, saved_progress=run.schedule_progress
        )
    started = time.perf_counter()
    for epoch in range(start_epoch, epochs):
        epoch_start = time.perf_counter()
        history["lr"].append(float(run.optimizer.param_groups[0]["lr"]))
        means = run.train_epoch(epoch, epochs=epochs, progress=progress, max_steps=max_steps_per_epoch)
        for name, value in zip(LOSS_NAMES, means):
            history[name].append(value)
        history["epoch_time"].append(time.perf_counter() - epoch_start)
        if run.scheduler is not None:
            run.scheduler.step()
        if cosine is not None:  # every rank steps with rank 0's clock, so their rates agree
            seconds = _from_rank_zero(time.perf_counter() - started, run.distributed, run.device)
            run.schedule_progress = cosine.step(epoch + 1, seconds)
        run.save_checkpoint(epoch + 1, history)
        if callback is not None:
            callback(epoch, history)
        if time_limit is not None and _any_rank(time.perf_counter() - started > time_limit, run.distributed, run.device):
            break
    if created_group:  # not on an error: destroying can block while another rank waits in a collective
        # Both ranks leave together: gloo can abort ("terminate called without an active exception")
        # when one rank tears its group down while the other still has traffic in flight.
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return history


@dataclasses.dataclass
class _TrainingRun:
    """Everything one call of :func:`fit` trains with, built by :meth:`set_up`; one method per step.

    ``resume`` restores a checkpoint, ``train_epoch`` runs one epoch and returns the mean of each
    loss term, ``save_checkpoint`` writes ``last.pt`` (on rank 0 only).
    """

    model: IRLINR
    loader: DataLoader
    sampler: DistributedSampler | None
    loader_generator: torch.Generator
    optimizer: torch.optim.Optimizer
    scheduler: Any
    step_loss: Callable[[Tensor], Any]
    device: torch.device
    autocast_dtype: torch.dtype | None
    channels_last: bool
    distributed: bool
    is_main: bool
    checkpoint_path: Path | None
    schedule_progress: float = 0.0  # of lr_schedule="cosine": 0 at the start, 1 when annealed

    @classmethod
    def set_up(
        cls,
        model: IRLINR,
        data: Tensor | Dataset | DataLoader,
        *,
        batch_size: int,
        lr: float,
        weight_decay: float,
        optimizer: torch.optim.Optimizer | None,
        scheduler: Any,
        checkpoint_dir: str | os.PathLike[str] | None,
        seed: int | None,
        device: torch.device | str | None,
        num_workers: int,
        precision: str,
        channels_last: bool,
        compile: bool,
    ) -> _TrainingRun:
        """Seed, place the model, build the (sharded) loader, the optimizer and the loss to step."""
        if seed is not None:
            seed_everything(int(seed))
        if device is not None:
            model.to(device)
        device = model.device
        if precision == "bf16" and not _native_bf16(device):
            warnings.warn(
                f"precision='bf16' on {device}, which has no native bfloat16 matrix instructions: bfloat16 "
                "is emulated there and usually much slower than float32 (see docs/performance.md)",
                stacklevel=3,
            )
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        # without a seed, draw the loader's seed from the global RNG (torch.seed() would re-seed the global RNG)
        loader_generator = torch.Generator().manual_seed(int(seed) if seed is not None else int(torch.randint(0, 2**62, ()).item()))
        sampler = None
        if distributed:
            data, sampler, batch_size = _shard(data, batch_size, seed)
        loader = make_loader(data, batch_size=batch_size, num_workers=num_workers, generator=loader_generator, sampler=sampler)
        if channels_last:
            model.to(memory_format=torch.channels_last)
        if optimizer is None:
            optimizer = _make_adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        loss_module: nn.Module = _LossModule(model)
        if distributed:
            loss_module = DistributedDataParallel(loss_module, device_ids=[device.index] if device.type == "cuda" else None)
        step_loss: Callable[[Tensor], Any] = loss_module
        if compile:
            step_loss = torch.compile(loss_module, dynamic=False)  # batch-sized random draws need static shapes
        run = cls(
            model=model, loader=loader, sampler=sampler, loader_generator=loader_generator, optimizer=optimizer,
            scheduler=scheduler, step_loss=step_loss, device=device,
            autocast_dtype=torch.bfloat16 if precision == "bf16" else None, channels_last=channels_last,
            distributed=distributed, is_main=not distributed or torch.distributed.get_rank() == 0,
            checkpoint_path=Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None,
        )  # fmt: skip
        run._remove_stale_temporaries()
        return run

    def _remove_stale_temporaries(self) -> None:
        """Delete temporary files of a process killed while writing ``last.pt`` (rank 0 only)."""
        if self.checkpoint_path is not None and self.is_main:
            for stale in self.checkpoint_path.parent.glob(f".{CHECKPOINT_NAME}.*.tmp"):
                stale.unlink(missing_ok=True)

    def resume(self) -> tuple[History, int]:
        """Restore model, optimizer, scheduler, RNGs and history from ``last.pt``; ``(history, first epoch)``."""
        if self.checkpoint_path is None:
            return History(), 0
        if self.distributed:
            torch.distributed.barrier()  # rank 0 may still be writing last.pt (a previous fit in the same processes)
        if not self.checkpoint_path.exists():
            return History(), 0
        state = _load_training_state(self.checkpoint_path, self.model, self.device)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None and state.get("scheduler") is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.loader_generator.set_state(state["loader_rng"])
        _set_rng_state(state["rng"])
        self.schedule_progress = float(state.get("schedule_progress", 0.0))
        return History(state["history"]), int(state["epoch"])

    def train_epoch(self, epoch: int, *, epochs: int, progress: bool, max_steps: int | None) -> list[float]:
        """One pass over the loader (at most ``max_steps`` steps); the mean of each loss term over all ranks."""
        self.model.train()
        if self.sampler is not None:
            self.sampler.set_epoch(epoch)
        sums = torch.zeros(len(LOSS_NAMES), dtype=torch.float64, device=self.device)
        steps = 0
        total_steps = len(self.loader) if max_steps is None else min(len(self.loader), max_steps)
        bar = _progress(total_steps, f"epoch {epoch + 1}/{epochs}", progress and self.is_main)
        for batch in self.loader:
            if max_steps is not None and steps >= max_steps:
                break
            parts = self._step(_first_tensor(batch))
            sums += torch.stack([part.detach() for part in parts]).to(torch.float64)  # no host sync per step
            steps += 1
            if bar is not None:
                bar.update(1)
                if steps % 10 == 0 or steps == total_steps:
                    bar.set_postfix(loss=f"{float(parts.total.detach()):.4f}")
        if bar is not None:
            bar.close()
        if steps == 0:
            raise ValueError("the data loader yielded no batch; is the dataset empty?")
        if self.distributed:
            self._average_over_ranks(sums)
        means = (sums / steps).tolist()
        if not all(math.isfinite(value) for value in means):
            raise FloatingPointError(
                f"the loss became NaN or infinite in epoch {epoch + 1} ({dict(zip(LOSS_NAMES, means))}); "
                "lower the learning rate or check the data"
            )
        return means

    def _step(self, images: Tensor) -> LossParts:
        """One optimisation step on a batch; returns its loss terms."""
        images = images.to(self.device, non_blocking=True)
        if self.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        dtype = self.autocast_dtype
        with torch.autocast(self.device.type, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            parts = self.step_loss(images)
        self.optimizer.zero_grad(set_to_none=True)
        parts.total.backward()
        self.optimizer.step()
        return parts

    def _average_over_ranks(self, sums: Tensor) -> None:
        """Turn ``sums`` into the mean over ranks, in place, and give every rank rank 0's buffers."""
        torch.distributed.all_reduce(sums)
        sums /= torch.distributed.get_world_size()
        # DDP copies rank 0's buffers (BatchNorm statistics) to every rank before each forward; after
        # the epoch's last forward they differ again, so copy them once more: all ranks end identical
        for buffer in self.model.buffers():
            torch.distributed.broadcast(buffer, src=0)

    def save_checkpoint(self, epoch: int, history: History) -> None:
        """Write ``last.pt`` atomically after ``epoch`` completed epochs (rank 0 only; nothing without a folder)."""
        if self.checkpoint_path is None or not self.is_main:
            return
        atomic_save(
            {
                "model": self.model.checkpoint_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
                "schedule_progress": self.schedule_progress,
                "epoch": epoch,
                "history": dict(history),
                "rng": _rng_state(),
                "loader_rng": self.loader_generator.get_state(),
            },
            self.checkpoint_path,
        )


def _shard(data: Tensor | Dataset | DataLoader, batch_size: int, seed: int | None) -> tuple[Dataset, DistributedSampler, int]:
    """The dataset, a shuffling ``DistributedSampler`` over it and the batch size, for one rank."""
    dataset = data.dataset if isinstance(data, DataLoader) else data
    if isinstance(dataset, Tensor):
        _checks.check_images(dataset, "data")
        dataset = TensorDataset(dataset)
    sampler = DistributedSampler(dataset, shuffle=True, seed=int(seed) if seed is not None else 0)
    if isinstance(data, DataLoader):
        batch_size = data.batch_size or batch_size
    return dataset, sampler, batch_size


def _native_bf16(device: torch.device | str) -> bool:
    """Whether ``device`` computes bfloat16 matrix products natively (so ``precision="bf16"`` can pay).

    CUDA: ``torch.cuda.is_bf16_supported()``; CPU: oneDNN's check for AVX512-BF16 / AMX class
    instructions (an AVX2-only CPU emulates bfloat16, several times slower than float32).
    """
    device = torch.device(device)
    if device.type == "cuda":
        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


def _make_adam(params: Any, *, lr: float, weight_decay: float) -> torch.optim.Adam:
    """``torch.optim.Adam``, fused (one kernel over all parameters) where this PyTorch supports it.

    The fused update is the same algorithm and differs from the default one only by float
    rounding; it is several times faster on CPU, where the hypernetwork's output layer (~67M
    parameters at the paper's sizes) makes the optimizer step a sizeable part of a training step.
    """
    params = list(params)
    try:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, ValueError, TypeError):  # older PyTorch or unsupported device/dtype
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)


class _CosineSchedule:
    """``lr_schedule="cosine"``: each group's rate falls from its ``initial_lr`` to zero along a half cosine.

    The progress (0 to 1) is the larger of the epochs done over ``epochs`` and, with a time limit,
    the progress saved in the checkpoint plus this call's share of the rest (seconds spent over
    ``time_limit``). ``initial_lr`` is kept in the parameter groups (as ``torch.optim.lr_scheduler``
    does), so it survives a checkpoint.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, *, epochs: int, time_limit: float | None, start_epoch: int, saved_progress: float) -> None:
        self.optimizer = optimizer
        self.epochs = epochs
        self.time_limit = time_limit
        # the time-based part resumes from the checkpoint; the epoch-based part is absolute
        self.start = min(max(float(saved_progress), 0.0), 1.0) if time_limit is not None else 0.0
        for group in optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self.step(start_epoch, 0.0)

    def step(self, epochs_done: int, seconds: float) -> float:
        """Set the rates for the next epoch; returns the progress reached."""
        progress = epochs_done / self.epochs
        if self.time_limit is not None:
            by_time = seconds / self.time_limit if self.time_limit > 0 else 1.0
            progress = max(progress, self.start + (1.0 - self.start) * by_time)
        progress = min(max(progress, 0.0), 1.0)
        factor = 0.5 * (1.0 + math.cos(math.pi * progress))
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"] * factor
        return progress


class _LossModule(nn.Module):
    """Wraps ``model.loss`` as a ``forward`` so ``DistributedDataParallel`` and ``torch.compile`` see it."""

    def __init__(self, model: IRLINR) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: Tensor) -> LossParts:
        config = self.model.config
        # shapes are checked every step; finiteness (a host-device sync) is not: a tensor dataset was
        # checked once by make_loader, and a NaN anywhere surfaces as a NaN loss at the epoch's end
        _checks.check_images(images, channels=config.in_channels, size=config.image_size, finite=False)
        with _checks.checks_disabled():
            return self.model.loss(images)


def _check_fit_options(
    seed: Any,
    optimizer: Any,
    scheduler: Any,
    checkpoint_dir: Any,
    max_steps_per_epoch: Any,
    time_limit: Any,
    callback: Any,
) -> None:
    """Check ``fit``'s options before any work is done (not after the first epoch)."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"seed must be an int or None, got {_checks.describe(seed)}")
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer or None, got {_checks.describe(optimizer)}")
    if scheduler is not None and not all(callable(getattr(scheduler, name, None)) for name in ("step", "state_dict", "load_state_dict")):
        raise TypeError(
            f"scheduler must be a learning-rate scheduler with step(), state_dict() and load_state_dict(), "
            f"got {_checks.describe(scheduler)}"
        )
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable as callback(epoch, history), got {_checks.describe(callback)}")
    if max_steps_per_epoch is not None:
        _checks.check_positive_int(max_steps_per_epoch, "max_steps_per_epoch")
    if time_limit is not None:
        _checks.check_positive_float(time_limit, "time_limit", allow_zero=True)
    if checkpoint_dir is not None:
        if not isinstance(checkpoint_dir, (str, os.PathLike)):
            raise TypeError(f"checkpoint_dir must be a path (str or os.PathLike) or None, got {_checks.describe(checkpoint_dir)}")
        if Path(checkpoint_dir).exists() and not Path(checkpoint_dir).is_dir():
            raise ValueError(f"checkpoint_dir {str(checkpoint_dir)!r} exists and is not a folder")


def _comparable_config(config: Any) -> dict[str, Any]:
    """A saved configuration with the fields it predates filled in as it was trained (``from_dict``)."""
    if not isinstance(config, dict):
        return {}
    try:
        return IRLINRConfig.from_dict(config).to_dict()
    except (TypeError, ValueError):  # unknown fields (a newer version): compare as saved
        return dict(config)


def _load_training_state(path: Path, model: IRLINR, device: torch.device) -> dict[str, Any]:
    """Read ``last.pt`` and load its weights into ``model``, refusing foreign, newer or mismatched files."""
    state = load_file(path, map_location=device)
    keys = ("model", "optimizer", "epoch", "history", "rng", "loader_rng")
    if not isinstance(state, dict) or not all(key in state for key in keys) or not isinstance(state["model"], dict):
        found = sorted(state) if isinstance(state, dict) else _checks.describe(state)
        raise ValueError(
            f"{str(path)!r} is not a training checkpoint written by fit (expected a dict with keys {list(keys)}, "
            f"got {found}); use another checkpoint_dir or resume=False"
        )
    saved = state["model"]
    if saved.get("format") != CHECKPOINT_FORMAT or not isinstance(saved.get("format_version"), int):
        raise ValueError(f"{str(path)!r} does not hold an invariant-inr model (no 'format': {CHECKPOINT_FORMAT!r} entry)")
    if saved["format_version"] > CHECKPOINT_VERSION:
        raise ValueError(
            f"{str(path)!r} has checkpoint format version {saved['format_version']}, newer than this library's "
            f"{CHECKPOINT_VERSION}; upgrade invariant-inr to resume from it"
        )
    ours = model.config.to_dict()
    theirs = _comparable_config(saved.get("config"))
    # the pose head does not exist with the analytic pose: a changed default of it is no mismatch
    ignored = {"pose_head"} if ours.get("pose") == theirs.get("pose") == "analytic" else set()
    differ = [
        f"{key}: checkpoint {theirs.get(key)!r}, this model {ours.get(key)!r}"
        for key in sorted((set(ours) | set(theirs)) - ignored)
        if theirs.get(key) != ours.get(key)
    ]
    if differ:
        raise ValueError(
            f"{str(path)!r} was written by a model of another architecture ({'; '.join(differ)}); "
            "use another checkpoint_dir, resume=False, or build the model with the checkpoint's config"
        )
    try:
        model.load_state_dict(saved["state_dict"])
    except (RuntimeError, KeyError, TypeError) as error:
        raise ValueError(f"{str(path)!r} does not fit this model's weights: {error}") from error
    return state


def _any_rank(flag: bool, distributed: bool, device: torch.device) -> bool:
    """``flag`` on any rank (so every rank leaves the loop at the same epoch)."""
    if not distributed:
        return flag
    value = torch.tensor(float(flag), device=device)
    torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
    return bool(value.item())


def _from_rank_zero(value: float, distributed: bool, device: torch.device) -> float:
    """Rank 0's ``value`` on every rank (``value`` itself when not distributed)."""
    if not distributed:
        return value
    tensor = torch.tensor(float(value), dtype=torch.float64, device=device)
    torch.distributed.broadcast(tensor, src=0)
    return float(tensor.item())


def _progress(total: int, desc: str, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True)

