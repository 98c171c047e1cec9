"""The Tune function trainable every RL run executes (one call = one trial).

It owns what is common to all backends: seeding, the iteration loop, stop criteria,
checkpoint cadence and the platform's counters (iteration, time_s, env_steps_per_s).
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from ray import tune

from trainfleet import jobs, results, schema
from trainfleet.launch import progress, telemetry
from trainfleet.launch.runner import PROGRESS_FILE, build_runner, write_checkpoint
from trainfleet.stopping import stop_reason

REPORT_EVERY_S = 1.0  # a plain run's cadence of Tune reports (each carries all rows since the last)


def trial_spec(config: dict[str, Any]) -> jobs.JobSpec:
    """The job spec of this trial: the driver's resolved spec object itself, or (a sweep) that spec
    re-created with the trial's sampled overrides; never validated against the registry again."""
    return schema.with_overrides(config["spec"], config.get("overrides", {}))


def rl_trial(config: dict[str, Any]) -> None:
    spec = trial_spec(config)
    runner = build_runner(spec)
    trial_id = tune.get_context().get_trial_id()
    iteration, time_s, env_steps = 0, 0.0, 0
    start_ckpt = tune.get_checkpoint()
    if start_ckpt is not None:
        with start_ckpt.as_directory() as d:
            runner.restore(Path(d))
            saved = json.loads((Path(d) / PROGRESS_FILE).read_text())
        iteration, time_s, env_steps = saved["iteration"], saved["time_s"], saved["env_steps"]
    # Each tune.report is a round trip through Tune's driver (~40 ms idle, far more under load): more
    # than a small job's whole iteration. A plain run reports its iterations in batches, a sweep each
    # one, so that its scheduler judges every iteration. Stop rules are checked here, per iteration.
    report_every_s = 0.0 if spec.tune else REPORT_EVERY_S
    batch: list[dict[str, Any]] = []
    last_report = time.monotonic()
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
            batch.append(metrics)
            checkpoint_due = bool(reason) or iteration % spec.checkpoint.every == 0
            if not checkpoint_due and time.monotonic() - last_report < report_every_s:
                continue
            telemetry.record(spec.name, trial_id, metrics)
            report = {**metrics, progress.ROWS: json.dumps(batch, default=_plain)}
            batch, last_report = [], time.monotonic()
            if checkpoint_due:
                with tempfile.TemporaryDirectory() as d:
                    write_checkpoint(Path(d), runner, spec,
                                     {"iteration": iteration, "time_s": time_s, "env_steps": env_steps})
                    tune.report(report, checkpoint=tune.Checkpoint.from_directory(d))
            else:
                tune.report(report)
            if reason:
                return
    finally:
        runner.close()


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers in the JSON of a report's rows."""
    return value.item() if hasattr(value, "item") else str(value)
