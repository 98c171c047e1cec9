"""Regression: a real-valued output, MSE/MAE/Huber loss; validation loss and MAE (notes L5372-5396)."""

from __future__ import annotations

import torch
from torch import nn

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.hparams import TrainHparams
from trainfleet.dl.tasks.base import penalty, single_optimizer
from trainfleet.dl.tasks.losses import regression_loss


class Regress:
    name = "regress"

    def loss_name(self, hp: TrainHparams) -> str:
        return hp.loss or "mse"

    def out_dim(self, info: DataInfo, hp: TrainHparams) -> int:
        return 1

    def optimizers(self, model: nn.Module, hp: TrainHparams) -> dict:
        return single_optimizer(model, hp)

    def train_step(self, model, batch, opts, stepper, hp) -> dict[str, float]:
        with stepper.autocast():
            loss = regression_loss(self.loss_name(hp), model(batch["x"])[:, 0], batch["y"])
            total = loss + penalty(model, hp)
        stepper.step(total, opts["main"])
        return {"train_loss": float(loss.detach())}

    @torch.no_grad()
    def eval_sums(self, model, batch, hp) -> dict[str, float]:
        pred = model(batch["x"]).float()[:, 0]
        return {
            "loss": float(regression_loss(self.loss_name(hp), pred, batch["y"], reduction="sum")),
            "abs_err": float((pred - batch["y"]).abs().sum()),
            "count": float(len(pred)),
        }

    def metrics(self, sums: dict[str, float]) -> dict[str, float]:
        n = max(sums["count"], 1.0)
        return {"val_loss": sums["loss"] / n, "val_mae": sums["abs_err"] / n}

    def artifacts(self, model, info, seed) -> dict[str, bytes]:
        return {}
