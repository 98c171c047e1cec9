"""Driver-side Tune callback: the live progress line, metrics.parquet, checkpoint copies, signatures."""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Any

from ray import tune

from trainfleet import results, trust


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return format(value, spec)


def progress_line(result: dict[str, Any], trial_label: str | None = None) -> str:
    """`iter 12 | env_steps 24,576 | return 187.30 | 8,123 steps/s | 12.4 s` (RL) or the DL epoch line."""
    head = f"[{trial_label}] " if trial_label else ""
    if results.EPOCH in result and results.ENV_STEPS not in result:
        extra = " | ".join(
            f"{k} {_fmt(v, '.4f')}" for k, v in result.items() if k.startswith("val_") and isinstance(v, float)
        )
        return (
            f"{head}epoch {result[results.EPOCH]:>4} | train_loss {_fmt(result.get(results.TRAIN_LOSS), '.4f')}"
            f"{' | ' + extra if extra else ''} | {_fmt(result.get(results.TIME_S), '.1f')} s"
        )
    return (
        f"{head}iter {result.get(results.ITERATION, 0):>5} | env_steps {_fmt(result.get(results.ENV_STEPS), ',')}"
        f" | return {_fmt(result.get(results.EPISODE_RETURN_MEAN), '.2f')}"
        f" | {_fmt(result.get(results.ENV_STEPS_PER_S), ',.0f')} steps/s"
        f" | {_fmt(result.get(results.TIME_S), '.1f')} s"
    )


def iteration_key(result: dict[str, Any]) -> str:
    return results.ITERATION if results.ITERATION in result else results.EPOCH


class RunRecorder(tune.Callback):
    """Prints progress, keeps metrics.parquet current, copies checkpoints into the run dir, and
    signs what Tune writes there as soon as it appears (trust.py), so even a driver killed
    mid-run leaves a directory `--resume` can verify."""

    FLUSH_EVERY_S = 2.0

    def __init__(self, run_dir: Path, sweep: bool, stream=None) -> None:
        self.run_dir = run_dir
        self.sweep = sweep
        self.stream = stream
        self.metrics = results.MetricsTable(run_dir / "metrics.parquet")
        self.last_result: dict[str, dict[str, Any]] = {}
        self.running: set[str] = set()
        self.unfinished: list[str] = []  # trials a Ctrl-C cut short (or never started)
        self._last_flush = 0.0
        self.signer = trust.Signer(run_dir)

    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        self.running.add(trial.trial_id)

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        row = {k: v for k, v in result.items() if k in _KEEP or k not in _TUNE_FIELDS}
        if iteration_key(row) == results.EPOCH:
            row.setdefault(results.ITERATION, row[results.EPOCH])
        self.metrics.add(trial.trial_id, {k: v for k, v in row.items() if k != "stop_reason"})
        self.last_result[trial.trial_id] = row
        print(progress_line(row, trial.trial_id if self.sweep else None), file=self.stream or sys.stdout, flush=True)
        now = time.monotonic()
        if now - self._last_flush > self.FLUSH_EVERY_S:
            self.metrics.flush()
            self._last_flush = now

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info) -> None:
        dest = self.run_dir / "checkpoints" / (trial.trial_id if self.sweep else "latest")
        with checkpoint.as_directory() as d:
            results.replace_dir(d, dest)
        # Rows first, then Tune records this checkpoint in its experiment state: a driver killed
        # right after can resume from here without a gap in metrics.parquet.
        self.metrics.flush()
        self.signer.sign()

    def on_step_end(self, iteration, trials, **info) -> None:
        self.signer.sign()  # after Tune's experiment-state save of this step

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self.running.discard(trial.trial_id)
        self.metrics.flush()

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self.running.discard(trial.trial_id)
        self.metrics.flush()

    def on_experiment_end(self, trials, **info) -> None:
        # Tune marks trials it stops at the end TERMINATED without on_trial_complete: still running here.
        self.unfinished = sorted(self.running | {t.trial_id for t in trials if t.status in ("PENDING", "PAUSED")})
        self.metrics.flush()


_KEEP = {"time_s", "iteration"}
_TUNE_FIELDS = {
    "timestamp", "checkpoint_dir_name", "should_checkpoint", "done", "training_iteration", "trial_id",
    "date", "time_this_iter_s", "time_total_s", "pid", "hostname", "node_ip", "config", "time_since_restore",
    "iterations_since_restore", "experiment_tag",
}
