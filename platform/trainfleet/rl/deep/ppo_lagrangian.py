"""PPO-Lagrangian: PPO under a constraint on the expected episode cost (safe RL, the notes' L3150-3299).

Ray, Achiam & Amodei 2019 ("Benchmarking Safe Exploration in Deep RL"), as OmniSafe's PPO-Lag:
PPO's clipped objective on the penalised advantage (A_r - lambda A_c) / (1 + lambda), where A_c
is GAE on the env's per-step `info["constraint_cost"]` with its own cost critic, and lambda >= 0
is raised by dual ascent while the recent episodes cost more than `cost_limit` (`rl/core/lagrangian.py`).
Everything else is PPO's (`ppo.py`). On the cooling plant the cost is inlet degree-minutes above
27 C, so `cost_limit: 0` asks for none; lambda then settles where violations stop paying.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from pydantic import Field

from trainfleet import results
from trainfleet.errors import SpecError
from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.core.lagrangian import LagrangeMultiplier, penalised_advantages
from trainfleet.rl.core.networks import mlp
from trainfleet.rl.core.rollout_buffer import COST_KEY, Rollout, gae
from trainfleet.rl.core.wrappers import single_env
from trainfleet.rl.deep.ppo import PPO, PPOHparams


class PPOLagrangianHparams(PPOHparams):
    cost_limit: float = Field(0.0, ge=0, description="d: the mean episode cost allowed (cooling: inlet degree-minutes over 27 C)")
    lambda_init: float = Field(0.0, ge=0, description="the multiplier's starting value")
    lambda_lr: float = Field(0.035, gt=0, description="Adam step size of the multiplier's dual ascent")


class PPOLagrangian(PPO):
    Hparams = PPOLagrangianHparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        hp = self.hp
        obs_dim = int(np.prod(self.pool.observation_space.shape or ()))
        self.cost_critic = mlp(obs_dim, hp.hidden, hp.activation, out_dim=1).to(self.device)
        self.cost_optimizer = torch.optim.Adam(self.cost_critic.parameters(), lr=hp.lr, eps=1e-5)
        self.multiplier = LagrangeMultiplier(hp.lambda_init, hp.lambda_lr, hp.cost_limit)

    @classmethod
    def check_env(cls, env_id: str, env_kwargs: dict[str, Any]) -> None:
        try:
            env = single_env(env_id, env_kwargs)
        except Exception:  # noqa: BLE001  a bad kwarg value: the env check that follows names it
            return
        try:
            env.reset(seed=0)
            info = env.step(env.action_space.sample())[-1]
        finally:
            env.close()
        if COST_KEY not in info:
            raise SpecError(f"ppo_lagrangian constrains info[{COST_KEY!r}], which {env_id} does not report "
                            "(trainfleet/DataCentreCooling-v0 does)", path="env.id")

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {**super().optimizers(), "cost_critic": self.cost_optimizer}

    def cost_value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.cost_critic(self.model.obs_norm(obs)).squeeze(-1)

    # ---- ALGO LOGIC ----------------------------------------------------------------------------
    def update(self, rollout: Rollout) -> dict[str, Any]:
        hp = self.hp
        if rollout.costs is None:
            raise RuntimeError(f"the env stopped reporting info[{COST_KEY!r}]")
        if rollout.episode_costs:  # dual step on the episodes that ended in this rollout
            self.multiplier.update(float(np.mean(rollout.episode_costs)))
        lam = self.multiplier.value
        b = self.batch(rollout, hp.gae_lambda)
        values, next_values = self.values_of(rollout, self.cost_value)
        cost_adv, cost_ret = gae(rollout.costs, values, next_values, rollout.terminated, rollout.truncated,
                                 hp.gamma, hp.gae_lambda)
        v = rollout.valid
        metrics = self.optimise(b._replace(advantages=penalised_advantages(b.advantages, self.tensor(cost_adv[v]), lam)))
        loss_cost = self.fit_cost_critic(b.obs, self.tensor(cost_ret[v]))
        return {**metrics, results.loss_key("cost_value"): loss_cost, "lagrange_multiplier": lam,
                "cost_limit": hp.cost_limit}

    def fit_cost_critic(self, obs: torch.Tensor, returns: torch.Tensor) -> float:
        """Regress the cost critic on the cost returns, in PPO's epochs of minibatches."""
        hp, n = self.hp, obs.shape[0]
        total, steps = 0.0, 0
        for _ in range(hp.epochs):
            perm = torch.randperm(n, generator=self.generator).to(self.device)
            for start in range(0, n, hp.minibatch_size):
                idx = perm[start:start + hp.minibatch_size]
                loss = 0.5 * (self.cost_value(obs[idx]) - returns[idx]).pow(2).mean()
                self.cost_optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.cost_critic.parameters(), hp.max_grad_norm)
                self.cost_optimizer.step()
                total, steps = total + float(loss.detach()), steps + 1
        return total / max(steps, 1)
    # ---- END ALGO LOGIC ------------------------------------------------------------------------

    def extra_state(self) -> dict[str, Any]:
        return {"cost_critic": {k: t.cpu() for k, t in self.cost_critic.state_dict().items()},
                "multiplier": self.multiplier.get_state()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.cost_critic.load_state_dict(state["cost_critic"])
        self.multiplier.set_state(state["multiplier"])
