"""The in-process executor: one trial's loop run by the driver itself, without importing Ray.

The very loop a Tune trial runs (`trial.run_rl`, `dl.trial.run_engine`) gets an `InProcessSession`
instead of Tune's: rows go to the same `RunLog` Tune's recorder writes through (progress lines,
metrics.parquet), checkpoints straight to checkpoints/latest at the same cadence, so the run
directory is the one a Tune run leaves, less Tune's own `tune/` folder. There is nothing pickled
in it: `--resume` reads only checkpoints/latest (weights-only state.pt, JSON) and needs no signature.

Ctrl-C, a NaN loss and an error in the loop end the run as on Tune: a one-line reason in the
summary, the last good checkpoint kept (a Ctrl-C during a checkpoint copy waits for the copy).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainfleet import results, terminal
from trainfleet.errors import TrainingError, UserError, failure_line
from trainfleet.launch.recording import Fitted, RunLog, as_reported

if TYPE_CHECKING:
    from trainfleet.jobs import JobSpec
    from trainfleet.launch.session import TrialSession

TRIAL_ID = "in_process"  # the trial_id column of metrics.parquet (Tune runs have Tune's trial id)
LATEST = Path("checkpoints") / "latest"


class _DeferredInterrupt:
    """SIGINT while a checkpoint is being copied waits until the copy is whole, then interrupts."""

    def __init__(self) -> None:
        self.depth = 0
        self.pending = False

    def handler(self, signum: int, frame: Any) -> None:
        if self.depth:
            self.pending = True
            return
        raise KeyboardInterrupt

    @contextmanager
    def deferred(self) -> Iterator[None]:
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
            if self.pending and not self.depth:
                self.pending = False
                raise KeyboardInterrupt


class InProcessSession:
    """A trial's session in the driver (see session.TrialSession): rows and checkpoints go into the run dir."""

    trial_id = TRIAL_ID

    def __init__(self, log: RunLog, interrupts: _DeferredInterrupt) -> None:
        self.log = log
        self.interrupts = interrupts
        self._reported = False

    @contextmanager
    def start_checkpoint(self) -> Iterator[Path | None]:
        latest = self.log.run_dir / LATEST
        yield latest if latest.is_dir() else None

    def report(self, metrics: dict[str, Any], checkpoint: Path | None = None) -> None:
        if not self._reported:  # a resumed run redoes what came after its checkpoint: drop the old rows
            self.log.metrics.drop_from(self.trial_id, int(metrics[results.ITERATION]))
            self._reported = True
        with self.interrupts.deferred():
            self.log.add_result(self.trial_id, as_reported(metrics))
            if checkpoint is not None:
                self.log.add_checkpoint(self.trial_id, checkpoint)


def check_resumable(run_dir: Path, spec: JobSpec) -> None:
    """Before anything starts: the checkpoint a resume continues from loads (else a one-line exit 2)."""
    latest = run_dir / LATEST
    if not latest.is_dir():
        return  # interrupted before its first checkpoint: it starts over, as a Tune trial would
    from trainfleet.launch.runner import PROGRESS_FILE
    from trainfleet.rl.core.checkpoint import STATE_FILE, load_weights_only

    load_weights_only(latest / STATE_FILE)
    if spec.is_rl:
        results.read_json(latest / PROGRESS_FILE)


def fit(spec: JobSpec, run_dir: Path, stream: Any = None) -> Fitted:
    """Run the job's one trial here, to its stop, a Ctrl-C or an error."""
    log = RunLog(run_dir, sweep=False, stream=stream)
    interrupts = _DeferredInterrupt()
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, interrupts.handler) if main_thread else None
    status, error = "completed", None
    t0 = time.perf_counter()
    try:
        _loop(spec)(spec, InProcessSession(log, interrupts))
    except KeyboardInterrupt:
        status = "interrupted"
    except Exception as err:  # as a failed Tune trial: one line, the last good checkpoint kept
        status, error = "failed", _failure(err)
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
        log.metrics.flush()
    return Fitted(status, error, log.last_result, time.perf_counter() - t0)


def _loop(spec: JobSpec) -> Callable[[JobSpec, TrialSession], None]:
    if spec.is_rl:
        from trainfleet.launch.trial import run_rl

        return run_rl
    from trainfleet.dl.trial import run_engine

    return run_engine


def _failure(err: BaseException) -> str:
    """As a failed Tune trial's line; an error trainfleet did not foresee names its traceback's log file."""
    line = failure_line(err)
    if isinstance(err, (TrainingError, UserError)):
        return line
    return f"{line} (full traceback in {terminal.write_traceback(err)})"
