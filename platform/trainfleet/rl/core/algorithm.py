"""The contract between an RL algorithm and the platform.

An algorithm is a class with a typed `Hparams` model and four methods. The platform
(`launch/`) drives it one iteration at a time, checkpoints it, and evaluates it; the
algorithm never touches Tune, the run directory or the CLI.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from pydantic import BaseModel, ConfigDict

from trainfleet.errors import NonFiniteLossError, SpecError
from trainfleet.schema import JobSpec, Resources


class Hparams(BaseModel):
    """Base for algorithm hyperparameters: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


@dataclass
class RunContext:
    """What every backend (native algorithm, RLlib, SB3) is built from: the resolved job's parts.

    `hparams` is the backend's own typed `Hparams` object, validated once with the job."""

    env_id: str
    env_kwargs: dict[str, Any]
    num_envs: int
    hparams: Any
    seed: int
    resources: Resources = field(default_factory=Resources)

    @classmethod
    def from_spec(cls, spec: JobSpec) -> RunContext:
        """The context of a resolved RL job (`jobs.parse_spec`), its typed hparams handed on unchanged."""
        if spec.env is None:
            raise ValueError("a run context needs an RL job (one with `env:`)")
        return cls(spec.env.id, dict(spec.env.kwargs), spec.env.num_envs, spec.typed_hparams, spec.seed, spec.resources)


class Algorithm(ABC):
    """One trainable agent. Subclasses set `Hparams` and implement the abstract methods."""

    Hparams: ClassVar[type[Hparams]] = Hparams

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.hp = ctx.hparams

    @classmethod
    def space_problem(cls, observation_space: gym.Space, action_space: gym.Space) -> str | None:
        """What this algorithm needs of the env's spaces and they lack, or None.

        Checked when the job is validated (before Ray starts) and again when the algorithm
        builds its env, so the rule lives in one place per algorithm family.
        """
        return None

    @classmethod
    def memory_needed(cls, hparams: Any, observation_space: gym.Space, action_space: gym.Space) -> int:
        """Bytes the algorithm allocates up front whatever it learns (a replay buffer); validated
        against the machine's memory before Ray starts."""
        return 0

    def require_spaces(self, observation_space: gym.Space, action_space: gym.Space) -> None:
        problem = self.space_problem(observation_space, action_space)
        if problem:
            raise SpecError(space_message(problem, self.ctx.env_id, observation_space, action_space), path="env.id")

    @classmethod
    def check_env(cls, env_id: str, env_kwargs: dict[str, Any]) -> None:
        """Raise SpecError when this algorithm cannot run on the env beyond its spaces (meta-RL: not a task family)."""

    @abstractmethod
    def train_iteration(self) -> dict[str, float]:
        """Run one iteration; return metrics (at least env_steps, episode_return_mean).

        May include `done: True` when the algorithm has converged (e.g. value iteration).
        """

    @abstractmethod
    def get_state(self) -> dict[str, Any]:
        """Everything needed to continue exactly: weights, optimiser, counters, RNG states."""

    @abstractmethod
    def set_state(self, state: dict[str, Any]) -> None:
        """Inverse of get_state."""

    def load_policy(self, state: dict[str, Any]) -> None:
        """Load only what acting needs from a `get_state` dict (eval builds no workers, so the
        rollout side of the state has nowhere to go). Algorithms with workers override it."""
        self.set_state(state)

    @abstractmethod
    def act(self, obs: Any) -> Any:
        """The greedy/deterministic action for one observation (used by eval)."""

    def close(self) -> None:
        """Release envs and actors."""


def ensure_finite(**losses: float) -> None:
    """Stop training with a clear message when a loss term is NaN/inf (checkpoints stay good)."""
    for name, value in losses.items():
        if not np.isfinite(float(value)):
            raise NonFiniteLossError(f"loss term {name!r} became {float(value)}; stopping (lower the learning rate?)")


def space_message(problem: str, env_id: str, observation_space: gym.Space, action_space: gym.Space) -> str:
    return f"{problem}; {env_id} has {_kind(observation_space)} observations and {_kind(action_space)} actions"


def _kind(space: gym.Space) -> str:
    """A space in a few words (a Box's repr lists every bound)."""
    if isinstance(space, gym.spaces.Discrete):
        return f"Discrete({space.n})"
    if isinstance(space, gym.spaces.Box):
        return f"Box{space.shape}"
    return type(space).__name__
