"""REINFORCE: Monte Carlo policy gradient, with or without a learned value baseline.

Williams 1992, "Simple statistical gradient-following algorithms for connectionist
reinforcement learning"; the baseline as in Sutton & Barto (2018) §13.4:

    grad J = E[ sum_t grad log pi(a_t|s_t) (G_t - b(s_t)) ],   b = V_phi (or 0)

G_t is the full discounted return to the end of the episode, so only steps whose episode
ended inside the rollout are used (`complete_episodes`); an unfinished tail is not thrown
away, it finishes in the next rollout and is used then. Deviations from the textbook:
- the vector env runs several episodes in parallel and each iteration updates once on all
  steps of all episodes completed since the last one (a batch, not one episode at a time);
- the weights G_t - b are normalised per batch (`norm_returns`), a standard variance trick;
- a time-limit truncation bootstraps V(final state) when there is a baseline (the episode did
  not really end there) and otherwise ends the sum, as the textbook does.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field

from trainfleet import results
from trainfleet.rl.core.algorithm import RunContext, ensure_finite
from trainfleet.rl.core.on_policy import OnPolicyAlgorithm, OnPolicyHparams
from trainfleet.rl.core.rollout_buffer import Rollout, complete_episodes, discounted_returns


class ReinforceHparams(OnPolicyHparams):
    n_steps: int = Field(512, ge=1, description="vector steps per env per iteration (episodes must fit)")
    lr: float = Field(2.0e-3, gt=0, description="Adam learning rate of the policy")
    baseline: bool = Field(True, description="subtract a learned V(s) from the return (lower variance)")
    value_lr: float = Field(2.0e-3, gt=0, description="Adam learning rate of the baseline")
    value_epochs: int = Field(5, ge=1, description="full-batch regression steps of V per iteration")
    norm_returns: bool = Field(True, description="normalise G_t - b(s_t) over the batch")


class Reinforce(OnPolicyAlgorithm):
    Hparams = ReinforceHparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        self.policy_opt = torch.optim.Adam(self.model.policy_parameters(), lr=self.hp.lr)
        self.value_opt = torch.optim.Adam(self.model.value_parameters(), lr=self.hp.value_lr) if self.hp.baseline else None

    def uses_critic(self) -> bool:
        return self.hp.baseline

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"policy": self.policy_opt, **({"value": self.value_opt} if self.value_opt else {})}

    # ---- ALGO LOGIC ----------------------------------------------------------------------------
    def update(self, rollout: Rollout) -> dict[str, Any]:
        hp = self.hp
        bootstrap = self.values_of(rollout)[1] if hp.baseline else None
        returns = discounted_returns(rollout.rewards, rollout.terminated, rollout.truncated, hp.gamma, bootstrap)
        mask = complete_episodes(rollout)
        if not mask.any():  # no episode finished yet: nothing to learn from
            return {}
        obs, actions = self.tensor(rollout.obs[mask]), self.tensor(rollout.actions[mask])
        g = self.tensor(returns[mask].astype("float32"))

        metrics: dict[str, Any] = {}
        if hp.baseline:
            for _ in range(hp.value_epochs):
                loss_value = 0.5 * (self.model.value(obs) - g).pow(2).mean()
                self.value_opt.zero_grad()
                loss_value.backward()
                torch.nn.utils.clip_grad_norm_(self.model.value_parameters(), hp.max_grad_norm)
                self.value_opt.step()
            metrics[results.loss_key("value")] = loss_value.item()
            with torch.no_grad():
                weight = g - self.model.value(obs)
        else:
            weight = g
        if hp.norm_returns and weight.numel() > 1:
            weight = (weight - weight.mean()) / (weight.std() + 1e-8)

        logp, entropy, _ = self.model.evaluate(obs, actions)
        loss_policy = -(logp * weight).mean()
        self.policy_opt.zero_grad()
        loss_policy.backward()
        torch.nn.utils.clip_grad_norm_(self.model.policy_parameters(), hp.max_grad_norm)
        self.policy_opt.step()
        # ---- END ALGO LOGIC ------------------------------------------------------------------------
        ensure_finite(policy=loss_policy.item(), **metrics)
        metrics[results.loss_key("policy")] = loss_policy.item()
        metrics[results.loss_key("entropy")] = entropy.mean().item()
        metrics["batch_steps"] = int(mask.sum())
        return metrics
