"""What MAML and RL² share: the task sampler, the rollout worker pool, held-out evaluation on a
schedule, and checkpoint state. Each algorithm adds its policy, its update and its evaluation."""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import torch
from pydantic import Field

from trainfleet import results
from trainfleet.rl.core.algorithm import Algorithm, Hparams, RunContext
from trainfleet.rl.core.learner import configure_threads
from trainfleet.rl.core.workers import EnvConfig, PolicyBuilder, WorkerPool
from trainfleet.rl.meta.sampler import TaskSampler, check_task_family


class MetaHparams(Hparams):
    train_tasks: int = Field(1000, ge=1, description="size of the seeded training task split")
    test_tasks: int = Field(40, ge=1, description="size of the held-out test split every metric is measured on")
    eval_every: int = Field(5, ge=1, description="evaluate on the test tasks every N iterations")


class MetaAlgorithm(Algorithm):
    """Subclasses build `self.optimizer` and implement `meta_iteration` and `evaluate`."""

    Hparams = MetaHparams
    optimizer: torch.optim.Optimizer

    def __init__(self, ctx: RunContext, policy: PolicyBuilder) -> None:
        super().__init__(ctx)
        configure_threads(1)
        torch.manual_seed(ctx.seed)
        self.sampler = TaskSampler(ctx.env_id, dict(ctx.env_kwargs), ctx.seed, self.hp.train_tasks, self.hp.test_tasks)
        res = ctx.resources
        self.pool = WorkerPool(
            EnvConfig(ctx.env_id, dict(ctx.env_kwargs), ctx.num_envs), policy,
            num_workers=res.rollout_workers if res is not None else 0, seed=ctx.seed,
            cpus_per_worker=res.cpus_per_worker if res is not None else 1.0,
        )
        self.model = policy(self.pool.observation_space, self.pool.action_space)
        self.iteration = 0
        self.env_steps = 0

    @classmethod
    def check_env(cls, env_id: str, env_kwargs: dict[str, Any]) -> None:
        check_task_family(env_id, env_kwargs)

    @abstractmethod
    def meta_iteration(self) -> dict[str, float]:
        """One meta-training step on a fresh meta-batch of training tasks; returns its metrics."""

    @abstractmethod
    def evaluate(self) -> dict[str, float]:
        """Adaptation metrics on the held-out test tasks (`evaluation.py`)."""

    def train_iteration(self) -> dict[str, float]:
        metrics = {**self.meta_iteration(), "worker_restarts": self.pool.restarts}
        self.iteration += 1
        metrics[results.ENV_STEPS] = self.env_steps
        if self.iteration % self.hp.eval_every == 0:
            metrics.update(self.evaluate())
        else:
            metrics[results.EPISODE_RETURN_MEAN] = float("nan")  # measured on test tasks only
        return metrics

    def get_state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
            "sampler": self.sampler.get_state(), "pool": self.pool.get_state(),
            "iteration": self.iteration, "env_steps": self.env_steps,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.sampler.set_state(state["sampler"])
        self.pool.set_state(state["pool"])
        self.iteration, self.env_steps = state["iteration"], state["env_steps"]

    def close(self) -> None:
        self.pool.close()
