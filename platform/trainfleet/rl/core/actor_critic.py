"""The policy + value network of the on-policy algorithms (REINFORCE, A2C, A3C, PPO, TRPO).

Vector observations get separate actor and critic MLPs (the PPO paper's choice for MuJoCo;
sharing hurts on small tasks); pixels get one shared Nature-CNN torso, as in the Atari
experiments of the A3C and PPO papers. Discrete actions get a categorical head, Box actions
a diagonal Gaussian. The same module acts on rollout workers (CPU) and learns on the learner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import gymnasium as gym
import torch
from torch import nn

from trainfleet.errors import SpecError
from trainfleet.rl.core.networks import CategoricalHead, GaussianHead, is_pixel_space, layer_init, torso
from trainfleet.rl.core.normalize import ObsNormalizer


@dataclass(frozen=True)
class ActorCriticConfig:
    """How to build an ActorCritic for given spaces (picklable: sent to rollout workers)."""

    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"
    normalize_obs: bool = False
    log_std_init: float = 0.0
    critic: bool = True  # REINFORCE without a baseline has no value function

    def __call__(self, obs_space: gym.Space, act_space: gym.Space) -> ActorCritic:
        return ActorCritic(obs_space, act_space, self)


class ActorCritic(nn.Module):
    def __init__(self, obs_space: gym.Space, act_space: gym.Space, cfg: ActorCriticConfig) -> None:
        super().__init__()
        pixels = is_pixel_space(obs_space)
        self.obs_norm = ObsNormalizer(obs_space.shape, cfg.normalize_obs and not pixels)
        self.actor_torso, feat = torso(obs_space, cfg.hidden, cfg.activation)
        if pixels:
            self.critic_torso = self.actor_torso  # shared CNN
        else:
            self.critic_torso, _ = torso(obs_space, cfg.hidden, cfg.activation)
        if isinstance(act_space, gym.spaces.Discrete):
            self.head: CategoricalHead | GaussianHead = CategoricalHead(feat, int(act_space.n))
        elif isinstance(act_space, gym.spaces.Box) and len(act_space.shape) == 1:
            self.head = GaussianHead(feat, act_space.shape[0], cfg.log_std_init)
        else:
            raise SpecError(f"on-policy algorithms support Discrete or 1-D Box actions, not {act_space}", path="env.id")
        self.value_head = layer_init(nn.Linear(feat, 1), gain=1.0) if cfg.critic else None
        self.discrete = isinstance(act_space, gym.spaces.Discrete)

    def _features(self, obs: torch.Tensor) -> torch.Tensor:
        return self.actor_torso(self.obs_norm(obs))

    def explore(self, obs: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Sampled actions and their log-probabilities (what a rollout worker records)."""
        action, logp = self.head.sample(self._features(obs), generator)
        return action, {"logp": logp}

    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """The deterministic action: argmax / Gaussian mean."""
        return self.head.mode(self._features(obs))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        if self.value_head is None:
            return torch.zeros(obs.shape[0], device=obs.device)
        return self.value_head(self.critic_torso(self.obs_norm(obs))).squeeze(-1)

    def evaluate(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(log pi(a|s), entropy, V(s)) for a batch: what every loss needs."""
        logp, entropy = self.head.log_prob_entropy(self._features(obs), actions)
        return logp, entropy, self.value(obs)

    def distribution(self, obs: torch.Tensor) -> torch.distributions.Distribution:
        """The full action distribution (TRPO's KL needs it)."""
        return self.head(self._features(obs))

    def policy_parameters(self) -> list[nn.Parameter]:
        """Parameters of the policy alone (shared torso included)."""
        return list(self.actor_torso.parameters()) + list(self.head.parameters())

    def value_parameters(self) -> list[nn.Parameter]:
        if self.value_head is None:
            return []
        own = list(self.value_head.parameters())
        return own if self.critic_torso is self.actor_torso else list(self.critic_torso.parameters()) + own
