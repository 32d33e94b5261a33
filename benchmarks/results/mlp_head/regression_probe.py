"""Experiment only (not the library): how fast the paper's ``"mlp"`` pose head learns its target alone.

The encoder of the ``mnist-quick`` preset with ``pose="learned", pose_head="mlp"`` is trained on the
symmetry-breaking loss only (no INR, no consistency): each step re-poses a batch of MNIST(U) training
digits twice, as ``IRLINR.loss`` does, and regresses the canonical rule's pose of each copy. Every
``--eval-every`` steps the pose is scored as ``reproduce.py``'s Table 1 scores it: ``relative_pose`` of the
un-posed test digit and of its posed copy against the true move (``metrics.pose_recovery``).
This is the best the head can do from its target within the steps, the ceiling the full model's pose is
measured against; the variants (``--coord``, ``--width``, ``--pool``, ``--lr``) are what the ceiling rests on.

    python regression_probe.py --time-limit 300 --out probe.json [--coord] [--width 32] [--lr 3e-3]
"""
from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
from torch import Tensor, nn

from invariant_inr import IRLINR
from invariant_inr.datasets import MNISTU
from invariant_inr.encoders import SmallCNN
from invariant_inr.inference import encode_all
from invariant_inr.losses import symmetry_breaking_loss
from invariant_inr.metrics import pose_recovery, relative_pose, rotation_error
from invariant_inr.presets import preset
from invariant_inr.se2 import random_pose, transform_images

MNIST_ROOT = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "mnist"


class WithCoordinates(nn.Module):
    """A backbone that also sees two channels of the pixel coordinates (x, y in [-1, 1]): CoordConv."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def forward(self, images: Tensor) -> Tensor:
        b, _, h, w = images.shape
        ys = torch.linspace(-1, 1, h, device=images.device, dtype=images.dtype).view(1, 1, h, 1).expand(b, 1, h, w)
        xs = torch.linspace(-1, 1, w, device=images.device, dtype=images.dtype).view(1, 1, 1, w).expand(b, 1, h, w)
        return self.backbone(torch.cat([images, xs, ys], dim=1))


def score(model: IRLINR, test: MNISTU, base: Tensor) -> dict[str, float]:
    moved = encode_all(model, test.images, batch_size=500)  # eval mode, no gradients, mode restored
    still = encode_all(model, base, batch_size=500)
    theta_hat, tau_hat = relative_pose(still.theta.double(), still.tau.double(), moved.theta.double(), moved.tau.double())
    figures = pose_recovery(test.theta.double(), test.tau.double(), theta_hat, tau_hat).as_dict()
    error = torch.rad2deg(rotation_error(test.theta, theta_hat))  # (N,) degrees in [0, 180]
    figures["beyond_135deg"] = float((error > 135).double().mean())  # a half turn off: the axis found, its sign not
    figures["within_45deg"] = float((error < 45).double().mean())
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--pool", type=int, default=4)
    parser.add_argument("--coord", action="store_true")
    parser.add_argument("--cosine", action="store_true", help="decay the learning rate to 0 over --time-limit (cosine of the elapsed time)")
    parser.add_argument("--rule", default="moments")
    parser.add_argument("--loss", choices=("angle", "vector"), default="angle",
                        help="angle: the symmetry-breaking loss on (cos, sin) of the predicted angle (the library before "
                        "2026-12-08); vector: the same target as a squared error on the head's raw direction output (the "
                        "library's form since)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    common = dict(size=50, translation_std_pixels=5.0, subset="random")
    train = MNISTU(MNIST_ROOT, "train", num_samples=10_000, seed=args.seed, **common)
    test = MNISTU(MNIST_ROOT, "test", num_samples=2_000, seed=args.seed + 1, **common)
    base = test.base_images()
    settings = {**preset("mnist-quick"), "pose": "learned", "pose_head": "mlp", "augment_strength": 0.0, "canonical_rule": args.rule}
    backbone = SmallCNN(3 if args.coord else 1, width=args.width, pool=args.pool)
    features = backbone.out_features
    if args.coord:
        backbone = WithCoordinates(backbone)
    settings.pop("encoder_width")
    model = IRLINR(1, 50, **{**settings, "encoder": backbone, "encoder_features": features}, seed=args.seed)
    encoder = model.encoder
    optimizer = torch.optim.Adam(encoder.parameters(), lr=args.lr)
    generator = torch.Generator().manual_seed(args.seed)
    curve: list[dict[str, float]] = []
    started, step = time.perf_counter(), 0
    while True:
        if step % args.eval_every == 0:
            figures = score(model, test, base)
            curve.append({"step": step, "seconds": time.perf_counter() - started, **figures})
            print(f"step {step:5d} {curve[-1]['seconds']:6.0f} s  rotation Pearson {figures['rotation_pearson']:.4f}  median "
                  f"{figures['rotation_median_error_deg']:.2f} deg  displacement {figures['displacement_pearson_x']:.4f}", flush=True)
        if time.perf_counter() - started > args.time_limit:
            break
        if args.cosine:  # as fit's lr_schedule="cosine" under a time limit
            for group in optimizer.param_groups:
                group["lr"] = 0.5 * args.lr * (1.0 + math.cos(math.pi * min((time.perf_counter() - started) / args.time_limit, 1.0)))
        index = torch.randint(len(train), (args.batch_size,), generator=generator)
        images = train.images[index]
        theta, tau = random_pose(2 * args.batch_size, model.config.translation_std, generator=generator)
        posed = transform_images(images.repeat(2, 1, 1, 1), theta, tau)
        enc, direction = encoder.forward_with_direction(posed)  # direction: the head's raw angle output v
        loss = symmetry_breaking_loss(enc.theta, enc.tau, posed, args.rule, direction=direction if args.loss == "vector" else None)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
    record = {"args": {k: str(v) for k, v in vars(args).items()}, "parameters": sum(p.numel() for p in encoder.parameters()),
              "final_loss": float(loss.detach()), "curve": curve}
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print("DONE", args.out)


if __name__ == "__main__":
    main()
