"""The run directory and the one metric vocabulary shared by every backend.

    RUN_DIR/
      job.yaml          the YAML as submitted
      spec.yaml         the resolved spec (defaults filled, overrides applied)
      command.txt       the command line
      metrics.parquet   one row per (trial, iteration)
      trials.parquet    sweeps: one row per trial (its config and final metrics)
      summary.json      final metrics, stop reason, versions, seed, git SHA
      checkpoints/      latest/ and final/ checkpoint of the (best) trial
      tune/             Tune's own experiment directory (TensorBoard files, resume state)
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from trainfleet.errors import UserError, first_line

if TYPE_CHECKING:
    from trainfleet.jobs import JobSpec

# Metric names: the columns of metrics.parquet, the keys of `stop:`, what Tune,
# TensorBoard and Prometheus show. Plain identifiers only.
ITERATION = "iteration"
ENV_STEPS = "env_steps"
TIME_S = "time_s"
ENV_STEPS_PER_S = "env_steps_per_s"
EPISODES = "episodes"
EPISODE_RETURN_MEAN = "episode_return_mean"
EPISODE_LEN_MEAN = "episode_len_mean"
EPISODE_COST_MEAN = "episode_cost_mean"  # summed info["constraint_cost"], where the env reports one
EPOCH = "epoch"
TRAIN_LOSS = "train_loss"
VAL_LOSS = "val_loss"
TRIAL_ID = "trial_id"

REQUIRED_RL_COLUMNS = (ITERATION, ENV_STEPS, TIME_S, EPISODE_RETURN_MEAN)


def loss_key(term: str) -> str:
    """`loss_<term>`: e.g. loss_policy, loss_value, loss_entropy."""
    return f"loss_{term}"


def new_run_dir(output_root: str | Path, name: str) -> Path:
    """A fresh run directory under the output root: NAME-YYYYmmdd-HHMMSS[-n]."""
    root = Path(output_root).expanduser().resolve()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = root / f"{name}-{stamp}"
    candidate, n = base, 1
    while candidate.exists():
        candidate = Path(f"{base}-{n}")
        n += 1
    candidate.mkdir(parents=True)
    (candidate / "checkpoints").mkdir()
    return candidate


def check_output_root(output_root: str | Path) -> None:
    """Refuse, before Ray starts, an output root where no run directory can be created."""
    root = Path(output_root).expanduser()
    if any(len(part.encode()) > 255 for part in root.parts) or len(str(root).encode()) > 3800:
        raise UserError(f"--output {str(root)[:80]}...: longer than the filesystem allows")
    existing = next(p for p in (root, *root.parents) if p.exists())
    if not existing.is_dir():
        raise UserError(f"--output {root}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"--output {root}: {existing} is not writable")


def inside(root: str | Path, path: str | Path) -> bool:
    """True when `path` resolves within `root` (a run dir may never escape the output root)."""
    root_r, path_r = Path(root).resolve(), Path(path).resolve()
    return path_r == root_r or root_r in path_r.parents


@contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """Yields a new temporary file beside `path`, renamed over `path` once written.

    The temporary name is fresh and created exclusively, and the rename replaces whatever is at
    `path` (a planted symlink included) instead of writing through it: a write meant for a run
    directory never lands outside it, and a reader never sees half a file.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would hide shared run directories' files
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    with atomic_write(path) as tmp:
        tmp.write_text(text)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isinf(value):
        return None
    return value


class MetricsTable:
    """Rows keyed by (trial_id, iteration); a resumed run overwrites replayed iterations.

    So after a crash and `--resume`, metrics.parquet holds every iteration exactly once.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: dict[tuple[str, int], dict[str, Any]] = {}
        if path.exists():
            for row in read_parquet(path).to_pylist():
                self.rows[(row.get(TRIAL_ID, ""), int(row[ITERATION]))] = row

    def add(self, trial_id: str, row: dict[str, Any]) -> None:
        clean = {k: _clean(v) for k, v in row.items() if isinstance(v, (int, float, str, bool)) or v is None}
        clean[TRIAL_ID] = trial_id
        self.rows[(trial_id, int(clean[ITERATION]))] = clean

    def drop_from(self, trial_id: str, iteration: int) -> None:
        """Forget a trial's rows from `iteration` on (a resume replays them, and may stop earlier)."""
        self.rows = {k: v for k, v in self.rows.items() if k[0] != trial_id or k[1] < iteration}

    def table(self) -> pa.Table:
        rows = [self.rows[k] for k in sorted(self.rows)]
        columns: dict[str, None] = {}
        for row in rows:
            columns.update(dict.fromkeys(row))
        order = [TRIAL_ID, ITERATION] + [c for c in columns if c not in (TRIAL_ID, ITERATION)]
        return pa.Table.from_pylist([{c: r.get(c) for c in order} for r in rows])

    def flush(self) -> None:
        if not self.rows:
            return
        with atomic_write(self.path) as tmp:
            pq.write_table(self.table(), tmp)


def write_trials(run_dir: Path, rows: list[dict[str, Any]]) -> Path:
    path = run_dir / "trials.parquet"
    with atomic_write(path) as tmp:
        pq.write_table(pa.Table.from_pylist([{k: _clean(v) for k, v in r.items()} for r in rows]), tmp)
    return path


def read_parquet(path: Path) -> pa.Table:
    """A Parquet file of the run directory, or a UserError naming it when it is damaged."""
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise UserError(f"{path}: not a readable Parquet file ({first_line(err)})") from None


def read_metrics(run_dir: str | Path) -> pa.Table:
    return read_parquet(Path(run_dir) / "metrics.parquet")


def versions() -> dict[str, str]:
    """Versions of what produced the run (recorded in summary.json)."""
    from importlib import metadata

    out = {"python": sys.version.split()[0]}
    for pkg in ("trainfleet", "ray", "torch", "gymnasium", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def git_sha() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def write_json(path: Path, data: dict[str, Any]) -> None:
    write_text(path, json.dumps(data, indent=2, default=str, allow_nan=True))


def read_json(path: Path) -> Any:
    """A JSON file of the run directory, or a UserError naming it when it is missing or damaged."""
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        raise UserError(f"{path}: missing") from None
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: not readable JSON ({first_line(err)})") from None


def read_summary(run_dir: str | Path) -> dict[str, Any]:
    summary = read_json(Path(run_dir) / "summary.json")
    if not isinstance(summary, dict):
        raise UserError(f"{Path(run_dir) / 'summary.json'}: expected a JSON object")
    return summary


def replace_dir(src: str | Path, dst: Path) -> None:
    """Copy a checkpoint directory into place atomically enough: copy aside, then swap."""
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp)
    shutil.rmtree(dst, ignore_errors=True)
    os.replace(tmp, dst)


def completed_summary(run_dir: Path) -> dict[str, Any] | None:
    """The summary of a run that already ended at its stop (resuming it trains no further), else None."""
    summary = read_summary(run_dir) if (run_dir / "summary.json").is_file() else None
    return summary if summary is not None and summary.get("status") == "completed" else None


def final_checkpoint(run_dir: str | Path) -> Path:
    """The checkpoint `eval` and `report` use: final/, else latest/."""
    for name in ("final", "latest"):
        p = Path(run_dir) / "checkpoints" / name
        if p.is_dir():
            return p
    raise UserError(f"{run_dir}: no checkpoint found under checkpoints/ (did the run reach its first checkpoint?)")


def load_run_spec(run_dir: str | Path) -> tuple[JobSpec, dict[str, Any]]:
    """The run's resolved spec, through the same validation as a job file (import gate included)."""
    path = Path(run_dir) / "spec.yaml"
    if not path.is_file():
        raise UserError(f"{run_dir}: not a run directory (no spec.yaml)")
    from trainfleet import jobs

    return jobs.load_job(path)


TRIAL_SPEC_FILE = "trial_spec.json"  # every checkpoint's resolved spec (RL, DL and text alike)


def write_trial_spec(directory: str | Path, spec: JobSpec) -> None:
    """The spec a checkpoint was trained with, as JSON (its serialisation: every default filled)."""
    from trainfleet.schema import resolved_dict

    (Path(directory) / TRIAL_SPEC_FILE).write_text(json.dumps(resolved_dict(spec)))


def read_trial_spec(directory: str | Path) -> JobSpec:
    """The spec a checkpoint was trained with, validated like a job file."""
    return read_stored_spec(Path(directory) / TRIAL_SPEC_FILE)


def read_stored_spec(path: Path) -> JobSpec:
    """A spec stored as JSON in a checkpoint, validated like a job file: a `module:Class` in it is
    imported only with TRAINFLEET_ALLOW_IMPORTS=1, whoever wrote the checkpoint."""
    from trainfleet import jobs

    return jobs.parse_spec(read_json(path), file=str(path))

