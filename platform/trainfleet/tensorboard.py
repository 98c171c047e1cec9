"""`trainfleet tensorboard RUN_DIR...`: TensorBoard over runs side by side, sweeps and live runs included.

Every run, in process or on Tune, keeps its metrics in metrics.parquet; this command turns those
rows into TensorBoard scalars (RUN_DIR/tensorboard/TRIAL/, tags = the platform's metric names,
step = iteration) and serves them, one TensorBoard run per trial. The training process pays
nothing for it: the events are written here, and rewritten while TensorBoard runs whenever a
live run's metrics.parquet changes. Event files are inert data (TensorBoard parses them; no code).
"""

from __future__ import annotations

import importlib.util
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from trainfleet import results
from trainfleet.errors import UserError

EVENTS_DIR = "tensorboard"
_NOT_SCALARS = {results.TRIAL_ID, results.ITERATION}


def export_events(run_dir: str | Path) -> Path:
    """Write RUN_DIR/tensorboard/ afresh from metrics.parquet; returns that directory."""
    from tensorboardX import SummaryWriter

    run_dir = Path(run_dir)
    if not (run_dir / "metrics.parquet").is_file():
        raise UserError(f"{run_dir}: no metrics.parquet (not a run directory, or no iteration finished yet)")
    rows = results.read_metrics(run_dir).to_pylist()
    out = run_dir / EVENTS_DIR
    if out.is_symlink():
        out.unlink()  # never write through a planted link
    shutil.rmtree(out, ignore_errors=True)
    by_trial: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_trial.setdefault(row.get(results.TRIAL_ID) or "trial", []).append(row)
    for trial, trial_rows in by_trial.items():
        with SummaryWriter(str(out / trial)) as writer:
            for row in sorted(trial_rows, key=lambda r: r[results.ITERATION]):
                for tag, value in row.items():
                    if tag not in _NOT_SCALARS and _is_number(value):
                        writer.add_scalar(tag, float(value), int(row[results.ITERATION]))
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def logdir_spec(run_dirs: list[Path]) -> str:
    """TensorBoard's `name:path,...`, one name per run directory (its own name)."""
    names = [d.name for d in run_dirs]
    if len(set(names)) != len(names):
        raise UserError("two run directories share a name; TensorBoard would mix them: "
                        + ", ".join(str(d) for d in run_dirs))
    return ",".join(f"{d.name}:{d / EVENTS_DIR}" for d in run_dirs)


def serve(run_dirs: list[str | Path], port: int, host: str = "127.0.0.1", follow_s: float = 5.0) -> int:
    """Export every run, start TensorBoard on them and keep the events current until Ctrl-C."""
    if importlib.util.find_spec("tensorboard.main") is None:
        raise UserError("TensorBoard is not installed here: `pip install tensorboard`")
    dirs = [Path(d).resolve() for d in run_dirs]
    for d in dirs:
        export_events(d)
    stamps = {d: _stamp(d) for d in dirs}
    command = [sys.executable, "-m", "tensorboard.main", "--logdir_spec", logdir_spec(dirs),
               "--host", host, "--port", str(port), "--reload_interval", "5"]
    try:
        server = subprocess.Popen(command)
    except OSError as err:
        raise UserError(f"could not start TensorBoard ({err})") from None
    print(f"TensorBoard: http://{host}:{port}/  (Ctrl-C stops it)", flush=True)
    try:
        while server.poll() is None:
            time.sleep(follow_s)
            for d in dirs:
                if _stamp(d) != stamps[d]:  # a live run reported: rewrite its events
                    stamps[d] = _stamp(d)
                    export_events(d)
        return server.returncode
    except KeyboardInterrupt:
        return 0
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=30)


def _stamp(run_dir: Path) -> tuple[int, int]:
    st = (run_dir / "metrics.parquet").stat()
    return st.st_mtime_ns, st.st_size
