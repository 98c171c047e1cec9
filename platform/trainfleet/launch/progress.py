"""Driver-side Tune callback: the live progress line (a trial table for sweeps), metrics.parquet,
checkpoint copies and signatures."""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ray import tune

from trainfleet import results, trust

if TYPE_CHECKING:
    from trainfleet.jobs import TuneSpec
    from trainfleet.launch.schedulers import SweepLog

# A report's key holding, as JSON, every iteration's row since the trial's last report (an RL
# trial batches its reports); a report without it is one row. JSON keeps Tune's loggers quiet.
ROWS = "rows"


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return format(value, spec)


def progress_line(result: dict[str, Any]) -> str:
    """`iter 12 | env_steps 24,576 | return 187.30 | 8,123 steps/s | 12.4 s` (RL) or the DL epoch line."""
    if results.EPOCH in result and results.ENV_STEPS not in result:
        extra = " | ".join(
            f"{k} {_fmt(v, '.4f')}" for k, v in result.items() if k.startswith("val_") and isinstance(v, float)
        )
        return (
            f"epoch {result[results.EPOCH]:>4} | train_loss {_fmt(result.get(results.TRAIN_LOSS), '.4f')}"
            f"{' | ' + extra if extra else ''} | {_fmt(result.get(results.TIME_S), '.1f')} s"
        )
    return (
        f"iter {result.get(results.ITERATION, 0):>5} | env_steps {_fmt(result.get(results.ENV_STEPS), ',')}"
        f" | return {_fmt(result.get(results.EPISODE_RETURN_MEAN), '.2f')}"
        f" | {_fmt(result.get(results.ENV_STEPS_PER_S), ',.0f')} steps/s"
        f" | {_fmt(result.get(results.TIME_S), '.1f')} s"
    )


def iteration_key(result: dict[str, Any]) -> str:
    return results.ITERATION if results.ITERATION in result else results.EPOCH


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else format(value, ".4g")
    return "" if value is None else str(value)


class TrialTable:
    """A sweep's terminal view: one row per trial (status, iteration, the tuned metric, its swept
    values, what the scheduler did to it), reprinted at most every `EVERY_S` and once at the end,
    instead of a line per trial per iteration."""

    EVERY_S = 15.0

    def __init__(self, t: TuneSpec, log: SweepLog) -> None:
        self.metric, self.mode, self.paths = t.metric, t.mode, list(t.space)
        self.log = log
        self.rows: dict[str, dict[str, Any]] = {}
        self._printed = time.monotonic()

    def update(self, trial: Any, result: dict[str, Any] | None = None) -> None:
        row = self.rows.setdefault(trial.trial_id, {})
        row["status"] = trial.status
        row["config"] = dict(trial.config.get("overrides", {}))
        if result is not None:
            row["iteration"] = result.get(results.ITERATION)
            row["metric"] = result.get(self.metric)

    def best(self) -> tuple[str, float] | None:
        scored = [(tid, r["metric"]) for tid, r in self.rows.items()
                  if isinstance(r.get("metric"), (int, float)) and not math.isnan(r["metric"])]
        if not scored:
            return None
        return (max if self.mode == "max" else min)(scored, key=lambda x: x[1])

    def render(self) -> str:
        head = ["trial", "status", "iter", self.metric, *self.paths, "note"]
        body = [[tid, r["status"], _cell(r.get("iteration")), _cell(r.get("metric")),
                 *(_cell(r["config"].get(p)) for p in self.paths), self.log.note(tid)]
                for tid, r in sorted(self.rows.items())]
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in [head, *body]]
        best = self.best()
        if best:
            lines.append(f"best so far: {best[0]} {self.metric} {_cell(best[1])}")
        return "\n".join(lines)

    def maybe_print(self, stream: Any, force: bool = False) -> None:
        if self.rows and (force or time.monotonic() - self._printed >= self.EVERY_S):
            print(self.render(), file=stream, flush=True)
            self._printed = time.monotonic()


class RunRecorder(tune.Callback):
    """Prints progress, keeps metrics.parquet current, copies checkpoints into the run dir, and
    signs what Tune writes there as soon as it appears (trust.py), so even a driver killed
    mid-run leaves a directory `--resume` can verify."""

    FLUSH_EVERY_S = 2.0

    def __init__(self, run_dir: Path, sweep: bool, stream=None, table: TrialTable | None = None) -> None:
        self.run_dir = run_dir
        self.sweep = sweep
        self.stream = stream
        self.table = table
        self.metrics = results.MetricsTable(run_dir / "metrics.parquet")
        self.last_result: dict[str, dict[str, Any]] = {}
        self.running: set[str] = set()
        self.unfinished: list[str] = []  # trials a Ctrl-C cut short (or never started)
        self._last_flush = 0.0
        self.signer = trust.Signer(run_dir)

    def _out(self) -> Any:
        return self.stream or sys.stdout

    def _table(self, trial: Any, result: dict[str, Any] | None = None, force: bool = False) -> None:
        if self.table is not None:
            self.table.update(trial, result)
            self.table.maybe_print(self._out(), force=force)

    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        self.running.add(trial.trial_id)
        self._table(trial)

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        for reported in json.loads(result[ROWS]) if ROWS in result else [result]:
            row = {k: v for k, v in reported.items() if k in _KEEP or k not in _TUNE_FIELDS}
            if iteration_key(row) == results.EPOCH:
                row.setdefault(results.ITERATION, row[results.EPOCH])
            self.metrics.add(trial.trial_id, {k: v for k, v in row.items() if k != "stop_reason"})
            self.last_result[trial.trial_id] = row
            if self.table is None:
                print(progress_line(row), file=self._out(), flush=True)
            self._table(trial, row)
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
        self._table(trial)

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self.running.discard(trial.trial_id)
        self.metrics.flush()
        self._table(trial)

    def on_experiment_end(self, trials, **info) -> None:
        # Tune marks trials it stops at the end TERMINATED without on_trial_complete: still running here.
        self.unfinished = sorted(self.running | {t.trial_id for t in trials if t.status in ("PENDING", "PAUSED")})
        self.metrics.flush()
        if self.table is not None:
            for trial in trials:
                self.table.update(trial)
            self.table.maybe_print(self._out(), force=True)


_KEEP = {"time_s", "iteration"}
_TUNE_FIELDS = {
    "timestamp", "checkpoint_dir_name", "should_checkpoint", "done", "training_iteration", "trial_id",
    "date", "time_this_iter_s", "time_total_s", "pid", "hostname", "node_ip", "config", "time_since_restore",
    "iterations_since_restore", "experiment_tag",
}
