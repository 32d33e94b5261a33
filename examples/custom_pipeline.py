"""Plug IRL-INR into your own pipeline: your encoder backbone, your training loop, the blocks by hand.

    python examples/custom_pipeline.py            # a few minutes on 2 CPU cores
    python examples/custom_pipeline.py --smoke    # seconds
    python examples/custom_pipeline.py --epochs 200 --num-train 60000 --device cuda --bf16   # large scale

Three things a research codebase usually needs:

1. **Your own backbone.** Any ``nn.Module`` mapping ``(B, C, H, W)`` images to ``(B, F)`` features
   works: ``IRLINR(encoder=backbone, encoder_features=F)``. The pose head and the hypernetwork
   are built around it.
2. **Your own loop.** ``model.loss(images)`` returns the differentiable loss terms
   ``(total, recon, consis, symm)``; use any optimizer, scheduler, mixed precision, logging.
3. **The blocks by hand.** ``model.encoder``, ``model.hyper``, ``model.fourier`` and ``model.inr``
   are public modules; this script renders images through them step by step and checks that the
   result equals ``model.reconstruct``.
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from invariant_inr import IRLINR
from invariant_inr.datasets import make_sprites
from invariant_inr.se2 import coordinate_grid, transform_points


class MyBackbone(nn.Module):
    """A small residual CNN standing in for your own architecture: ``(B, C, H, W) -> (B, 4 * width * 4)``."""

    def __init__(self, in_channels: int = 1, width: int = 24) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1), nn.GroupNorm(4, width), nn.SiLU())
        self.block = nn.Sequential(nn.Conv2d(width, width, 3, padding=1), nn.GroupNorm(4, width), nn.SiLU(),
                                   nn.Conv2d(width, width, 3, padding=1), nn.GroupNorm(4, width))
        self.down = nn.Sequential(nn.Conv2d(width, 4 * width, 3, stride=2, padding=1), nn.SiLU(), nn.AdaptiveAvgPool2d(2))
        self.out_features = 4 * width * 4

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = self.stem(images)
        x = nn.functional.silu(x + self.block(x))  # a residual block
        return self.down(x).flatten(1)  # (B, out_features)


def render_by_hand(model: IRLINR, images: torch.Tensor) -> torch.Tensor:
    """``model.reconstruct(images)`` written out with the public blocks (paper figure 1)."""
    batch, channels, height, width = images.shape
    z, theta, tau = model.encoder(images)  # (B, d), (B,), (B, 2)
    eta = model.hyper(z)  # (B, K): the weights of one INR per image, K = model.inr.num_params
    grid = coordinate_grid(height, width, device=images.device).reshape(-1, 2)  # (P, 2) pixel centres (x, y), y up
    moved = transform_points(grid, theta, tau)  # (B, P, 2): S_{theta,tau}(x) = R_theta(x + tau)
    values = model.inr(model.fourier(moved), eta)  # (B, P, 2f) Fourier features -> (B, P, C)
    return values.transpose(1, 2).reshape(batch, channels, height, width)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="a tiny run of seconds")
    parser.add_argument("--num-train", type=int, default=1500)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--pose", choices=("learned", "analytic"), default="analytic",
                        help="learned: the paper's pose head (needs longer training); analytic: from the pixels")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast of the forward pass")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default="custom_model.pt")
    args = parser.parse_args()
    if args.smoke:
        args.num_train, args.epochs = 48, 1
    torch.manual_seed(0)
    device = torch.device(args.device)

    # 1. your backbone inside IRL-INR
    backbone = MyBackbone(in_channels=1)
    model = IRLINR(
        in_channels=1, image_size=32, latent_dim=16,
        encoder=backbone, encoder_features=backbone.out_features,
        pose=args.pose, canonical_rule="moments",
        num_frequencies=64, inr_hidden=(128, 128), hyper_hidden=(128, 128), head_hidden=(256,),
        pixel_fraction=0.5, translation_std=0.05,
    ).to(device)  # fmt: skip

    # 2. your loop: AdamW, cosine schedule, gradient clipping, optional bf16 autocast
    data = make_sprites(args.num_train, size=32, seed=0)
    loader = DataLoader(TensorDataset(data.images), batch_size=args.batch_size, shuffle=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    total_steps = max(1, args.epochs * len(loader))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step / total_steps)))
    generator = torch.Generator().manual_seed(0)  # the random poses of the consistency loss, reproducible
    started, step = time.perf_counter(), 0
    model.train()
    for epoch in range(args.epochs):
        for (images,) in loader:
            images = images.to(device)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.bf16):
                parts = model.loss(images, generator=generator)  # LossParts(total, recon, consis, symm)
            optimizer.zero_grad(set_to_none=True)
            parts.total.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            scheduler.step()
            step += 1
            if step % 20 == 0 or step == total_steps:
                print(f"epoch {epoch + 1} step {step}/{total_steps}: "
                      + ", ".join(f"{name} {float(value.detach()):.4f}" for name, value in parts._asdict().items())
                      + f" ({time.perf_counter() - started:.0f} s)")

    # 3. the blocks by hand give the same images as the facade
    model.eval()
    test = make_sprites(16, size=32, seed=1).images.to(device)
    with torch.no_grad():
        by_hand, facade = render_by_hand(model, test), model.reconstruct(test)
    error = float((by_hand - facade).abs().max())
    print(f"rendering by hand vs model.reconstruct: max difference {error:.2e}")
    if error > 1e-4:
        raise SystemExit("the hand-written rendering disagrees with model.reconstruct")

    # save, and load with the same backbone class (a custom backbone is code, not data)
    model.save(args.out)
    reloaded = IRLINR.load(args.out, backbone=MyBackbone(in_channels=1)).to(device).eval()
    with torch.no_grad():
        same = torch.allclose(reloaded.encode(test).z, model.encode(test).z, atol=1e-6)
    print(f"saved to {args.out}; reloaded model gives the same codes: {same}")


if __name__ == "__main__":
    main()
