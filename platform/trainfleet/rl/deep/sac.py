"""SAC: soft actor-critic (Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and Applications").

SAC maximises return plus entropy, J = E[Σ r_t + α·H(π(·|s_t))], with a stochastic actor:
  policy     a = center + scale·tanh(u), u ~ N(μ(s), σ(s)²)   (squashed Gaussian)
  log π(a|s) = log N(u) − Σ log(1 − tanh(u)²)                   (change of variables on [−1, 1])
  critics    twin Q_j, y = r + γ(1 − terminated)·(min_j Q'_j(s', a') − α·log π(a'|s')), a' ~ π(s')
  actor      minimise E[α·log π(a|s) − min_j Q_j(s, a)], a ~ π(s) by reparameterisation
  temperature  α = exp(log α), minimise −log α·(log π(a|s) + H̄): α grows while the policy's
             entropy is below the target H̄ (−action dims by default) and shrinks above it
  targets    Polyak averages of the critics only (no target actor).
The log-probability is that of the action in [−1, 1] units (the box scale is a constant that
would only shift the target entropy), as in SB3 and CleanRL. Replay, collection and checkpoints
are the off-policy core's (rl/core/off_policy.py); the twin critic is TD3's.
"""

from __future__ import annotations

import copy
import functools
import math
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.core.deterministic_actor_critic import flat_dim
from trainfleet.rl.core.networks import mlp, soft_update
from trainfleet.rl.core.off_policy import OffPolicyAlgorithm, OffPolicyHparams, adam
from trainfleet.rl.core.replay import ReplaySample
from trainfleet.rl.core.workers import PolicyBuilder
from trainfleet.rl.deep.td3 import TwinCritic

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0  # CleanRL's bounds: wide enough for exploration, no exp overflow


class SACHparams(OffPolicyHparams):
    batch_size: int = Field(256, ge=1, description="minibatch size per gradient step")
    tau: float = Field(0.005, gt=0, le=1, description="soft target update weight of the critics")
    alpha: float = Field(1.0, gt=0, description="entropy temperature: its start when auto_alpha, else fixed")
    auto_alpha: bool = Field(True, description="tune the temperature towards target_entropy")
    target_entropy: float | None = Field(None, description="entropy target of the squashed policy; default −action dims")


class SquashedGaussianActor(nn.Module):
    """π(a|s): a state-dependent diagonal Gaussian, squashed by tanh and rescaled to the action box."""

    scale: torch.Tensor  # buffers, registered in __init__
    center: torch.Tensor

    def __init__(self, obs_space: gym.Space, action_space: gym.spaces.Box, hidden: list[int]) -> None:
        super().__init__()
        act_dim = flat_dim(action_space)
        self.torso = mlp(flat_dim(obs_space), hidden, "relu")
        self.head = nn.Linear(hidden[-1] if hidden else flat_dim(obs_space), 2 * act_dim)
        low, high = torch.as_tensor(action_space.low), torch.as_tensor(action_space.high)
        self.register_buffer("scale", (high - low) / 2)
        self.register_buffer("center", (high + low) / 2)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.head(self.torso(obs.flatten(1))).chunk(2, dim=-1)
        return mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)

    def sample(self, obs: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(action in the box, log π of its squashed value), differentiable by reparameterisation."""
        mean, log_std = self(obs)
        eps = torch.randn(mean.shape, generator=generator, device=mean.device)
        u = mean + eps * log_std.exp()
        gauss = (-0.5 * eps.pow(2) - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
        # log(1 − tanh(u)²) = 2·(log 2 − u − softplus(−2u)), stable for large |u|
        squash = (2 * (math.log(2) - u - F.softplus(-2 * u))).sum(-1)
        return self.center + self.scale * torch.tanh(u), gauss - squash

    def greedy(self, obs: torch.Tensor) -> torch.Tensor:
        return self.center + self.scale * torch.tanh(self(obs)[0])

    def explore(self, obs: torch.Tensor, generator: torch.Generator | None = None,
                random: bool = False) -> tuple[torch.Tensor, dict]:
        """The behaviour policy: a draw from π, or uniform in the box before learning starts."""
        if random:
            u = torch.rand((obs.shape[0], *self.scale.shape), generator=generator, device=obs.device)
            return self.center + self.scale * (2 * u - 1), {}
        return self.sample(obs, generator)[0], {}


class Temperature(nn.Module):
    """log α as a module, so it checkpoints and optimises like the networks."""

    def __init__(self, alpha: float) -> None:
        super().__init__()
        self.log_alpha = nn.Parameter(torch.tensor(math.log(alpha)))

    def forward(self) -> torch.Tensor:
        return self.log_alpha.exp()


class SAC(OffPolicyAlgorithm):
    Hparams = SACHparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        hp = self.hp
        lr = self.learning_rate()
        assert isinstance(self.action_space, gym.spaces.Box)  # space_problem, checked by require_spaces
        self.actor = SquashedGaussianActor(self.obs_space, self.action_space, hp.hidden).to(self.device)
        self.critic = TwinCritic(self.obs_space, self.action_space, hp.hidden).to(self.device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.temperature = Temperature(hp.alpha).to(self.device)
        self.actor_optimizer = adam(self.actor.parameters(), lr)
        self.critic_optimizer = adam(self.critic.parameters(), lr)
        self.alpha_optimizer = adam(self.temperature.parameters(), lr)
        self.target_entropy = -float(flat_dim(self.action_space)) if hp.target_entropy is None else hp.target_entropy
        self.behaviour = self.actor

    @classmethod
    def space_problem(cls, observation_space: gym.Space, action_space: gym.Space) -> str | None:
        return None if isinstance(action_space, gym.spaces.Box) else "sac needs a continuous (Box) action space"

    def worker_policy(self) -> PolicyBuilder:
        return functools.partial(SquashedGaussianActor, hidden=list(self.hp.hidden))

    # ---- ALGORITHM LOGIC ----------------------------------------------------------------------
    def update(self, batch: ReplaySample) -> dict[str, torch.Tensor]:
        hp = self.hp
        alpha = self.temperature().detach()
        with torch.no_grad():
            next_actions, next_logp = self.actor.sample(batch.next_obs, self.torch_rng)
            next_q = torch.min(*self.critic_target(batch.next_obs, next_actions)) - alpha * next_logp
            y = batch.rewards + hp.gamma * (1.0 - batch.terminated) * next_q
        q1, q2 = self.critic(batch.obs, batch.actions)
        critic_loss = F.mse_loss(q1, y) + F.mse_loss(q2, y)
        self.critic_optimizer.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_optimizer.step()

        actions, logp = self.actor.sample(batch.obs, self.torch_rng)
        self.critic.requires_grad_(False)  # the actor's gradient flows through Q, not into it
        actor_loss = (alpha * logp - torch.min(*self.critic(batch.obs, actions))).mean()
        self.critic.requires_grad_(True)
        self.actor_optimizer.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_optimizer.step()
        terms = {"q": critic_loss.detach(), "actor": actor_loss.detach(), "entropy": -logp.detach().mean()}

        if hp.auto_alpha:
            alpha_loss = -(self.temperature.log_alpha * (logp.detach() + self.target_entropy)).mean()
            self.alpha_optimizer.zero_grad(set_to_none=True)
            alpha_loss.backward()
            self.alpha_optimizer.step()
            terms["alpha"] = alpha_loss.detach()
        soft_update(self.critic_target, self.critic, hp.tau)
        return terms
    # ---- END ALGORITHM LOGIC ------------------------------------------------------------------

    def networks(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        return {"actor": self.actor, "critic": self.critic, "critic_target": self.critic_target,
                "temperature": self.temperature, "actor_optimizer": self.actor_optimizer,
                "critic_optimizer": self.critic_optimizer, "alpha_optimizer": self.alpha_optimizer}

    def extra_metrics(self) -> dict[str, float]:
        return {"alpha": float(self.temperature().detach())}

    @torch.no_grad()
    def act(self, obs: Any) -> np.ndarray:
        x = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.actor.scale.device)
        return self.actor.greedy(x[None])[0].cpu().numpy()
