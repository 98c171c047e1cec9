"""What a run directory keeps of its trials' results, whoever ran them: a progress line per row,
metrics.parquet, the last row of each trial and the copies of its checkpoints.

Tune's driver callback (`progress.RunRecorder`) and the in-process executor (`in_process.py`) both
write through `RunLog`, so a run directory reads the same whichever executor made it. No Ray here.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainfleet import results

# A report's key holding, as JSON, every iteration's row since the trial's last report (Tune reports
# are batched, see session.TuneSession); a report without it is one row. JSON keeps Tune's loggers quiet.
ROWS = "rows"

_KEEP = {"time_s", "iteration"}
_TUNE_FIELDS = {
    "timestamp", "checkpoint_dir_name", "should_checkpoint", "done", "training_iteration", "trial_id",
    "date", "time_this_iter_s", "time_total_s", "pid", "hostname", "node_ip", "config", "time_since_restore",
    "iterations_since_restore", "experiment_tag",
}


def plain_value(value: Any) -> Any:
    """numpy scalars as Python numbers in the JSON of a row (`json.dumps(..., default=plain_value)`)."""
    return value.item() if hasattr(value, "item") else str(value)


def as_reported(row: dict[str, Any]) -> dict[str, Any]:
    """A row as it arrives through a Tune report's JSON: what both executors record, number for number."""
    return json.loads(json.dumps(row, default=plain_value))


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


class RunLog:
    """Rows into metrics.parquet (flushed every FLUSH_EVERY_S and at each checkpoint) and, unless a
    sweep's trial table shows them, one progress line each; checkpoints copied into checkpoints/."""

    FLUSH_EVERY_S = 2.0

    def __init__(self, run_dir: Path, sweep: bool, stream: Any = None, print_rows: bool = True) -> None:
        self.run_dir = run_dir
        self.sweep = sweep
        self.stream = stream
        self.print_rows = print_rows
        self.metrics = results.MetricsTable(run_dir / "metrics.parquet")
        self.last_result: dict[str, dict[str, Any]] = {}
        self._last_flush = 0.0

    def _out(self) -> Any:
        return self.stream or sys.stdout

    def add_result(self, trial_id: str, result: dict[str, Any]) -> list[dict[str, Any]]:
        """Record one report (a batch of rows under ROWS, or one row); returns the rows."""
        rows = []
        for reported in json.loads(result[ROWS]) if ROWS in result else [result]:
            row = {k: v for k, v in reported.items() if k in _KEEP or k not in _TUNE_FIELDS}
            if iteration_key(row) == results.EPOCH:
                row.setdefault(results.ITERATION, row[results.EPOCH])
            self.metrics.add(trial_id, {k: v for k, v in row.items() if k != "stop_reason"})
            self.last_result[trial_id] = row
            if self.print_rows:
                print(progress_line(row), file=self._out(), flush=True)
            rows.append(row)
        now = time.monotonic()
        if now - self._last_flush > self.FLUSH_EVERY_S:
            self.metrics.flush()
            self._last_flush = now
        return rows

    def add_checkpoint(self, trial_id: str, directory: str | Path) -> None:
        """Copy a trial's checkpoint to checkpoints/latest (a sweep: checkpoints/TRIAL_ID).

        Rows first: a driver killed right after can resume from here without a gap in metrics.parquet.
        """
        results.replace_dir(directory, self.run_dir / "checkpoints" / (trial_id if self.sweep else "latest"))
        self.metrics.flush()


@dataclass
class Fitted:
    """How a run's trials ended, whichever executor ran them (what summary.json reports)."""

    status: str  # completed | interrupted | failed
    error: str | None  # one line, when failed
    last_result: dict[str, dict[str, Any]]  # trial id -> its last row
    train_s: float  # wall time of the trials, set-up included
    trials: int = 1
    trial_rows: list[dict[str, Any]] | None = None  # a sweep's trials.parquet
