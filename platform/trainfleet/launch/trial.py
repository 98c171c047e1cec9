"""The loop of every RL trial, and the Tune function trainable that runs it (one call = one trial).

It owns what is common to all backends: seeding, the iteration loop, stop criteria,
checkpoint cadence and the platform's counters (iteration, time_s, env_steps_per_s). Where its
rows and checkpoints go is its session's business (`session.py`): Tune's, or the driver's own.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from trainfleet import jobs, results, schema
from trainfleet.launch.runner import PROGRESS_FILE, build_runner, write_checkpoint
from trainfleet.launch.session import TrialSession, TuneSession
from trainfleet.stopping import stop_reason


def trial_spec(config: dict[str, Any]) -> jobs.JobSpec:
    """The job spec of this trial: the driver's resolved spec object itself, or (a sweep) that spec
    re-created with the trial's sampled overrides; never validated against the registry again."""
    return schema.with_overrides(config["spec"], config.get("overrides", {}))


def rl_trial(config: dict[str, Any]) -> None:
    """The Tune function trainable of an RL run."""
    spec = trial_spec(config)
    run_rl(spec, TuneSession(spec))


def run_rl(spec: jobs.JobSpec, session: TrialSession) -> None:
    """Train until a `stop:` criterion, every iteration a row, a checkpoint at the cadence and at the stop."""
    runner = build_runner(spec)
    iteration, time_s, env_steps = 0, 0.0, 0
    with session.start_checkpoint() as d:
        if d is not None:
            runner.restore(d)
            saved = json.loads((d / PROGRESS_FILE).read_text())
            iteration, time_s, env_steps = saved["iteration"], saved["time_s"], saved["env_steps"]
    try:
        while True:
            t0 = time.perf_counter()
            metrics = dict(runner.train_iteration())
            elapsed = time.perf_counter() - t0
            iteration += 1
            time_s += elapsed
            metrics[results.ITERATION] = iteration
            metrics[results.TIME_S] = time_s
            steps_now = int(metrics.get(results.ENV_STEPS, env_steps))
            metrics[results.ENV_STEPS_PER_S] = (steps_now - env_steps) / max(elapsed, 1e-9)
            env_steps = steps_now
            reason = stop_reason(spec.stop, metrics)
            if reason:
                metrics["stop_reason"] = reason
            if reason or iteration % spec.checkpoint.every == 0:
                with tempfile.TemporaryDirectory() as ckpt:
                    write_checkpoint(Path(ckpt), runner, spec,
                                     {"iteration": iteration, "time_s": time_s, "env_steps": env_steps})
                    session.report(metrics, checkpoint=Path(ckpt))
            else:
                session.report(metrics)
            if reason:
                return
    finally:
        runner.close()
