"""The seam between a trial's loop and whoever runs it: a Tune trial actor, or the driver itself.

A trial loop (`launch/trial.py` for RL, `dl/trial.py` for the DL engine) asks its session for the
checkpoint to start from and hands it every iteration's row, with a checkpoint directory at the
job's cadence and at its stop. `TuneSession` forwards both to Tune; `in_process.InProcessSession`
writes them straight into the run directory. Loop, stop rules and checkpoint cadence are one code.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from trainfleet.launch import telemetry
from trainfleet.launch.recording import ROWS, plain_value

if TYPE_CHECKING:
    from trainfleet.jobs import JobSpec


class TrialSession(Protocol):
    trial_id: str

    def start_checkpoint(self) -> AbstractContextManager[Path | None]:
        """The checkpoint directory to resume from (None: a fresh start), readable inside the block."""
        ...

    def report(self, metrics: dict[str, Any], checkpoint: Path | None = None) -> None:
        """One iteration's row; `checkpoint` is a directory the session copies before returning."""
        ...


class TuneSession:
    """A trial inside Tune. Each `tune.report` is a round trip through Tune's driver (~40 ms idle, far
    more under load), more than a small job's whole iteration: a plain run reports its rows in
    batches, about once every REPORT_EVERY_S and at every checkpoint; a sweep reports each row, so
    that its scheduler judges every iteration. Telemetry is exported at the same cadence."""

    REPORT_EVERY_S = 1.0

    def __init__(self, spec: JobSpec) -> None:
        from ray import tune

        self.job = spec.name
        self.trial_id = tune.get_context().get_trial_id()
        self.every_s = 0.0 if spec.tune is not None else self.REPORT_EVERY_S
        self.batch: list[dict[str, Any]] = []
        self.last_report = time.monotonic()

    @contextmanager
    def start_checkpoint(self) -> Iterator[Path | None]:
        from ray import tune

        checkpoint = tune.get_checkpoint()  # set when Tune resumes or restarts this trial
        if checkpoint is None:
            yield None
            return
        with checkpoint.as_directory() as d:
            yield Path(d)

    def report(self, metrics: dict[str, Any], checkpoint: Path | None = None) -> None:
        from ray import tune

        self.batch.append(metrics)
        final = bool(metrics.get("stop_reason"))
        if checkpoint is None and not final and time.monotonic() - self.last_report < self.every_s:
            return
        telemetry.record(self.job, self.trial_id, metrics)
        result = {**metrics, ROWS: json.dumps(self.batch, default=plain_value)}
        self.batch, self.last_report = [], time.monotonic()
        if checkpoint is None:
            tune.report(result)
        else:
            tune.report(result, checkpoint=tune.Checkpoint.from_directory(str(checkpoint)))
