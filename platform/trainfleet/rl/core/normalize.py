"""Running observation and reward normalisation (as in SB3's VecNormalize / the PPO baselines).

Observation statistics live *inside* the policy as buffers, so they travel to rollout workers
with the weights and are saved with the checkpoint: an actor can never act on stale or
different statistics from the learner's. Only the learner updates them, from each batch.

Rewards are divided by the running std of the discounted return (not the reward itself),
which keeps value targets O(1) without changing the optimal policy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn


class RunningMeanStd:
    """Mean and variance of a stream of batches (Chan et al.'s parallel update)."""

    def __init__(self, shape: tuple[int, ...] = ()) -> None:
        self.mean = np.zeros(shape, np.float64)
        self.var = np.ones(shape, np.float64)
        self.count = 1e-4

    def update(self, batch: np.ndarray) -> None:
        self.merge(batch.mean(axis=0), batch.var(axis=0), batch.shape[0])

    def merge(self, b_mean: np.ndarray, b_var: np.ndarray, b_count: float) -> None:
        """Fold in another stream's statistics (e.g. what a rollout worker saw)."""
        if b_count == 0:
            return
        delta = b_mean - self.mean
        total = self.count + b_count
        self.mean = self.mean + delta * b_count / total
        m2 = self.var * self.count + b_var * b_count + delta**2 * self.count * b_count / total
        self.var = m2 / total
        self.count = total

    def get_state(self) -> dict[str, Any]:
        return {"mean": self.mean, "var": self.var, "count": self.count}

    def set_state(self, state: dict[str, Any]) -> None:
        self.mean, self.var, self.count = state["mean"], state["var"], state["count"]


class ObsNormalizer(nn.Module):
    """(obs - mean) / std, clipped; identity when disabled. Statistics are module buffers."""

    mean: torch.Tensor
    var: torch.Tensor
    count: torch.Tensor

    def __init__(self, shape: tuple[int, ...], enabled: bool, clip: float = 10.0) -> None:
        super().__init__()
        self.enabled, self.clip = enabled, clip
        self.register_buffer("mean", torch.zeros(shape))
        self.register_buffer("var", torch.ones(shape))
        self.register_buffer("count", torch.tensor(1e-4, dtype=torch.float64))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return obs
        return ((obs - self.mean) / torch.sqrt(self.var + 1e-8)).clamp(-self.clip, self.clip)

    @torch.no_grad()
    def update(self, obs: torch.Tensor) -> None:
        if not self.enabled:
            return
        obs = obs.double()
        b_mean, b_var, b_count = obs.mean(0), obs.var(0, unbiased=False), obs.shape[0]
        delta = b_mean - self.mean.double()
        total = self.count + b_count
        m2 = self.var.double() * self.count + b_var * b_count + delta**2 * self.count * b_count / total
        self.mean.copy_(self.mean.double() + delta * b_count / total)
        self.var.copy_(m2 / total)
        self.count.copy_(total)


class RewardScaler:
    """Scales rewards by 1/std of the discounted return, tracked per env column of the rollout.

    `rewards`, `dones` are [T, N]; the return accumulator carries across rollouts.
    """

    def __init__(self, num_envs: int, gamma: float, enabled: bool) -> None:
        self.enabled, self.gamma = enabled, gamma
        self.ret = np.zeros(num_envs)
        self.stats = RunningMeanStd()

    def __call__(self, rewards: np.ndarray, dones: np.ndarray) -> np.ndarray:
        if not self.enabled:
            return rewards
        if self.ret.shape[0] != rewards.shape[1]:  # the pool changed size (a worker was replaced)
            self.ret = np.zeros(rewards.shape[1])
        returns = np.empty_like(rewards, dtype=np.float64)
        for t in range(rewards.shape[0]):
            self.ret = self.ret * self.gamma + rewards[t]
            returns[t] = self.ret
            self.ret[dones[t]] = 0.0
        self.stats.update(returns.reshape(-1))
        return (rewards / np.sqrt(self.stats.var + 1e-8)).astype(np.float32)

    def get_state(self) -> dict[str, Any]:
        return {"ret": self.ret, "stats": self.stats.get_state()}

    def set_state(self, state: dict[str, Any]) -> None:
        self.ret = state["ret"]
        self.stats.set_state(state["stats"])
