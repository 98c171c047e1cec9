"""Experience replay: a uniform ring buffer and proportional prioritized replay.

Both store transitions (s, a, r, s', terminated) in preallocated numpy arrays and add or
sample whole batches with fancy indexing (no per-transition Python). `terminated` is the
only end-of-episode flag stored: a time-limit truncation is not terminal, so its target
still bootstraps from s' (the true last observation, not the next episode's first).

Prioritized replay (Schaul et al. 2016, "Prioritized Experience Replay", proportional
variant): transition i is sampled with P(i) = p_i^α / Σ_k p_k^α, where p_i = |δ_i| + ε is
its last TD error (new transitions get the largest priority seen so far, so each is
replayed at least once soon). The bias this introduces is corrected by importance weights
w_i = (N·P(i))^-β, normalised by the largest weight in the buffer, max_k w_k =
(N·min_k P(k))^-β, so weights lie in (0, 1] and only ever scale an update down.
β is annealed to 1 by the caller, where the correction becomes exact. A batch is drawn by
stratified sampling: the total priority is cut into `batch_size` equal segments and one
prefix sum is drawn uniformly inside each.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch

from trainfleet.rl.core.sum_tree import MinTree, SumTree


class ReplaySample(NamedTuple):
    """One minibatch as torch tensors; `weights` are all ones for uniform replay."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor
    weights: torch.Tensor
    indices: np.ndarray


def _storage_dtype(space: gym.Space) -> tuple[tuple[int, ...], np.dtype]:
    if isinstance(space, gym.spaces.Discrete):
        return (), np.dtype(np.int64)
    dtype = np.dtype(np.uint8) if space.dtype == np.uint8 else np.dtype(np.float32)
    return tuple(space.shape), dtype


class ReplayBuffer:
    """Uniform replay over the last `capacity` transitions (a ring buffer)."""

    _ARRAYS = ("obs", "actions", "rewards", "next_obs", "terminated")

    def __init__(self, capacity: int, obs_space: gym.Space, action_space: gym.Space, seed: int,
                 device: torch.device | str = "cpu") -> None:
        self.capacity = int(capacity)
        self.device = torch.device(device)
        obs_shape, obs_dtype = _storage_dtype(obs_space)
        act_shape, act_dtype = _storage_dtype(action_space)
        self.obs = np.zeros((self.capacity, *obs_shape), obs_dtype)
        self.next_obs = np.zeros((self.capacity, *obs_shape), obs_dtype)
        self.actions = np.zeros((self.capacity, *act_shape), act_dtype)
        self.rewards = np.zeros(self.capacity, np.float32)
        self.terminated = np.zeros(self.capacity, np.float32)
        self.pos = 0
        self.size = 0
        self.rng = np.random.default_rng(seed)

    @staticmethod
    def nbytes(capacity: int, obs_space: gym.Space, action_space: gym.Space) -> int:
        """Memory the arrays of a buffer of this capacity take (allocated up front)."""
        obs_shape, obs_dtype = _storage_dtype(obs_space)
        act_shape, act_dtype = _storage_dtype(action_space)
        per_transition = (2 * int(np.prod(obs_shape)) * obs_dtype.itemsize + int(np.prod(act_shape)) * act_dtype.itemsize
                          + 2 * np.dtype(np.float32).itemsize)
        return int(capacity) * per_transition

    def __len__(self) -> int:
        return self.size

    def add(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
            terminated: np.ndarray) -> np.ndarray:
        """Append a batch of transitions (overwriting the oldest); returns the slots written."""
        n = len(rewards)
        if n == 0:
            return np.zeros(0, np.int64)
        if n > self.capacity:  # only the newest `capacity` survive anyway
            obs, actions, rewards, next_obs, terminated = (
                x[-self.capacity:] for x in (obs, actions, rewards, next_obs, terminated)
            )
            n = self.capacity
        idx = (self.pos + np.arange(n)) % self.capacity
        self.obs[idx] = obs
        self.actions[idx] = actions
        self.rewards[idx] = rewards
        self.next_obs[idx] = next_obs
        self.terminated[idx] = terminated
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)
        return idx

    def sample(self, batch_size: int, beta: float = 1.0) -> ReplaySample:
        """`batch_size` transitions drawn uniformly with replacement (`beta` is unused here)."""
        idx = self.rng.integers(0, self.size, size=batch_size)
        return self._gather(idx, np.ones(batch_size, np.float32))

    def sample_burst(self, n: int, batch_size: int, beta: float = 1.0) -> Iterator[ReplaySample]:
        """`n` minibatches for `n` gradient steps in a row, gathered in one pass.

        Nothing is added between the steps of a burst, so all `n` index draws can be made and
        gathered at once; each minibatch is then a view. Per step this halves the sampling cost
        for small batches, where numpy's fancy indexing is mostly fixed overhead.
        """
        burst = self.sample(n * batch_size, beta)
        for k in range(n):
            rows = slice(k * batch_size, (k + 1) * batch_size)
            yield ReplaySample(*(field[rows] for field in burst))

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        """Uniform replay keeps no priorities; present so DQN can treat both buffers alike."""

    def _gather(self, idx: np.ndarray, weights: np.ndarray) -> ReplaySample:
        def t(x: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(x).to(self.device, non_blocking=True)

        return ReplaySample(
            obs=t(self.obs[idx]),
            actions=t(self.actions[idx]),
            rewards=t(self.rewards[idx]),
            next_obs=t(self.next_obs[idx]),
            terminated=t(self.terminated[idx]),
            weights=t(weights.astype(np.float32)),
            indices=idx,
        )

    def get_state(self) -> dict[str, Any]:
        """Contents up to the fill level, the write position and the sampling RNG."""
        state: dict[str, Any] = {k: getattr(self, k)[: self.size].copy() for k in self._ARRAYS}
        state.update(pos=self.pos, size=self.size, rng=self.rng.bit_generator.state)
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        self.size, self.pos = int(state["size"]), int(state["pos"])
        for k in self._ARRAYS:
            getattr(self, k)[: self.size] = state[k]
        self.rng.bit_generator.state = state["rng"]


class PrioritizedReplayBuffer(ReplayBuffer):
    """Proportional prioritized replay on a sum-tree (plus a min-tree for the max weight)."""

    def __init__(self, capacity: int, obs_space: gym.Space, action_space: gym.Space, seed: int,
                 alpha: float = 0.6, eps: float = 1e-6, device: torch.device | str = "cpu") -> None:
        super().__init__(capacity, obs_space, action_space, seed, device)
        self.alpha = alpha
        self.eps = eps
        self.sum_tree = SumTree(self.capacity)
        self.min_tree = MinTree(self.capacity)
        self.max_priority = 1.0  # largest p_i = |delta| + eps seen (before the alpha power)

    def add(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, next_obs: np.ndarray,
            terminated: np.ndarray) -> np.ndarray:
        idx = super().add(obs, actions, rewards, next_obs, terminated)
        if len(idx):
            self._set(idx, np.full(len(idx), self.max_priority ** self.alpha))
        return idx

    def _set(self, idx: np.ndarray, p_alpha: np.ndarray) -> None:
        self.sum_tree.update(idx, p_alpha)
        self.min_tree.update(idx, p_alpha)

    def probabilities(self, idx: np.ndarray) -> np.ndarray:
        """P(i) = p_i^alpha / sum_k p_k^alpha."""
        return self.sum_tree[idx] / self.sum_tree.total()

    def importance_weights(self, idx: np.ndarray, beta: float) -> np.ndarray:
        """w_i = (N P(i))^-beta / max_k w_k, with max_k w_k = (N min_k P(k))^-beta."""
        n = self.size
        p_min = self.min_tree.min() / self.sum_tree.total()
        return (n * self.probabilities(idx)) ** -beta / (n * p_min) ** -beta

    def sample(self, batch_size: int, beta: float = 0.4) -> ReplaySample:
        """Stratified proportional sampling; weights corrected with exponent `beta`."""
        total = self.sum_tree.total()
        segment = total / batch_size
        prefix = (np.arange(batch_size) + self.rng.random(batch_size)) * segment
        idx = np.minimum(self.sum_tree.find_prefix_sum(prefix), self.size - 1)
        return self._gather(idx, self.importance_weights(idx, beta))

    def sample_burst(self, n: int, batch_size: int, beta: float = 0.4) -> Iterator[ReplaySample]:
        """One minibatch at a time: each step's priority updates must shape the next draw."""
        for _ in range(n):
            yield self.sample(batch_size, beta)

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        """p_i <- |delta_i| + eps for the sampled transitions."""
        priority = np.abs(np.asarray(td_errors, dtype=np.float64)) + self.eps
        self.max_priority = max(self.max_priority, float(priority.max()))
        self._set(np.asarray(indices), priority ** self.alpha)

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        state.update(priorities=self.sum_tree[np.arange(self.size)], max_priority=self.max_priority)
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.max_priority = float(state["max_priority"])
        self.sum_tree, self.min_tree = SumTree(self.capacity), MinTree(self.capacity)
        if self.size:
            self._set(np.arange(self.size), state["priorities"])
