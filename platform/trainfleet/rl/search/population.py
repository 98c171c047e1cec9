"""One generation of policy search: a population of parameter vectors evaluated on the rollout workers.

A generation travels as a few scalars: a `Population` (sizes and a seed) plus one payload put in
the object store once (the centre, the noise scale, the observation statistics). The members are
dealt out round-robin, one share per worker; each worker derives its members' parameter vectors
itself and sends back scalars only: per member its return, length and noise index, and the sums
of the observations it saw (merged by the learner into its running statistics). So the bytes sent
per generation do not grow with the population, except for CMA-ES, whose `ask()` hands over
explicit vectors.

With noise (ES, CEM) a member is `centre + sign * std * eps`, eps a slice of the shared noise
table that starts at an index drawn from the generation's seed (Salimans et al. 2017, sec. 2.1):
the table is put in the object store once per run and each worker maps that copy read-only.

Evaluation is deterministic given the population's seed, so a worker that dies mid-generation
is replaced and its share re-run by the pool with the same result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from trainfleet.rl.core.workers import RolloutWorker, WorkerPool
from trainfleet.rl.search.policy import SearchPolicy

NOISE_TABLE = "noise_table"


def make_noise_table(size: int, seed: int) -> np.ndarray:
    """`size` standard normal float32 numbers, the same for every run with this seed."""
    return np.random.default_rng(seed).standard_normal(size, dtype=np.float32)


def noise_slices(table: np.ndarray, indices: np.ndarray, dim: int) -> np.ndarray:
    """eps_k = table[i_k : i_k + dim] for every index, as rows [len(indices), dim]."""
    return np.stack([table[i:i + dim] for i in indices]) if len(indices) else np.zeros((0, dim), np.float32)


@dataclass(frozen=True)
class Population:
    """Members 0..size-1 are perturbed policies; members size..size+greedy-1 are episodes of the centre.

    `noisy`: member rows come from the noise table, with antithetic pairs (+eps_k, -eps_k) as members
    2k and 2k+1 when `antithetic`. Otherwise the payload carries the rows (`payload["rows"]`).
    """

    size: int
    greedy: int
    seed: int
    noisy: bool = True
    antithetic: bool = False

    @property
    def total(self) -> int:
        return self.size + self.greedy

    def noise_indices(self, table_size: int, dim: int) -> np.ndarray:
        """Start index of each distinct eps (one per pair when antithetic), drawn from the seed."""
        count = self.size // 2 if self.antithetic else self.size
        return np.random.default_rng(self.seed).integers(0, table_size - dim + 1, count)

    def episode_seeds(self, members: np.ndarray) -> np.ndarray:
        """Common random numbers: both members of an antithetic pair, or every perturbed member when
        there are no pairs, start from the same state, so their returns differ by the policy alone
        (where the vector env seeds each sub-env). The centre's episodes start from distinct states."""
        pair = members // 2 if self.antithetic else np.zeros_like(members)
        seeds = np.where(members < self.size, pair, self.size + members)
        return (self.seed + seeds) % 2**31

    def rows(self, members: np.ndarray, payload: dict[str, Any], table: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(parameter vectors [len(members), dim], noise index per member or -1)."""
        center = payload["center"]
        out = np.repeat(center[None], len(members), axis=0)
        index = np.full(len(members), -1, dtype=np.int64)
        perturbed = members < self.size
        if not self.noisy:
            out[perturbed] = payload["rows"][members[perturbed]]
            return out, index
        draws = self.noise_indices(len(table), len(center))
        m = members[perturbed]
        k, sign = (m // 2, np.where(m % 2 == 0, 1.0, -1.0)) if self.antithetic else (m, np.ones(len(m)))
        index[perturbed] = draws[k]
        out[perturbed] += (sign[:, None] * payload["std"] * noise_slices(table, draws[k], len(center))).astype(np.float32)
        return out, index


@dataclass
class Evaluated:
    """What comes back from the workers: scalars per member, observation sums."""

    members: np.ndarray
    noise_index: np.ndarray
    returns: np.ndarray
    lengths: np.ndarray
    obs_count: int
    obs_sum: np.ndarray
    obs_sumsq: np.ndarray
    # where a generation's time goes (benchmarks/policy_search.py): the slowest share's seconds inside
    # the worker, and the CPU seconds of all shares; the rest of the generation's wall time is the learner and Ray
    worker_s: float = 0.0
    worker_cpu_s: float = 0.0


def run_episodes(env: gym.vector.VectorEnv, policy: SearchPolicy, rows: np.ndarray,
                 seeds: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[int, np.ndarray, np.ndarray]]:
    """One episode per row from a start state drawn from its seed, `env.num_envs` rows at a time.

    A wave resets every sub-env, then steps until each of its episodes has ended (a sub-env that
    ended first keeps stepping, ignored). Returns (returns, lengths, observation count, sum and
    sum of squares).
    """
    n = env.num_envs
    params = torch.zeros(n, rows.shape[1])
    returns, lengths = np.zeros(len(rows)), np.zeros(len(rows), dtype=np.int64)
    dim = env.single_observation_space.shape[0]
    count, obs_sum, obs_sumsq = 0, np.zeros(dim), np.zeros(dim)
    for start in range(0, len(rows), n):
        m = min(n, len(rows) - start)
        params[:m] = torch.from_numpy(rows[start:start + m])
        obs, _ = reset_with_seeds(env, [int(s) for s in seeds[start:start + m]] + [0] * (n - m))
        playing = np.arange(n) < m
        while playing.any():
            seen = obs[playing].astype(np.float64)
            count, obs_sum, obs_sumsq = count + len(seen), obs_sum + seen.sum(0), obs_sumsq + (seen**2).sum(0)
            obs, reward, terminated, truncated, _ = env.step(policy.act_population(obs, params))
            returns[start:start + m] += reward[:m] * playing[:m]
            lengths[start:start + m] += playing[:m]
            playing &= ~(terminated | truncated)
    return returns, lengths, (count, obs_sum, obs_sumsq)


def reset_with_seeds(env: gym.vector.VectorEnv, seeds: list[int]) -> tuple[np.ndarray, dict]:
    """Each sub-env from its own seed where the vector env takes a list (sync/async); a native vector
    env (CartPole) takes one seed, and its sub-envs draw different start states from it."""
    if isinstance(env, (gym.vector.SyncVectorEnv, gym.vector.AsyncVectorEnv)):
        return env.reset(seed=seeds)
    return env.reset(seed=seeds[0])


def evaluate_share(worker: RolloutWorker, population: Population, payload: dict[str, Any], share: int,
                   shares: int) -> Evaluated:
    """Runs on a rollout worker: members share, share + shares, ... of the population."""
    wall, cpu = time.perf_counter(), time.process_time()
    members = np.arange(share, population.total, shares)
    rows, index = population.rows(members, payload, worker.shared.get(NOISE_TABLE))
    worker.policy.set_obs_stats(payload["obs_mean"], payload["obs_var"])
    returns, lengths, (count, obs_sum, obs_sumsq) = run_episodes(
        worker.env, worker.policy, rows, population.episode_seeds(members)
    )
    return Evaluated(members, index, returns, lengths, count, obs_sum, obs_sumsq,
                     worker_s=time.perf_counter() - wall, worker_cpu_s=time.process_time() - cpu)


def evaluate_population(pool: WorkerPool, population: Population, payload: dict[str, Any]) -> Evaluated:
    """Every member evaluated once across the pool, results in member order."""
    ref = pool.put(payload)
    shares = min(len(pool.workers), population.total)
    for w in range(shares):
        pool.call(w, evaluate_share, population, ref, w, shares)
    parts: list[Evaluated] = []
    while len(parts) < shares:
        parts += [c.output for c in pool.wait(num_returns=shares - len(parts))]
    order = np.argsort(np.concatenate([p.members for p in parts]))
    return Evaluated(
        members=np.arange(population.total),
        noise_index=np.concatenate([p.noise_index for p in parts])[order],
        returns=np.concatenate([p.returns for p in parts])[order],
        lengths=np.concatenate([p.lengths for p in parts])[order],
        obs_count=sum(p.obs_count for p in parts),
        obs_sum=sum(p.obs_sum for p in parts),
        obs_sumsq=sum(p.obs_sumsq for p in parts),
        worker_s=max(p.worker_s for p in parts),
        worker_cpu_s=sum(p.worker_cpu_s for p in parts),
    )
