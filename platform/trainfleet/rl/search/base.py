"""What CEM, ES and CMA-ES share: the worker pool, the policy, the generation loop, metrics, state.

The three differ only in how they propose a population (`ask`) and how they move their search
distribution given the returns (`tell`); that math stays in their own files. One generation is
one iteration. `episode_return_mean` is the mean return of `eval_episodes` episodes of the
distribution's centre (the greedy policy `trainfleet eval` runs), so `stop.episode_return_mean`
stops a run when the policy it would hand over reaches the bar.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any

import numpy as np
import torch
from pydantic import Field

from trainfleet import results
from trainfleet.errors import SpecError
from trainfleet.rl.core.algorithm import Algorithm, Hparams, RunContext
from trainfleet.rl.core.learner import configure_threads
from trainfleet.rl.core.normalize import RunningMeanStd
from trainfleet.rl.core.workers import EnvConfig, WorkerPool
from trainfleet.rl.search.policy import SearchPolicy, SearchPolicyConfig
from trainfleet.rl.search.population import NOISE_TABLE, Evaluated, Population, evaluate_population, make_noise_table


class SearchHparams(Hparams):
    population_size: int = Field(50, ge=2, description="perturbed policies per generation, one episode each (16 .. 1000)")
    hidden: list[int] = Field([], description="hidden layer widths of the policy MLP; [] = linear policy (as ARS)")
    activation: str = Field("tanh", pattern="^(tanh|relu|elu|gelu|silu)$", description="MLP activation")
    normalize_obs: bool = Field(False, description="normalise observations by running statistics merged from workers")
    eval_episodes: int = Field(5, ge=1, description="episodes of the centre (greedy) policy per generation")


class PolicySearch(Algorithm):
    """Base of the population-based searches: subclasses implement `ask`, `tell` and their state."""

    Hparams = SearchHparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        configure_threads(1)
        torch.manual_seed(ctx.seed)
        res = ctx.resources
        config = SearchPolicyConfig(tuple(self.hp.hidden), self.hp.activation, self.hp.normalize_obs)
        self.pool = WorkerPool(
            EnvConfig(ctx.env_id, dict(ctx.env_kwargs), ctx.num_envs),
            config,
            num_workers=res.rollout_workers if res is not None else 0,
            seed=ctx.seed,
            cpus_per_worker=res.cpus_per_worker if res is not None else 1.0,
        )
        self.policy: SearchPolicy = config(self.pool.observation_space, self.pool.action_space)
        self.obs_stats = RunningMeanStd(self.pool.observation_space.shape)
        self.generation = 0
        self.env_steps = 0
        self.episodes = 0

    # ---- subclass API ---------------------------------------------------------------------------
    @abstractmethod
    def ask(self, seed: int) -> tuple[Population, dict[str, Any]]:
        """This generation's population and its payload's own entries (e.g. the noise std)."""

    @abstractmethod
    def tell(self, returns: np.ndarray, noise_index: np.ndarray) -> dict[str, float]:
        """Move the search distribution given the perturbed members' returns (and, for noise-table
        populations, each member's noise index); metrics, `noise_std` among them."""

    @abstractmethod
    def center(self) -> np.ndarray:
        """The distribution's centre: the greedy policy's parameter vector."""

    @abstractmethod
    def elite_count(self) -> int:
        """How many of the best members `elite_return_mean` averages."""

    @abstractmethod
    def search_state(self) -> dict[str, Any]:
        """The search distribution and optimiser state (plain data)."""

    @abstractmethod
    def set_search_state(self, state: dict[str, Any]) -> None: ...

    # ---- the generation -------------------------------------------------------------------------
    def generation_seed(self) -> int:
        """Noise indices and episode starts of this generation: fixed by (run seed, generation)."""
        return int(np.random.SeedSequence([self.ctx.seed, self.generation]).generate_state(1)[0] % 2**31)

    def train_iteration(self) -> dict[str, float]:
        population, extra = self.ask(self.generation_seed())
        payload = {"center": self.center().astype(np.float32), "obs_mean": self.obs_stats.mean.astype(np.float32),
                   "obs_var": self.obs_stats.var.astype(np.float32), **extra}
        sent = self.pool.bytes_sent
        evaluated = evaluate_population(self.pool, population, payload)
        sent = self.pool.bytes_sent - sent
        returns = evaluated.returns[:population.size]
        metrics = self.tell(returns, evaluated.noise_index[:population.size])
        if self.hp.normalize_obs:
            self.merge_obs_stats(evaluated)
        self.generation += 1
        self.env_steps += int(evaluated.lengths.sum())
        self.episodes += population.total
        self.sync_policy()
        greedy_returns, greedy_lengths = evaluated.returns[population.size:], evaluated.lengths[population.size:]
        best = np.sort(returns)[::-1]
        return {
            results.ENV_STEPS: self.env_steps,
            results.EPISODES: self.episodes,
            results.EPISODE_RETURN_MEAN: float(greedy_returns.mean()),
            results.EPISODE_LEN_MEAN: float(greedy_lengths.mean()),
            "population_return_mean": float(returns.mean()),
            "population_return_max": float(best[0]),
            "elite_return_mean": float(best[: self.elite_count()].mean()),
            "bytes_to_workers": sent,
            "worker_restarts": self.pool.restarts,
            **metrics,
        }

    def merge_obs_stats(self, evaluated: Evaluated) -> None:
        """Fold the workers' observation sums into the running statistics (used from the next generation)."""
        if evaluated.obs_count == 0:
            return
        mean = evaluated.obs_sum / evaluated.obs_count
        var = np.maximum(evaluated.obs_sumsq / evaluated.obs_count - mean**2, 0.0)
        self.obs_stats.merge(mean, var, evaluated.obs_count)

    def share_noise_table(self, size: int) -> np.ndarray:
        """The run's noise table: made once from the run seed, put in the object store once."""
        if size < self.policy.dim:
            raise SpecError(f"noise_table_size {size} is smaller than the policy's {self.policy.dim} parameters",
                            path="hparams.noise_table_size")
        table = make_noise_table(size, self.ctx.seed)
        self.pool.share(NOISE_TABLE, table)
        return table

    def sync_policy(self) -> None:
        """The learner's own policy = the centre with the latest observation statistics."""
        self.policy.set_flat(self.center())
        self.policy.set_obs_stats(self.obs_stats.mean, self.obs_stats.var)

    # ---- acting, state --------------------------------------------------------------------------
    def act(self, obs: Any) -> Any:
        action = self.policy(torch.as_tensor(np.asarray(obs))[None])[0].numpy()
        return int(action) if self.policy.discrete else action

    def get_state(self) -> dict[str, Any]:
        return {
            "policy": {k: v.clone() for k, v in self.policy.state_dict().items()},
            "obs_stats": self.obs_stats.get_state(),
            "pool": self.pool.get_state(),
            "generation": self.generation,
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "search": self.search_state(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state["policy"])
        self.obs_stats.set_state(state["obs_stats"])
        self.pool.set_state(state["pool"])
        self.generation, self.env_steps, self.episodes = state["generation"], state["env_steps"], state["episodes"]
        self.set_search_state(state["search"])

    def close(self) -> None:
        self.pool.close()


def elite_size(fraction: float, population: int) -> int:
    """At least one member: ceil(fraction * population)."""
    return max(1, math.ceil(fraction * population))
