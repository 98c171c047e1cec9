"""Driver-side Tune callback: the live progress line (a trial table for sweeps), metrics.parquet,
checkpoint copies (all three through `recording.RunLog`) and signatures."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ray import tune

from trainfleet import results, trust
from trainfleet.launch.recording import RunLog

if TYPE_CHECKING:
    from trainfleet.jobs import TuneSpec
    from trainfleet.launch.schedulers import SweepLog


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


class RunRecorder(RunLog, tune.Callback):
    """Prints progress, keeps metrics.parquet current, copies checkpoints into the run dir, and
    signs what Tune writes there as soon as it appears (trust.py), so even a driver killed
    mid-run leaves a directory `--resume` can verify."""

    def __init__(self, run_dir: Path, sweep: bool, stream=None, table: TrialTable | None = None) -> None:
        RunLog.__init__(self, run_dir, sweep, stream, print_rows=table is None)
        self.table = table
        self.running: set[str] = set()
        self.unfinished: list[str] = []  # trials a Ctrl-C cut short (or never started)
        self.signer = trust.Signer(run_dir)

    def _table(self, trial: Any, result: dict[str, Any] | None = None, force: bool = False) -> None:
        if self.table is not None:
            self.table.update(trial, result)
            self.table.maybe_print(self._out(), force=force)

    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        self.running.add(trial.trial_id)
        self._table(trial)

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        for row in self.add_result(trial.trial_id, result):
            self._table(trial, row)

    def on_checkpoint(self, iteration, trials, trial, checkpoint, **info) -> None:
        with checkpoint.as_directory() as d:
            self.add_checkpoint(trial.trial_id, d)
        self.signer.sign()  # then Tune records this checkpoint in its experiment state

    def on_step_end(self, iteration, trials, **info) -> None:
        # Right after Tune staged this step's experiment state, before its copy reaches the run dir.
        self.signer.sign(trials[0].storage.experiment_driver_staging_path if trials else None)

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
