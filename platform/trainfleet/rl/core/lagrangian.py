"""The Lagrange multiplier of constrained RL: maximise the return subject to E[episode cost] <= d.

The constrained problem  max_pi J_r(pi)  s.t.  J_c(pi) <= d  becomes the saddle point
max_pi min_{lambda >= 0}  J_r(pi) - lambda (J_c(pi) - d)  (Altman 1999; Ray, Achiam & Amodei 2019,
"Benchmarking Safe Exploration in Deep RL", whose PPO-Lagrangian this follows). The policy step
climbs the penalised objective; the dual step raises lambda while the episodes cost more than d
and lowers it (down to 0) while they cost less. As in OmniSafe's PPO-Lag, the dual step is an
Adam step on -lambda (J_c - d), so its size does not depend on the cost's units.
"""

from __future__ import annotations

from typing import Any

import torch

from trainfleet.rl.core.checkpoint import restore_optimizer


class LagrangeMultiplier:
    """lambda >= 0, learned by dual ascent against the cost limit d."""

    def __init__(self, init: float, lr: float, limit: float) -> None:
        self.limit = limit
        self.param = torch.tensor(float(init), requires_grad=True)
        self.optimizer = torch.optim.Adam([self.param], lr=lr)

    @property
    def value(self) -> float:
        return float(self.param.detach())

    def update(self, episode_cost: float) -> float:
        """One dual step with the mean cost of recent episodes; returns the new lambda."""
        self.optimizer.zero_grad()
        (-self.param * (episode_cost - self.limit)).backward()
        self.optimizer.step()
        with torch.no_grad():
            self.param.clamp_(min=0.0)
        return self.value

    def get_state(self) -> dict[str, Any]:
        return {"lambda": self.param.detach().clone(), "optimizer": self.optimizer.state_dict()}

    def set_state(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            self.param.copy_(state["lambda"])
        restore_optimizer(self.optimizer, state["optimizer"])


def penalised_advantages(reward_adv: torch.Tensor, cost_adv: torch.Tensor, lam: float) -> torch.Tensor:
    """(A_r - lambda A_c) / (1 + lambda): the policy's advantage under the penalty.

    A_r is standardised and A_c only centred (OmniSafe's choice): the cost keeps its units, so lambda
    is the price of one unit of cost in standard deviations of the reward advantage. Dividing by
    1 + lambda keeps the step size bounded as lambda grows.
    """
    reward_adv = (reward_adv - reward_adv.mean()) / (reward_adv.std() + 1e-8)
    return (reward_adv - lam * (cost_adv - cost_adv.mean())) / (1.0 + lam)
