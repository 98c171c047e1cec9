"""FTRL-Proximal (McMahan et al. 2013, Algorithm 1) as a torch optimiser: the notes' `Ftrl` (L3575).

Per coordinate it keeps z (gradients minus the proximal pull) and n (the sum of squared
gradients) and sets the weight in closed form, so the L1 term gives exact zeros, which a
subgradient penalty added to the loss never does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch


class Ftrl(torch.optim.Optimizer):
    """lr is the paper's alpha, `beta` its per-coordinate learning-rate offset; l1/l2 are lambda1/lambda2."""

    def __init__(self, params: Iterable[Any], lr: float = 0.1, beta: float = 1.0, l1: float = 0.0, l2: float = 0.0):
        if lr <= 0 or beta < 0 or l1 < 0 or l2 < 0:
            raise ValueError("ftrl needs lr > 0 and beta, l1, l2 >= 0")
        super().__init__(params, {"lr": lr, "beta": beta, "l1": l1, "l2": l2})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            alpha, beta, l1, l2 = group["lr"], group["beta"], group["l1"], group["l2"]
            for w in group["params"]:
                if w.grad is None:
                    continue
                g = w.grad
                state = self.state[w]
                if not state:
                    state["z"] = torch.zeros_like(w)
                    state["n"] = torch.zeros_like(w)
                z, n = state["z"], state["n"]
                n_new = n + g * g
                sigma = (n_new.sqrt() - n.sqrt()) / alpha
                z.add_(g - sigma * w)
                n.copy_(n_new)
                shrunk = z - z.sign() * l1
                w.copy_(torch.where(z.abs() <= l1, torch.zeros_like(w), -shrunk / ((beta + n.sqrt()) / alpha + l2)))
        return loss
