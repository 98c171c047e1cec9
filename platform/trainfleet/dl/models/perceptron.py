"""Rosenblatt's perceptron (1958; notes L3749-3780): y = step(sum_i w_i x_i + b).

The step activation has no useful gradient, so the perceptron brings its own learning
rule instead of backpropagation: for each sample, w <- w + eta (y - y_hat) x and
b <- b + eta (y - y_hat) (the classical rule; the notes name it but do not state it).
It converges on linearly separable data and can never fit XOR.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.hparams import TrainHparams


class PerceptronHparams(TrainHparams):
    lr: float = Field(0.1, gt=0, description="eta in the learning rule; any eta > 0 converges on separable data")
    loss: Literal["hinge"] = Field("hinge", description="only reported (validation loss); the rule ignores it")


class Perceptron(nn.Module):
    Hparams = PerceptronHparams

    def __init__(self, hp: PerceptronHparams, info: DataInfo, out_dim: int) -> None:
        super().__init__()
        self.hp = hp
        # Parameters without gradients: the rule below, not an optimiser, changes them.
        self.w = nn.Parameter(torch.zeros(info.num_features), requires_grad=False)
        self.b = nn.Parameter(torch.zeros(()), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The score sum_i w_i x_i + b as a (B, 1) logit; its sign is the step activation."""
        return (x.flatten(1) @ self.w + self.b).unsqueeze(1)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return (self.forward(x)[:, 0] > 0).long()  # step(z): 1 if z > 0 else 0

    @torch.no_grad()
    def learn(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        """One pass of the perceptron rule over the batch, sample by sample; returns the error rate."""
        flat = x.flatten(1)
        mistakes = 0
        for xi, yi in zip(flat, y):
            y_hat = int(xi @ self.w + self.b > 0)
            delta = float(yi) - y_hat
            if delta:
                self.w += self.hp.lr * delta * xi
                self.b += self.hp.lr * delta
                mistakes += 1
        return {"train_loss": mistakes / max(len(y), 1)}
