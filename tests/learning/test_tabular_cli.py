"""One tabular job end to end through the CLI and Ray: the run directory holds what it should."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from conftest import JOBS
from trainfleet.cli import main


def test_policy_iteration_job_runs_to_convergence(ray_session, runs):
    code = main(["run", str(JOBS / "rl" / "policy_iteration_slippery_grid.yaml"), "--output", str(runs)])
    assert code == 0
    (run_dir,) = runs.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["stop_reason"] == "converged"
    metrics = pq.read_table(run_dir / "metrics.parquet").to_pandas()
    assert len(metrics) < 10 and (metrics["env_steps"] == 0).all()
    assert metrics["value_delta"].iloc[-1] < metrics["value_delta"].iloc[0]
    assert metrics["episode_return_mean"].iloc[-1] > -5  # the optimal policy reaches the goal
    assert (run_dir / "checkpoints" / "final" / "state.pt").is_file()
