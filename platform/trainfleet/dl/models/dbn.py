"""Deep belief network (notes U3.11, type 10, L4859): stacked RBMs, greedy pretraining, fine-tuning.

The notes' recipe: "a stack of restricted Boltzmann machines" trained "in a greedy layer-wise
fashion", then "unsupervised pretraining with supervised fine-tuning". Each RBM (Bernoulli
hidden units; visible units are the previous layer's probabilities, so inputs belong in [0, 1])
learns by contrastive divergence CD-k (Hinton 2002) on the activations of the RBMs below it,
before gradient training starts (`prefit`). Fine-tuning then trains the stack as a sigmoid
feed-forward network (each RBM's weights and hidden biases) with a new linear classifier head.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from pydantic import Field
from torch import nn

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.hparams import TrainHparams
from trainfleet.fields import Width


class DBNHparams(TrainHparams):
    hidden: list[Width] = Field([256, 128], min_length=1, description="hidden units of each stacked RBM")
    cd_k: int = Field(1, ge=1, description="Gibbs steps of contrastive divergence (CD-k)")
    pretrain_epochs: int = Field(10, ge=0, description="CD epochs per RBM over the training inputs (0: no pretraining)")
    pretrain_lr: float = Field(0.05, gt=0, description="CD learning rate (plain SGD on the CD gradient)")


class RBM(nn.Module):
    """Restricted Boltzmann machine with Bernoulli hidden units; W is (hidden, visible)."""

    def __init__(self, visible: int, hidden: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(hidden, visible) * 0.01)
        self.hidden_bias = nn.Parameter(torch.zeros(hidden))
        self.visible_bias = nn.Parameter(torch.zeros(visible), requires_grad=False)  # pretraining only

    def hidden_prob(self, v: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(v @ self.weight.T + self.hidden_bias)

    def visible_prob(self, h: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(h @ self.weight + self.visible_bias)

    @torch.no_grad()
    def cd_step(self, v0: torch.Tensor, k: int, lr: float) -> float:
        """One CD-k update on a batch; returns its reconstruction error (mean squared, one Gibbs step)."""
        ph0 = self.hidden_prob(v0)
        h = torch.bernoulli(ph0)
        for _ in range(k):
            vk = self.visible_prob(h)  # mean-field visibles (less sampling noise than binary samples)
            phk = self.hidden_prob(vk)
            h = torch.bernoulli(phk)
        n = len(v0)
        self.weight.add_(lr * (ph0.T @ v0 - phk.T @ vk) / n)
        self.hidden_bias.add_(lr * (ph0 - phk).mean(0))
        self.visible_bias.add_(lr * (v0 - vk).mean(0))
        return self.reconstruction_error(v0)

    @torch.no_grad()
    def reconstruction_error(self, v: torch.Tensor) -> float:
        """Mean squared error of v -> p(h|v) -> p(v|h): what CD training lowers."""
        return float((self.visible_prob(self.hidden_prob(v)) - v).pow(2).mean())


class DBN(nn.Module):
    Hparams = DBNHparams

    def __init__(self, hp: DBNHparams, info: DataInfo, out_dim: int) -> None:
        super().__init__()
        self.hp = hp
        sizes = [info.num_features, *hp.hidden]
        self.stack = [RBM(v, h) for v, h in zip(sizes, sizes[1:])]
        self.rbms = nn.ModuleList(self.stack)  # registers the same modules (stack: their typed view)
        self.head = nn.Linear(hp.hidden[-1], out_dim)

    @torch.no_grad()
    def prefit(self, inputs: Callable[[], Iterable[torch.Tensor]]) -> None:
        """Greedy layer-wise pretraining: RBM i learns on the hidden probabilities of RBMs 0..i-1."""
        for i, rbm in enumerate(self.stack):
            for _ in range(self.hp.pretrain_epochs):
                for x in inputs():
                    rbm.cd_step(self.propagate(x, i), self.hp.cd_k, self.hp.pretrain_lr)

    def propagate(self, x: torch.Tensor, depth: int) -> torch.Tensor:
        """Hidden probabilities after the first `depth` RBMs (depth 0: the flattened input)."""
        h = x.flatten(1)
        for rbm in self.stack[:depth]:
            h = rbm.hidden_prob(h)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.propagate(x, len(self.stack)))
