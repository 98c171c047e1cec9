"""The task interface, the optimiser registry (notes L3568-3576) and the L1/L2 penalty."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

import torch
from torch import nn

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.ftrl import Ftrl
from trainfleet.dl.hparams import TrainHparams


class Stepper(Protocol):
    """Given by the engine: mixed precision and the backward/clip/step sequence in one place."""

    def autocast(self) -> Any: ...

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None: ...


class Task(Protocol):
    name: str

    def out_dim(self, info: DataInfo, hp: TrainHparams) -> int: ...

    def optimizers(self, model: nn.Module, hp: TrainHparams) -> dict[str, torch.optim.Optimizer]: ...

    def train_step(self, model: nn.Module, batch: dict[str, torch.Tensor], opts: dict, stepper: Stepper, hp: Any) -> dict[str, float]:
        """One update on one batch; returns the batch's mean losses (`train_loss` at least)."""

    def eval_sums(self, model: nn.Module, batch: dict[str, torch.Tensor], hp: Any) -> dict[str, float]:
        """Sums over a validation batch (`count` included), so shards and batches add up exactly."""

    def metrics(self, sums: dict[str, float]) -> dict[str, float]:
        """Summed validation statistics -> `val_loss`, `val_<metric>`."""

    def artifacts(self, model: nn.Module, info: DataInfo, seed: int) -> dict[str, bytes]:
        """Files to keep with a checkpoint (e.g. a GAN's sample grid)."""


def make_optimizer(name: str, params: Iterable[Any], lr: float, momentum: float = 0.9,
                   ftrl: dict[str, float] | None = None) -> torch.optim.Optimizer:
    """The optimisers of the notes by name; `params` may be tensors or param groups with their own lr.

    `gd` and `sgd` share the plain update: what makes `gd` full-batch is the batches it is given.
    `ftrl` takes its beta, l1 and l2 from `ftrl`.
    """
    o = torch.optim
    if name == "ftrl":
        return Ftrl(params, lr=lr, **(ftrl or {}))
    if name in ("gd", "sgd"):
        return o.SGD(params, lr=lr)
    if name == "momentum":
        return o.SGD(params, lr=lr, momentum=momentum)
    table = {"adam": o.Adam, "adagrad": o.Adagrad, "adadelta": o.Adadelta, "adamax": o.Adamax,
             "nadam": o.NAdam, "rmsprop": o.RMSprop}
    return table[name](params, lr=lr)


def param_groups(model: nn.Module, lr: float) -> list[dict[str, Any]]:
    """Trainable parameters; a model may split them (transfer learning: a lower lr for the base)."""
    groups = getattr(model, "param_groups", None)
    if groups is not None:
        return groups(lr)
    return [{"params": [p for p in model.parameters() if p.requires_grad], "lr": lr}]


def single_optimizer(model: nn.Module, hp: TrainHparams) -> dict[str, torch.optim.Optimizer]:
    """One optimiser over the trainable parameters; none for a model with its own rule (perceptron)."""
    groups = [g for g in param_groups(model, hp.lr) if g["params"]]
    if not groups:
        return {}
    ftrl = {"beta": hp.ftrl_beta, "l1": hp.l1, "l2": hp.l2}
    return {"main": make_optimizer(hp.optimizer, groups, hp.lr, hp.momentum, ftrl)}


def penalty(model: nn.Module, hp: TrainHparams) -> torch.Tensor | float:
    """lambda1 * sum|w| + lambda2 * sum w^2 over weight matrices/kernels (biases and norms excluded).

    None under `ftrl`, whose optimiser applies l1/l2 itself.
    """
    if not (hp.l1 or hp.l2) or hp.optimizer == "ftrl":
        return 0.0
    weights = [p for p in model.parameters() if p.requires_grad and p.dim() > 1]
    total = 0.0
    if hp.l1:
        total = total + hp.l1 * sum(w.abs().sum() for w in weights)
    if hp.l2:
        total = total + hp.l2 * sum(w.pow(2).sum() for w in weights)
    return total
