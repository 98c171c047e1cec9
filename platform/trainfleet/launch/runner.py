"""Runners: the one-iteration-at-a-time interface a Tune trial drives, whatever the backend.

A native RL algorithm, an RLlib algorithm and (later) other engines all become a Runner,
so the trial loop, checkpoint cadence, stop criteria and metric names live in one place.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from trainfleet import jobs, registry
from trainfleet.rl.core.algorithm import Algorithm, RunContext
from trainfleet.rl.core.checkpoint import load_state, save_state

SPEC_FILE = "trial_spec.json"
PROGRESS_FILE = "progress.json"


class Runner(Protocol):
    def train_iteration(self) -> dict[str, Any]: ...

    def save(self, directory: Path) -> None: ...

    def restore(self, directory: Path) -> None: ...

    def act(self, obs: Any) -> Any: ...

    def close(self) -> None: ...


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class NativeRunner:
    """Adapts a trainfleet `Algorithm` to the Runner interface (state in a safe torch file)."""

    def __init__(self, spec: jobs.JobSpec) -> None:
        seed_everything(spec.seed)
        cls = registry.algorithm(spec.algorithm, spec.backend, allow_imports=True).load()
        ctx = RunContext(
            env_id=spec.env.id,
            env_kwargs=dict(spec.env.kwargs),
            num_envs=spec.env.num_envs,
            hparams=spec.typed_hparams,
            seed=spec.seed,
            resources=spec.resources,
        )
        self.algo: Algorithm = cls(ctx)

    def train_iteration(self) -> dict[str, Any]:
        return self.algo.train_iteration()

    def save(self, directory: Path) -> None:
        save_state(directory, self.algo.get_state())

    def restore(self, directory: Path) -> None:
        self.algo.set_state(load_state(directory))

    def act(self, obs: Any) -> Any:
        return self.algo.act(obs)

    def close(self) -> None:
        self.algo.close()


def build_runner(spec: jobs.JobSpec) -> Runner:
    """The Runner for an RL job's backend."""
    registry.register_envs()
    if spec.backend == "native":
        return NativeRunner(spec)
    cls = registry.algorithm(spec.algorithm, spec.backend, allow_imports=True).load()
    return cls(spec)


def write_checkpoint(directory: Path, runner: Runner, spec: jobs.JobSpec, progress: dict[str, Any]) -> None:
    """What a trial checkpoint holds: the runner's state, the trial's spec and the loop's counters."""
    runner.save(directory)
    write_trial_spec(directory, spec)
    (directory / PROGRESS_FILE).write_text(json.dumps(progress))


def write_trial_spec(directory: Path, spec: jobs.JobSpec) -> None:
    (directory / SPEC_FILE).write_text(json.dumps(jobs.resolved_dict(spec)))


def read_trial_spec(directory: Path) -> jobs.JobSpec:
    """The spec a checkpoint was trained with, validated like a job file (see results.read_stored_spec)."""
    from trainfleet.results import read_stored_spec

    return read_stored_spec(directory / SPEC_FILE)
