"""Runners: the one seam every backend sits behind (native, RLlib, Stable-Baselines3).

A backend is a class registered under an algorithm name; `build_runner` seeds the process and
builds it from the one `RunContext` of the job (typed hparams included), whatever the backend.
A native `Algorithm` is wrapped in `NativeRunner`; a backend class that already speaks the Runner
protocol (RLlib's, SB3's) is the runner itself. The trial loop, checkpoint cadence, stop rules
(`stopping.py`) and metric names then live in one place for all of them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Protocol

from trainfleet import registry, results
from trainfleet.rl.core.algorithm import Algorithm, RunContext
from trainfleet.rl.core.checkpoint import load_state, save_state
from trainfleet.schema import JobSpec
from trainfleet.seeding import seed_everything

PROGRESS_FILE = "progress.json"


class Runner(Protocol):
    def train_iteration(self) -> dict[str, Any]: ...

    def save(self, directory: Path) -> None: ...

    def restore(self, directory: Path) -> None: ...

    def act(self, obs: Any) -> Any: ...

    def close(self) -> None: ...


class NativeRunner:
    """Adapts a trainfleet `Algorithm` to the Runner interface (state in a safe torch file)."""

    def __init__(self, algo: Algorithm) -> None:
        self.algo = algo

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


def build_runner(spec: JobSpec) -> Runner:
    """The Runner of an RL job's backend, seeded, built from the job's one run context."""
    assert spec.algorithm is not None, "an RL job names its algorithm (schema.JobSpec)"
    registry.register_envs()
    seed_everything(spec.seed)
    backend = registry.algorithm(spec.algorithm, spec.backend, allow_imports=True).load()(RunContext.from_spec(spec))
    return NativeRunner(backend) if isinstance(backend, Algorithm) else backend


def write_checkpoint(directory: Path, runner: Runner, spec: JobSpec, progress: dict[str, Any]) -> None:
    """What a trial checkpoint holds: the runner's state, the trial's spec and the loop's counters."""
    runner.save(directory)
    results.write_trial_spec(directory, spec)
    (directory / PROGRESS_FILE).write_text(json.dumps(progress))
