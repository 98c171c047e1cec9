"""The deterministic policy that policy search optimises, as one flat parameter vector.

Search methods perturb parameters, not actions, so the policy acts greedily: argmax of the
logits for Discrete actions, a tanh squashed into the Box for continuous ones (Salimans et al.
2017 act the same way). The body is the platform's `mlp` (`hidden: []` is a linear policy, as
in ARS). A rollout worker evaluates many parameter vectors at once, one per env of its vector
env: `act_population` runs the same layers with per-env weights in batched matmuls (~10x
faster here than `torch.func.vmap` over the module for networks this small).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from trainfleet.errors import SpecError
from trainfleet.rl.core.networks import mlp
from trainfleet.rl.core.normalize import ObsNormalizer


@dataclass(frozen=True)
class SearchPolicyConfig:
    """How to build a SearchPolicy for given spaces (picklable: sent to rollout workers)."""

    hidden: Sequence[int] = ()
    activation: str = "tanh"
    normalize_obs: bool = False

    def __call__(self, obs_space: gym.Space, act_space: gym.Space) -> SearchPolicy:
        return SearchPolicy(obs_space, act_space, self)


class SearchPolicy(nn.Module):
    def __init__(self, obs_space: gym.Space, act_space: gym.Space, cfg: SearchPolicyConfig) -> None:
        super().__init__()
        if not (isinstance(obs_space, gym.spaces.Box) and len(obs_space.shape) == 1):
            raise SpecError(f"policy search needs 1-D Box observations, not {obs_space}", path="env.id")
        self.discrete = isinstance(act_space, gym.spaces.Discrete)
        if self.discrete:
            out_dim = int(act_space.n)
        elif isinstance(act_space, gym.spaces.Box) and len(act_space.shape) == 1:
            out_dim = act_space.shape[0]
            self.register_buffer("low", torch.as_tensor(act_space.low, dtype=torch.float32))
            self.register_buffer("high", torch.as_tensor(act_space.high, dtype=torch.float32))
        else:
            raise SpecError(f"policy search supports Discrete or 1-D Box actions, not {act_space}", path="env.id")
        self.obs_norm = ObsNormalizer(obs_space.shape, cfg.normalize_obs)
        # a small last layer starts near zero action (zero torque beats a saturated random one on Pendulum)
        self.body = mlp(obs_space.shape[0], list(cfg.hidden), cfg.activation, out_dim, out_gain=0.01)
        self.dim = sum(p.numel() for p in self.body.parameters())

    # ---- the flat parameter vector --------------------------------------------------------------
    def get_flat(self) -> np.ndarray:
        return torch.nn.utils.parameters_to_vector(self.body.parameters()).detach().numpy().copy()

    @torch.no_grad()
    def set_flat(self, flat: np.ndarray) -> None:
        torch.nn.utils.vector_to_parameters(torch.as_tensor(flat, dtype=torch.float32), self.body.parameters())

    def set_obs_stats(self, mean: np.ndarray, var: np.ndarray) -> None:
        """The learner's merged statistics; fixed for a whole generation."""
        self.obs_norm.mean.copy_(torch.as_tensor(mean))
        self.obs_norm.var.copy_(torch.as_tensor(var))

    # ---- acting ---------------------------------------------------------------------------------
    def _action(self, out: torch.Tensor) -> torch.Tensor:
        if self.discrete:
            return out.argmax(-1)
        return self.low + (torch.tanh(out) + 1) * 0.5 * (self.high - self.low)

    @torch.no_grad()
    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Greedy actions of this module's own parameters for a batch of observations."""
        return self._action(self.body(self.obs_norm(obs.float())))

    @torch.no_grad()
    def act_population(self, obs: np.ndarray, params: torch.Tensor) -> np.ndarray:
        """Row i of `obs` acted on by parameter vector `params[i]` (obs [N, d], params [N, dim])."""
        x = self.obs_norm(torch.from_numpy(obs).float()).unsqueeze(1)  # [N, 1, d]
        n, offset = params.shape[0], 0
        for layer in self.body:
            if isinstance(layer, nn.Linear):
                w_size = layer.out_features * layer.in_features
                weight = params[:, offset:offset + w_size].view(n, layer.out_features, layer.in_features)
                bias = params[:, offset + w_size:offset + w_size + layer.out_features].unsqueeze(1)
                offset += w_size + layer.out_features
                x = torch.baddbmm(bias, x, weight.transpose(1, 2))
            else:
                x = layer(x)  # activations act elementwise
        return self._action(x.squeeze(1)).numpy()

