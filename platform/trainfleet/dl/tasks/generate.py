"""Adversarial generation (notes L6818-6921): alternate a discriminator step and a generator step.

The discriminator learns real (label 0.9: one-sided label smoothing, Salimans et al. 2016)
vs generated (0); the generator learns to make the discriminator say "real" (1). Only the
generator's optimiser steps in its phase, which is the notes' `discriminator.trainable = False`.
Images are scaled to [-1, 1] to match the generator's tanh output.
"""

from __future__ import annotations

import io

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.hparams import TrainHparams
from trainfleet.dl.tasks.base import make_optimizer

SAMPLES_FILE = "samples.png"


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """Generator output in [-1, 1] -> pixel values in [0, 1]."""
    return (x + 1) / 2


class Generate:
    name = "generate"

    def out_dim(self, info: DataInfo, hp: TrainHparams) -> int:
        return info.num_features

    def optimizers(self, model: nn.Module, hp) -> dict:
        def opt(module: nn.Module) -> torch.optim.Optimizer:
            if hp.optimizer == "adam":  # beta1 = 0.5: the DCGAN paper's setting, steadier than 0.9
                return torch.optim.Adam(module.parameters(), lr=hp.lr, betas=(0.5, 0.999))
            return make_optimizer(hp.optimizer, module.parameters(), hp.lr, hp.momentum)

        return {"d": opt(model.discriminator), "g": opt(model.generator)}

    def train_step(self, model, batch, opts, stepper, hp) -> dict[str, float]:
        real = batch["x"] * 2 - 1
        n = len(real)
        z = torch.randn(n, model.latent_dim, device=real.device)
        with stepper.autocast():
            fake = model.generator(z)
            d_real = model.discriminator(real)
            d_fake = model.discriminator(fake.detach())
            loss_d = F.binary_cross_entropy_with_logits(d_real, torch.full_like(d_real, hp.real_label)) \
                + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
        stepper.step(loss_d, opts["d"])
        with stepper.autocast():
            d_on_fake = model.discriminator(fake)
            loss_g = F.binary_cross_entropy_with_logits(d_on_fake, torch.ones_like(d_on_fake))
        stepper.step(loss_g, opts["g"])
        return {"train_loss": float(loss_g.detach()), "loss_d": float(loss_d.detach()), "loss_g": float(loss_g.detach())}

    @torch.no_grad()
    def eval_sums(self, model, batch, hp) -> dict[str, float]:
        real = batch["x"] * 2 - 1
        z = torch.randn(len(real), model.latent_dim, device=real.device)
        d_real = model.discriminator(real).float()
        d_fake = model.discriminator(model.generator(z)).float()
        loss = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real), reduction="sum") \
            + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake), reduction="sum")
        return {"loss": float(loss), "real_ok": float((d_real > 0).sum()), "fake_ok": float((d_fake < 0).sum()),
                "count": float(len(real))}

    def metrics(self, sums: dict[str, float]) -> dict[str, float]:
        n = max(sums["count"], 1.0)
        return {"val_loss": sums["loss"] / n, "val_d_real_accuracy": sums["real_ok"] / n,
                "val_d_fake_accuracy": sums["fake_ok"] / n}

    def artifacts(self, model, info, seed) -> dict[str, bytes]:
        return {SAMPLES_FILE: sample_grid_png(model, seed)}


@torch.no_grad()
def sample(model: nn.Module, n: int, seed: int) -> torch.Tensor:
    """n generated images in [0, 1], from a fixed noise draw (the same grid every epoch)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, model.latent_dim, generator=g)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    out = to_unit(model.generator(z.to(device))).float().cpu()
    model.train(was_training)
    return out


def sample_grid_png(model: nn.Module, seed: int, rows: int = 10) -> bytes:
    from PIL import Image

    imgs = sample(model, rows * rows, seed).clamp(0, 1).numpy()  # (N, C, H, W)
    n, c, h, w = imgs.shape
    grid = imgs.reshape(rows, rows, c, h, w).transpose(0, 3, 1, 4, 2).reshape(rows * h, rows * w, c)
    pixels = (grid * 255).round().astype(np.uint8)
    image = Image.fromarray(pixels[:, :, 0] if c == 1 else pixels).resize((rows * w * 4, rows * h * 4), Image.NEAREST)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()
