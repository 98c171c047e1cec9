"""Classification: class scores -> a loss from the registry; validation loss and accuracy."""

from __future__ import annotations

import torch
from torch import nn

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.hparams import TrainHparams
from trainfleet.dl.tasks.base import penalty, single_optimizer
from trainfleet.dl.tasks.losses import classification_loss, predict_classes

SINGLE_LOGIT_LOSSES = ("bce", "hinge")


class Classify:
    name = "classify"

    def loss_name(self, hp: TrainHparams) -> str:
        return hp.loss or "ce"

    def out_dim(self, info: DataInfo, hp: TrainHparams) -> int:
        """One logit for a binary problem under bce/hinge (Keras `Dense(1, 'sigmoid')`), else one per class."""
        if info.num_classes == 2 and self.loss_name(hp) in SINGLE_LOGIT_LOSSES:
            return 1
        return int(info.num_classes)

    def optimizers(self, model: nn.Module, hp: TrainHparams) -> dict:
        return single_optimizer(model, hp)

    def train_step(self, model, batch, opts, stepper, hp) -> dict[str, float]:
        rule = getattr(model, "learn", None)
        if rule is not None:  # a model with its own learning rule (the perceptron) updates itself
            return rule(batch["x"], batch["y"])
        with stepper.autocast():
            loss = classification_loss(self.loss_name(hp), model(batch["x"]), batch["y"])
            total = loss + penalty(model, hp)
        stepper.step(total, opts["main"])
        return {"train_loss": float(loss.detach())}

    @torch.no_grad()
    def eval_sums(self, model, batch, hp) -> dict[str, float]:
        scores = model(batch["x"]).float()
        return {
            "loss": float(classification_loss(self.loss_name(hp), scores, batch["y"], reduction="sum")),
            "correct": float((predict_classes(scores) == batch["y"]).sum()),
            "count": float(len(batch["y"])),
        }

    def metrics(self, sums: dict[str, float]) -> dict[str, float]:
        n = max(sums["count"], 1.0)
        return {"val_loss": sums["loss"] / n, "val_accuracy": sums["correct"] / n}

    def artifacts(self, model, info, seed) -> dict[str, bytes]:
        return {}
