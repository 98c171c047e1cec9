"""Which tasks a meta-learner trains and is judged on: a seeded split, and a checkpointable draw.

The train/test split comes from the job's seed alone (`rl/envs/tasks.py: task_split`), so a
resumed or repeated run sees the same held-out tasks. Meta-batches are drawn from the train
split with the sampler's own generator, whose state is part of every checkpoint: a resumed run
draws exactly the tasks the uninterrupted one would have.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trainfleet.errors import SpecError
from trainfleet.rl.core.wrappers import single_env
from trainfleet.rl.envs.tasks import Task, task_family, task_split


def family_of(env: Any, env_id: str) -> Any:
    """The env's TaskFamily, or a SpecError for a job that names a plain env."""
    try:
        return task_family(env)
    except ValueError as err:
        raise SpecError(f"{env_id}: {err}; meta-RL needs a task family such as trainfleet/Navigation2D-v0",
                        path="env.id") from None


def check_task_family(env_id: str, env_kwargs: dict[str, Any]) -> None:
    env = single_env(env_id, env_kwargs)
    try:
        family_of(env, env_id)
    finally:
        env.close()


class TaskSampler:
    def __init__(self, env_id: str, env_kwargs: dict[str, Any], seed: int, n_train: int, n_test: int) -> None:
        env = single_env(env_id, env_kwargs)
        try:
            self.train, self.test = task_split(family_of(env, env_id), seed, n_train, n_test)
        finally:
            env.close()
        self.rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(3)[2])

    def meta_batch(self, n: int) -> list[Task]:
        """`n` training tasks (distinct while the split has that many)."""
        index = self.rng.choice(len(self.train), size=n, replace=n > len(self.train))
        return [self.train[i] for i in index]

    def get_state(self) -> dict[str, Any]:
        # PCG64's 128-bit integers as strings: checkpoints hold plain data only
        state = self.rng.bit_generator.state
        return {"state": str(state["state"]["state"]), "inc": str(state["state"]["inc"]),
                "has_uint32": state["has_uint32"], "uinteger": state["uinteger"]}

    def set_state(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = {
            "bit_generator": "PCG64", "state": {"state": int(state["state"]), "inc": int(state["inc"])},
            "has_uint32": state["has_uint32"], "uinteger": state["uinteger"],
        }
