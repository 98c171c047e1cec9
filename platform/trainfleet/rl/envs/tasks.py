"""The task interface of meta-RL environments, and seeded train/test task splits.

A task family is an env whose reward or dynamics depend on a task drawn from a distribution
p(T) (the notes' "task distribution", L2958). Meta-training adapts to tasks of the train split;
every reported number comes from the held-out test split. Tasks are plain dicts of numbers (or
lists of numbers), so they travel to rollout workers and into checkpoints as data.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

Task = dict[str, Any]


class TaskFamily:
    """Mixin for gymnasium envs: `sample_tasks(n)`, `set_task(task)`, `get_task()`.

    A family lists each task parameter's uniform range in `task_ranges`; one with a structured
    task (a bandit's arm probabilities) overrides `draw_task`. Vector envs of a family also take
    one task per sub-env (`set_tasks`), which RL² uses to run trials of different tasks at once.
    """

    task_ranges: ClassVar[dict[str, tuple[float, float]]] = {}

    def draw_task(self, rng: np.random.Generator) -> Task:
        return {name: float(rng.uniform(lo, hi)) for name, (lo, hi) in self.task_ranges.items()}

    def sample_tasks(self, n: int, rng: np.random.Generator | None = None) -> list[Task]:
        """`n` tasks from p(T), drawn from `rng` (the env's own generator when None)."""
        rng = self.np_random if rng is None else rng  # type: ignore[attr-defined]
        return [self.draw_task(rng) for _ in range(n)]

    def set_task(self, task: Task) -> None:
        for name, value in task.items():
            setattr(self, name, value)

    def get_task(self) -> Task:
        return {name: getattr(self, name) for name in self.task_ranges}


def task_family(env: gym.Env | gym.vector.VectorEnv) -> TaskFamily:
    """The TaskFamily under an env's wrappers, or a ValueError naming the env."""
    core = env.unwrapped
    if not isinstance(core, TaskFamily):
        raise ValueError(f"{type(core).__name__} is not a meta-RL task family (no sample_tasks/set_task/get_task)")
    return core


def task_split(family: TaskFamily, seed: int, n_train: int, n_test: int) -> tuple[list[Task], list[Task]]:
    """Train and held-out test tasks, reproducible from `seed` alone (independent streams)."""
    train_rng, test_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    return family.sample_tasks(n_train, train_rng), family.sample_tasks(n_test, test_rng)


def assign_tasks(env: gym.vector.VectorEnv, tasks: list[Task]) -> None:
    """One task per sub-env of a vector env (native family vector env, or a SyncVectorEnv)."""
    core = env.unwrapped
    if hasattr(core, "set_tasks"):
        core.set_tasks(tasks)
        return
    for sub, task in zip(env.envs, tasks, strict=True):
        task_family(sub).set_task(task)
