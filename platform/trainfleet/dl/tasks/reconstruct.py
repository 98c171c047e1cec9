"""Reconstruction (autoencoders): output = input; denoising models see a corrupted input.

The validation metric `val_mse` is the per-pixel squared error on clean inputs, the number
compared with PCA at the same bottleneck size.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.hparams import TrainHparams
from trainfleet.dl.tasks.base import penalty, single_optimizer


class Reconstruct:
    name = "reconstruct"

    def out_dim(self, info: DataInfo, hp: TrainHparams) -> int:
        return info.num_features

    def optimizers(self, model: nn.Module, hp: TrainHparams) -> dict:
        return single_optimizer(model, hp)

    def train_step(self, model, batch, opts, stepper, hp) -> dict[str, float]:
        x = batch["x"]
        noise = getattr(hp, "noise_std", 0.0)
        corrupted = (x + noise * torch.randn_like(x)).clamp(0, 1) if noise else x  # denoising: clean target
        with stepper.autocast():
            loss = F.mse_loss(model(corrupted), x)
            total = loss + penalty(model, hp)
        stepper.step(total, opts["main"])
        return {"train_loss": float(loss.detach())}

    @torch.no_grad()
    def eval_sums(self, model, batch, hp) -> dict[str, float]:
        x = batch["x"]
        err = F.mse_loss(model(x).float(), x, reduction="sum")
        return {"sq_err": float(err), "count": float(len(x)), "values": float(x[0].numel() * len(x))}

    def metrics(self, sums: dict[str, float]) -> dict[str, float]:
        mse = sums["sq_err"] / max(sums["values"], 1.0)
        return {"val_loss": mse, "val_mse": mse}

    def artifacts(self, model, info, seed) -> dict[str, bytes]:
        return {}
