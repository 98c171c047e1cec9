"""Reward and termination functions a planner may be given instead of learning them.

PETS (Chua et al. 2018) and mbrl-lib plan with the task's reward as known and learn only the
dynamics; a learned model of CartPole's reward (always 1) cannot tell a planner that the pole
falls, so CartPole's termination rule is given the same way. Each function takes batched
tensors (..., dim) of the state before the step, the raw action and the state after it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

RewardFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
TerminationFn = Callable[[torch.Tensor], torch.Tensor]


def pendulum_reward(obs: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    """−(θ² + 0.1·θ̇² + 0.001·u²) on the state before the step, θ normalised to [−π, π] (gymnasium's)."""
    theta = torch.atan2(obs[..., 1], obs[..., 0])
    torque = action[..., 0].clamp(-2.0, 2.0)
    return -(theta ** 2 + 0.1 * obs[..., 2] ** 2 + 0.001 * torque ** 2)


def cartpole_alive_reward(obs: torch.Tensor, action: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    return torch.ones(obs.shape[:-1], device=obs.device)


def cartpole_terminated(next_obs: torch.Tensor) -> torch.Tensor:
    """The cart leaves ±2.4 or the pole tips past 12 degrees (gymnasium's CartPole-v1)."""
    return (next_obs[..., 0].abs() > 2.4) | (next_obs[..., 2].abs() > 12 * 2 * math.pi / 360)


REWARDS: dict[str, RewardFn] = {"Pendulum-v1": pendulum_reward, "CartPole-v1": cartpole_alive_reward}
TERMINATIONS: dict[str, TerminationFn] = {"CartPole-v1": cartpole_terminated}
