"""A2C: synchronous advantage actor-critic.

Mnih et al. 2016, "Asynchronous Methods for Deep Reinforcement Learning" (arXiv:1602.01783),
in the synchronous form OpenAI Baselines named A2C: all envs step together for `n_steps`,
then one gradient step on

    L = -E[log pi(a|s) A] + c_v E[(R - V(s))^2] / 2 - c_e H[pi],

with A the n-step advantage R - V(s) (GAE with `gae_lambda` = 1 gives exactly the paper's
n-step return; lambda < 1 is the usual later refinement). `returns: mc` uses the notes' Monte Carlo
returns instead (R = the discounted sum to the episode's end, no bootstrapping but at a time limit),
on the steps of the episodes that ended inside the rollout. Deviations: the batch comes from
parallel envs in one process (or synchronous rollout workers) instead of asynchronous
threads -- see `a3c.py` for the asynchronous original -- and RMSProp is not shared across
threads (there is one learner). `updates_per_iteration` only groups updates for reporting.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field

from trainfleet import results
from trainfleet.rl.core.algorithm import RunContext, ensure_finite
from trainfleet.rl.core.on_policy import OnPolicyAlgorithm, OnPolicyHparams


class A2CHparams(OnPolicyHparams):
    n_steps: int = Field(8, ge=1, description="vector steps per env per update (the n of n-step returns)")
    lr: float = Field(7.0e-4, gt=0, description="learning rate")
    optimizer: Literal["rmsprop", "adam"] = Field("rmsprop", description="RMSProp as in the paper, or Adam")
    gae_lambda: float = Field(1.0, ge=0, le=1, description="1 = the paper's n-step returns")
    returns: Literal["gae", "mc"] = Field(
        "gae", description="gae: n-step/GAE(lambda) targets bootstrapped from V; mc: the notes' Monte Carlo returns "
        "to each episode's end (only episodes that end inside a rollout; n_steps must fit them)")
    ent_coef: float = Field(0.0, ge=0, description="entropy bonus weight")
    vf_coef: float = Field(0.5, ge=0, description="value loss weight")
    norm_adv: bool = Field(False, description="normalise advantages over each batch")
    updates_per_iteration: int = Field(20, ge=1, description="rollout+update cycles per reported iteration")


def make_optimizer(kind: str, params: Any, lr: float) -> torch.optim.Optimizer:
    """The A2C/A3C optimiser: RMSProp with the paper's decay (alpha 0.99) or Adam."""
    if kind == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=0.99, eps=1e-5)
    return torch.optim.Adam(params, lr=lr, eps=1e-5)


def actor_critic_loss(model: Any, obs: torch.Tensor, actions: torch.Tensor, advantages: torch.Tensor,
                      returns: torch.Tensor, vf_coef: float, ent_coef: float, norm_adv: bool
                      ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The A2C/A3C loss on one batch: (total loss, its terms). Shared by a2c.py and a3c.py."""
    logp, entropy, value = model.evaluate(obs, actions)
    if norm_adv and advantages.numel() > 1:
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    loss_policy = -(logp * advantages).mean()
    loss_value = 0.5 * (returns - value).pow(2).mean()
    loss_entropy = entropy.mean()
    loss = loss_policy + vf_coef * loss_value - ent_coef * loss_entropy
    return loss, {"policy": loss_policy.detach(), "value": loss_value.detach(), "entropy": loss_entropy.detach()}


class A2C(OnPolicyAlgorithm):
    Hparams = A2CHparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        self.optimizer = make_optimizer(self.hp.optimizer, self.model.parameters(), self.hp.lr)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"opt": self.optimizer}

    def train_iteration(self) -> dict[str, float]:
        terms: dict[str, float] = {}
        for _ in range(self.hp.updates_per_iteration):
            terms = super().train_iteration()
        return terms

    # ---- ALGO LOGIC ----------------------------------------------------------------------------
    def update(self, rollout: Any) -> dict[str, Any]:
        hp = self.hp
        b = self.batch(rollout, hp.gae_lambda) if hp.returns == "gae" else self.mc_batch(rollout)
        if b is None:  # mc: no episode ended in this rollout yet
            return {}
        loss, terms = actor_critic_loss(self.model, b.obs, b.actions, b.advantages, b.returns,
                                        hp.vf_coef, hp.ent_coef, hp.norm_adv)
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), hp.max_grad_norm)
        self.optimizer.step()
        # ---- END ALGO LOGIC ------------------------------------------------------------------------
        values = {results.loss_key(k): float(v) for k, v in terms.items()}
        ensure_finite(**values)
        return values
