"""Radial basis function network (notes U3.11, type 8, L4830): Gaussian units, linear output.

The notes' two phases: "learning" places the centres (k-means on the training inputs, or
randomly drawn training samples) before gradient training starts, and "interpolation" is the
output layer's weighted sum of the units' responses phi_j(x) = exp(-|x - c_j|^2 / (2 sigma_j^2)).
Widths start at the usual d_max / sqrt(2K) (d_max: largest distance between centres) and, like
the centres (optional) and the output layer, are then trained by gradient descent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Literal

import torch
from pydantic import Field
from torch import nn

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.hparams import TrainHparams


class RBFHparams(TrainHparams):
    centres: int = Field(20, ge=1, description="number of Gaussian units K")
    init: Literal["kmeans", "samples"] = Field("kmeans", description="centres from k-means on the training inputs, "
                                                "or K training samples drawn at random")
    kmeans_iters: int = Field(20, ge=1, description="Lloyd iterations of the k-means start")
    train_centres: bool = Field(True, description="also move the centres by gradient descent (widths always train)")


def kmeans(x: torch.Tensor, k: int, iters: int, generator: torch.Generator) -> torch.Tensor:
    """Lloyd's k-means from k distinct random samples; an emptied cluster keeps its centre."""
    centres = x[torch.randperm(len(x), generator=generator)[:k]].clone()
    for _ in range(iters):
        assign = torch.cdist(x, centres).argmin(1)
        for j in range(len(centres)):
            members = x[assign == j]
            if len(members):
                centres[j] = members.mean(0)
    return centres


class RBF(nn.Module):
    Hparams = RBFHparams

    def __init__(self, hp: RBFHparams, info: DataInfo, out_dim: int) -> None:
        super().__init__()
        self.hp = hp
        self.centres = nn.Parameter(torch.randn(hp.centres, info.num_features), requires_grad=hp.train_centres)
        self.log_sigma = nn.Parameter(torch.zeros(hp.centres))  # widths: positive through exp
        self.head = nn.Linear(hp.centres, out_dim)

    @torch.no_grad()
    def prefit(self, inputs: Callable[[], Iterable[torch.Tensor]]) -> None:
        """Phase one: centres from the training inputs, widths d_max / sqrt(2K)."""
        x = torch.cat([b.flatten(1) for b in inputs()]).float()
        k = self.hp.centres
        if len(x) < k:
            raise ValueError(f"{k} RBF centres need at least {k} training samples, got {len(x)}")
        generator = torch.Generator().manual_seed(int(torch.randint(0, 2**31 - 1, ())))  # from the run's seed
        if self.hp.init == "kmeans":
            centres = kmeans(x, k, self.hp.kmeans_iters, generator)
        else:
            centres = x[torch.randperm(len(x), generator=generator)[:k]]
        self.centres.copy_(centres)
        d_max = float(torch.cdist(centres, centres).max()) if k > 1 else 1.0
        self.log_sigma.fill_(math.log(max(d_max, 1e-3) / math.sqrt(2 * k)))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """phi_j(x) for every unit: (batch, K)."""
        d2 = torch.cdist(x.flatten(1), self.centres).pow(2)
        return torch.exp(-d2 / (2 * torch.exp(2 * self.log_sigma)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
