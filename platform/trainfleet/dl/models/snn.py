"""Spiking neural network (notes U3.11, type 12, L4890): leaky integrate-and-fire units over time.

The notes: neurons "communicate using spikes" and "time plays a key role". Each input value,
read as a firing probability in [0, 1], becomes a Bernoulli spike train of `steps` time steps
(rate coding). Hidden layers are leaky integrate-and-fire neurons: the membrane
u_t = beta * u_{t-1} + W s_t, a spike when u crosses the threshold, reset by subtracting it.
The spike's step function has no useful gradient, so backpropagation through time uses a
surrogate: the fast-sigmoid derivative 1 / (1 + slope |u - threshold|)^2 (Zenke & Ganguli 2018).
The readout is a non-spiking leaky integrator whose mean membrane over time gives the logits.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field
from torch import nn

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.hparams import TrainHparams
from trainfleet.fields import Width


class SNNHparams(TrainHparams):
    hidden: list[Width] = Field([128], min_length=1, description="widths of the spiking (LIF) hidden layers")
    steps: int = Field(25, ge=1, description="time steps T of the rate-coded input")
    beta: float = Field(0.9, gt=0, lt=1, description="membrane leak per step (decay factor)")
    threshold: float = Field(1.0, gt=0, description="membrane potential at which a neuron spikes")
    slope: float = Field(25.0, gt=0, description="steepness of the surrogate gradient")


class SpikeFn(torch.autograd.Function):
    """Heaviside spike forward; fast-sigmoid surrogate derivative backward."""

    @staticmethod
    def forward(ctx: Any, v: torch.Tensor, slope: float) -> torch.Tensor:  # v = u - threshold
        ctx.save_for_backward(v)
        ctx.slope = slope
        return (v > 0).to(v.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (v,) = ctx.saved_tensors
        return grad / (1 + ctx.slope * v.abs()).pow(2), None


class SNN(nn.Module):
    Hparams = SNNHparams

    def __init__(self, hp: SNNHparams, info: DataInfo, out_dim: int) -> None:
        super().__init__()
        self.hp = hp
        sizes = [info.num_features, *hp.hidden]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.head = nn.Linear(hp.hidden[-1], out_dim)
        self.last_spike_rate = 0.0  # mean hidden firing rate of the last forward pass (for inspection)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hp = self.hp
        rates = x.flatten(1).clamp(0, 1)
        membranes = [x.new_zeros(len(x), width) for width in hp.hidden]
        readout = x.new_zeros(len(x), self.head.out_features)
        total = torch.zeros_like(readout)
        fired = 0.0
        for _ in range(hp.steps):
            s = torch.bernoulli(rates)  # rate coding: one spike train per input value
            for i, layer in enumerate(self.layers):
                u = hp.beta * membranes[i] + layer(s)
                s = SpikeFn.apply(u - hp.threshold, hp.slope)
                membranes[i] = u - s.detach() * hp.threshold  # reset by subtraction
                fired += float(s.detach().mean())
            readout = hp.beta * readout + self.head(s)
            total = total + readout
        self.last_spike_rate = fired / (hp.steps * len(self.layers))
        return total / hp.steps
