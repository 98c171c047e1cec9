"""The run directory's files without Ray: metrics keyed by (trial, iteration), trials, lookups."""

from __future__ import annotations

import math

import pyarrow.parquet as pq
import pytest

from trainfleet import results
from trainfleet.errors import UserError
from trainfleet.launch.submit import last_progress


def test_metrics_table_keeps_each_iteration_once_across_a_resume(tmp_path):
    path = tmp_path / "metrics.parquet"
    first = results.MetricsTable(path)
    for i in (1, 2, 3, 4):
        first.add("t0", {"iteration": i, "env_steps": 10 * i, "time_s": 0.1 * i, "episode_return_mean": float(i)})
    first.flush()
    resumed = results.MetricsTable(path)  # a resumed run replays iterations 3-4 from its checkpoint at 2
    for i in (3, 4, 5):
        resumed.add("t0", {"iteration": i, "env_steps": 10 * i + 1, "time_s": 0.1 * i,
                           "episode_return_mean": float("nan"), "note": "resumed"})
    resumed.flush()
    rows = pq.read_table(path).to_pylist()
    assert [r["iteration"] for r in rows] == [1, 2, 3, 4, 5]
    assert [r["env_steps"] for r in rows] == [10, 20, 31, 41, 51]
    assert math.isnan(rows[-1]["episode_return_mean"]) and rows[0]["note"] is None
    assert not path.with_suffix(".parquet.tmp").exists()


def test_metrics_table_drops_values_parquet_cannot_hold(tmp_path):
    table = results.MetricsTable(tmp_path / "m.parquet")
    table.add("t", {"iteration": 1, "episode_return_mean": float("inf"), "histogram": [1, 2], "done": True})
    row = table.table().to_pylist()[0]
    assert row["episode_return_mean"] is None and "histogram" not in row and row["done"] is True


def test_trials_parquet_round_trips(tmp_path):
    rows = [{"trial_id": "a", "config.hparams.alpha": 0.1, "episode_return_mean": 0.5},
            {"trial_id": "b", "config.hparams.alpha": 0.5, "episode_return_mean": -math.inf}]
    path = results.write_trials(tmp_path, rows)
    back = pq.read_table(path).to_pylist()
    assert back[0] == rows[0] and back[1]["episode_return_mean"] is None


def test_run_dir_lookups_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="not a run directory"):
        results.load_run_spec(tmp_path)
    with pytest.raises(UserError, match="no checkpoint"):
        results.final_checkpoint(tmp_path)
    (tmp_path / "checkpoints" / "latest").mkdir(parents=True)
    assert results.final_checkpoint(tmp_path).name == "latest"
    (tmp_path / "checkpoints" / "final").mkdir()
    assert results.final_checkpoint(tmp_path).name == "final"


def test_new_run_dirs_never_collide(tmp_path):
    a, b = results.new_run_dir(tmp_path, "job"), results.new_run_dir(tmp_path, "job")
    assert a != b and (a / "checkpoints").is_dir() and results.inside(tmp_path, b)


def test_status_reads_progress_from_the_last_progress_line():
    log = "iter     1 | env_steps 100 | return n/a | 5 steps/s | 0.1 s\n" \
          "[abc_00001] iter    12 | env_steps 24,576 | return 187.30 | 8,123 steps/s | 12.4 s\nrun dir: x\n"
    assert last_progress(log) == {"iteration": 12, "env_steps": 24576, "episode_return_mean": 187.30}
    assert last_progress("no progress yet") is None


def test_a_batched_report_becomes_one_row_and_one_progress_line_per_iteration(tmp_path):
    """An RL trial reports its iterations to Tune in batches: the recorder unpacks every row."""
    import io
    import json
    from types import SimpleNamespace

    from trainfleet.launch.progress import RunRecorder
    from trainfleet.launch.recording import ROWS

    out = io.StringIO()
    recorder = RunRecorder(tmp_path, sweep=False, stream=out)
    rows = [{"iteration": i, "env_steps": 512 * i, "time_s": 0.01 * i, "episode_return_mean": math.nan} for i in (1, 2, 3)]
    rows[-1]["stop_reason"] = "iterations"
    recorder.on_trial_result(0, [], SimpleNamespace(trial_id="t0"), {**rows[-1], ROWS: json.dumps(rows),
                                                                      "training_iteration": 1})
    recorder.metrics.flush()
    table = pq.read_table(tmp_path / "metrics.parquet").to_pylist()
    assert [r["iteration"] for r in table] == [1, 2, 3] and "stop_reason" not in table[0] and ROWS not in table[0]
    assert [ln.split()[1] for ln in out.getvalue().splitlines()] == ["1", "2", "3"]
    assert recorder.last_result["t0"]["stop_reason"] == "iterations" and ROWS not in recorder.last_result["t0"]
