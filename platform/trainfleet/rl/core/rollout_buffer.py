"""Rollouts as plain arrays, and the return/advantage math every on-policy algorithm shares.

A `Rollout` holds T vector steps of N envs, time-major ([T, N, ...]), exactly as the env
produced them (NEXT_STEP autoreset, see `wrappers.py`):

- `obs[t]` is the observation action `actions[t]` was taken in; `next_obs` follows step T-1.
- When sub-env n ends at step t (`terminated` or `truncated`), `obs[t+1, n]` is its *final*
  observation and step t+1 only resets it: `valid[t+1, n]` is False and that row is dropped
  from every loss. So V(obs[t+1]) is exactly the bootstrap value a truncated episode needs.

The notes' `compute_returns` runs one discounted sum over the whole batch; here an episode
end cuts the sum, termination bootstraps 0 and truncation (a time limit, not a real end)
bootstraps V(final observation) (Pardo et al. 2018, "Time Limits in Reinforcement Learning").

An env that reports a safety cost per step in `info[COST_KEY]` (Safety-Gymnasium's convention; the
cooling plant's inlet degree-minutes) gets it recorded beside the reward, for constrained learners.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

COST_KEY = "constraint_cost"


@dataclass
class Rollout:
    obs: np.ndarray  # [T, N, *obs_shape]
    actions: np.ndarray  # [T, N, *act_shape]
    rewards: np.ndarray  # [T, N] float32
    terminated: np.ndarray  # [T, N] bool
    truncated: np.ndarray  # [T, N] bool
    valid: np.ndarray  # [T, N] bool: False on the reset step after an episode end
    next_obs: np.ndarray  # [N, *obs_shape], the observation after step T-1
    extras: dict[str, np.ndarray] = field(default_factory=dict)  # what the policy returned, [T, N, ...]
    episode_returns: list[float] = field(default_factory=list)  # episodes that ended in this rollout
    episode_lengths: list[int] = field(default_factory=list)
    costs: np.ndarray | None = None  # [T, N] info[COST_KEY] when the env reports it (0 on reset steps)
    episode_costs: list[float] = field(default_factory=list)  # summed costs of the episodes that ended
    policy_version: int = 0  # version of the weights that acted
    sample_s: float = 0.0  # seconds the worker spent stepping (the rest of a round trip is transfer)

    @property
    def num_steps(self) -> int:
        """Real env transitions (reset steps excluded)."""
        return int(self.valid.sum())

    @property
    def dones(self) -> np.ndarray:
        return self.terminated | self.truncated

    @staticmethod
    def concat(parts: list[Rollout]) -> Rollout:
        """Join rollouts of equal length from several workers along the env axis."""
        if len(parts) == 1:
            return parts[0]
        cat = lambda name: np.concatenate([getattr(p, name) for p in parts], axis=1)  # noqa: E731
        return Rollout(
            obs=cat("obs"),
            actions=cat("actions"),
            rewards=cat("rewards"),
            terminated=cat("terminated"),
            truncated=cat("truncated"),
            valid=cat("valid"),
            next_obs=np.concatenate([p.next_obs for p in parts], axis=0),
            extras={k: np.concatenate([p.extras[k] for p in parts], axis=1) for k in parts[0].extras},
            episode_returns=[r for p in parts for r in p.episode_returns],
            episode_lengths=[n for p in parts for n in p.episode_lengths],
            costs=cat("costs") if parts[0].costs is not None else None,
            episode_costs=[c for p in parts for c in p.episode_costs],
            policy_version=min(p.policy_version for p in parts),
            sample_s=max(p.sample_s for p in parts),
        )

    def transitions(self) -> dict[str, np.ndarray]:
        """Flat (s, a, r, s', terminated) tuples of the valid steps, for replay buffers.

        s' is the true next state: the final observation where an episode ended.
        """
        following = np.concatenate([self.obs[1:], self.next_obs[None]], axis=0)
        v = self.valid
        return {
            "obs": self.obs[v],
            "actions": self.actions[v],
            "rewards": self.rewards[v],
            "next_obs": following[v],
            "terminated": self.terminated[v],
            "truncated": self.truncated[v],
        }


def gae(
    rewards: np.ndarray,
    values: np.ndarray,
    next_values: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    gamma: float,
    lam: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Generalised advantage estimation (Schulman et al. 2016), returns (advantages, returns).

    All arrays are [T, N]. `next_values[t]` is V of the state after step t (for a rollout:
    `values[1:]` then V(next_obs)). delta_t = r_t + gamma V(s_{t+1}) [0 if terminated] - V(s_t);
    A_t = delta_t + gamma lam A_{t+1}, the sum cut at every episode end. lam = 1 gives the
    Monte Carlo return minus V, lam = 0 the one-step TD error.
    """
    not_term = 1.0 - terminated.astype(np.float64)
    carry = 1.0 - (terminated | truncated).astype(np.float64)
    deltas = rewards + gamma * not_term * next_values - values
    adv = np.zeros_like(deltas, dtype=np.float64)
    last = np.zeros(deltas.shape[1:])
    for t in reversed(range(deltas.shape[0])):
        last = deltas[t] + gamma * lam * carry[t] * last
        adv[t] = last
    adv = adv.astype(np.float32)
    return adv, (adv + values).astype(np.float32)


def discounted_returns(
    rewards: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    gamma: float,
    bootstrap: np.ndarray | None = None,
) -> np.ndarray:
    """G_t = r_t + gamma G_{t+1}, cut at episode ends ([T, N]).

    `bootstrap[t]` (e.g. V of the next state) is added, discounted, where the sum has to stop
    early: at a truncation and after the last step. Without it those tails are sums of the
    rewards seen so far; use `complete_episodes` to drop them.
    """
    tail = np.zeros_like(rewards, dtype=np.float64)
    if bootstrap is not None:
        tail[truncated & ~terminated] = bootstrap[truncated & ~terminated]
        tail[-1] = np.where(terminated[-1], 0.0, bootstrap[-1])
    values = np.zeros_like(rewards, dtype=np.float64)
    adv, _ = gae(rewards, values, tail, terminated, truncated, gamma, 1.0)
    return adv


def complete_episodes(rollout: Rollout) -> np.ndarray:
    """[T, N] mask of valid steps whose episode ended within the rollout (Monte Carlo returns)."""
    dones = rollout.dones & rollout.valid
    ended_later = np.flip(np.logical_or.accumulate(np.flip(dones, 0), axis=0), 0)
    return rollout.valid & ended_later
