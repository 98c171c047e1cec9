"""The Tune function trainable every RL run executes (one call = one trial).

It owns what is common to all backends: seeding, the iteration loop, stop criteria,
checkpoint cadence and the platform's counters (iteration, time_s, env_steps_per_s).
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from pathlib import Path
from typing import Any

from ray import tune

from trainfleet import jobs, results
from trainfleet.launch import telemetry
from trainfleet.launch.runner import PROGRESS_FILE, build_runner, write_checkpoint


def trial_spec(config: dict[str, Any]) -> jobs.JobSpec:
    """The job spec of this trial: the base spec with the trial's sampled overrides applied."""
    raw = jobs.apply_overrides(config["spec"], config.get("overrides", {}))
    return jobs.JobSpec.model_validate(raw)


def stop_reason(spec: jobs.JobSpec, metrics: dict[str, Any]) -> str | None:
    """The first `stop:` criterion met by these metrics, or None to go on."""
    s = spec.stop
    ret = metrics.get(results.EPISODE_RETURN_MEAN)
    if s.episode_return_mean is not None and ret is not None and not math.isnan(ret) and ret >= s.episode_return_mean:
        return "episode_return_mean"
    if s.env_steps is not None and metrics.get(results.ENV_STEPS, 0) >= s.env_steps:
        return "env_steps"
    if s.iterations is not None and metrics[results.ITERATION] >= s.iterations:
        return "iterations"
    if s.time_s is not None and metrics[results.TIME_S] >= s.time_s:
        return "time_s"
    if metrics.get("done"):
        return "converged"
    return None


def rl_trial(config: dict[str, Any]) -> None:
    spec = trial_spec(config)
    runner = build_runner(spec)
    iteration, time_s, env_steps = 0, 0.0, 0
    start_ckpt = tune.get_checkpoint()
    if start_ckpt is not None:
        with start_ckpt.as_directory() as d:
            runner.restore(Path(d))
            progress = json.loads((Path(d) / PROGRESS_FILE).read_text())
        iteration, time_s, env_steps = progress["iteration"], progress["time_s"], progress["env_steps"]
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
            telemetry.record(spec.name, tune.get_context().get_trial_id(), metrics)
            reason = stop_reason(spec, metrics)
            if reason:
                metrics["stop_reason"] = reason
            if reason or iteration % spec.checkpoint.every == 0:
                with tempfile.TemporaryDirectory() as d:
                    write_checkpoint(Path(d), runner, spec,
                                     {"iteration": iteration, "time_s": time_s, "env_steps": env_steps})
                    tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(d))
            else:
                tune.report(metrics)
            if reason:
                return
    finally:
        runner.close()
