"""Network building blocks shared by every deep RL algorithm.

Torsos turn observations into features (MLP for vectors, the Nature-DQN CNN for pixels);
heads turn features into distributions, values or Q-values. Algorithms compose them
instead of subclassing each other's networks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import gymnasium as gym
import torch
from torch import nn
from torch.distributions import Categorical, Normal

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU, "gelu": nn.GELU, "silu": nn.SiLU}
Activation = Literal["tanh", "relu", "elu", "gelu", "silu"]  # the keys of ACTIVATIONS


def layer_init(layer: nn.Module, gain: float = math.sqrt(2), bias: float = 0.0) -> nn.Module:
    """Orthogonal weights, constant bias: the PPO/A2C initialisation that trains reliably."""
    if isinstance(layer, (nn.Linear, nn.Conv2d)):
        nn.init.orthogonal_(layer.weight, gain)
        nn.init.constant_(layer.bias, bias)
    return layer


def mlp(in_dim: int, hidden: Sequence[int], activation: str = "tanh", out_dim: int | None = None,
        out_gain: float = 1.0) -> nn.Sequential:
    """in -> hidden... -> (out). Activation after every hidden layer, none after the output."""
    act = ACTIVATIONS[activation]
    layers: list[nn.Module] = []
    last = in_dim
    for width in hidden:
        layers += [layer_init(nn.Linear(last, width)), act()]
        last = width
    if out_dim is not None:
        layers.append(layer_init(nn.Linear(last, out_dim), gain=out_gain))
    return nn.Sequential(*layers)


class NatureCNN(nn.Module):
    """The DQN paper's torso for stacked 84x84 frames (uint8 in, scaled to [0, 1] here)."""

    def __init__(self, in_channels: int, features: int = 512) -> None:
        super().__init__()
        self.net = nn.Sequential(
            layer_init(nn.Conv2d(in_channels, 32, 8, stride=4)), nn.ReLU(),
            layer_init(nn.Conv2d(32, 64, 4, stride=2)), nn.ReLU(),
            layer_init(nn.Conv2d(64, 64, 3, stride=1)), nn.ReLU(),
            nn.Flatten(),
            layer_init(nn.Linear(64 * 7 * 7, features)), nn.ReLU(),
        )
        self.out_dim = features

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs.float() / 255.0)


def is_pixel_space(space: gym.Space) -> bool:
    return isinstance(space, gym.spaces.Box) and len(space.shape) == 3


def torso(space: gym.Space, hidden: Sequence[int], activation: str) -> tuple[nn.Module, int]:
    """Feature extractor for an observation space: (module, feature size)."""
    if is_pixel_space(space):
        cnn = NatureCNN(space.shape[0])
        return cnn, cnn.out_dim
    in_dim = int(math.prod(space.shape)) if space.shape else int(space.n)
    body = nn.Sequential(nn.Flatten(), mlp(in_dim, hidden, activation))
    return body, (hidden[-1] if hidden else in_dim)


class CategoricalHead(nn.Module):
    """Logits for a Discrete action space."""

    def __init__(self, in_dim: int, n_actions: int) -> None:
        super().__init__()
        self.logits = layer_init(nn.Linear(in_dim, n_actions), gain=0.01)

    def forward(self, features: torch.Tensor) -> Categorical:
        return Categorical(logits=self.logits(features))

    # The methods below skip torch.distributions: building a Distribution object per env step
    # costs more than the tiny network itself in a CartPole rollout.
    def sample(self, features: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(action, log-prob) drawn from the policy."""
        logp_all = torch.log_softmax(self.logits(features), dim=-1)
        # Gumbel-max: argmax(log p - log E), E ~ Exp(1), is a draw from p (3x faster than multinomial).
        action = (logp_all - torch.empty_like(logp_all).exponential_(generator=generator).log()).argmax(-1, keepdim=True)
        return action.squeeze(-1), logp_all.gather(-1, action).squeeze(-1)

    def log_prob_entropy(self, features: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logp_all = torch.log_softmax(self.logits(features), dim=-1)
        entropy = -(logp_all.exp() * logp_all).sum(-1)
        return logp_all.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1), entropy

    def mode(self, features: torch.Tensor) -> torch.Tensor:
        return self.logits(features).argmax(-1)


class GaussianHead(nn.Module):
    """Diagonal Gaussian with a state-independent log std (Box actions)."""

    def __init__(self, in_dim: int, act_dim: int, log_std_init: float = 0.0) -> None:
        super().__init__()
        self.mean = layer_init(nn.Linear(in_dim, act_dim), gain=0.01)
        self.log_std = nn.Parameter(torch.full((act_dim,), log_std_init))

    def forward(self, features: torch.Tensor) -> Normal:
        mean = self.mean(features)
        return Normal(mean, self.log_std.exp().expand_as(mean))

    def _log_prob(self, mean: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        z = (actions - mean) / self.log_std.exp()
        return (-0.5 * z.pow(2) - self.log_std - 0.5 * math.log(2 * math.pi)).sum(-1)

    def sample(self, features: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(action, log-prob); the action is unbounded (the env side clips it to the Box)."""
        mean = self.mean(features)
        noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype)
        action = mean + noise * self.log_std.exp()
        return action, self._log_prob(mean, action)

    def log_prob_entropy(self, features: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean = self.mean(features)
        entropy = (self.log_std + 0.5 * math.log(2 * math.pi * math.e)).sum().expand(mean.shape[:-1])
        return self._log_prob(mean, actions), entropy

    def mode(self, features: torch.Tensor) -> torch.Tensor:
        return self.mean(features)


class DuelingHead(nn.Module):
    """Q(s,a) = V(s) + A(s,a) - mean_a A(s,a): the mean subtraction makes V and A identifiable."""

    def __init__(self, in_dim: int, n_actions: int, hidden: int = 64) -> None:
        super().__init__()
        self.value = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, 1))
        self.advantage = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(), nn.Linear(hidden, n_actions))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        adv = self.advantage(features)
        return self.value(features) + adv - adv.mean(dim=-1, keepdim=True)


@torch.no_grad()
def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """target <- tau * source + (1 - tau) * target (Polyak averaging); tau = 1 is a hard copy."""
    for t, s in zip(target.parameters(), source.parameters()):
        t.lerp_(s, tau)


def hard_update(target: nn.Module, source: nn.Module) -> None:
    target.load_state_dict(source.state_dict())
