"""Run directories made in-process, laid out as a run leaves them, for tests of what reads them back.

Built from a Runner directly (no Tune), so a test pays for the training it needs and nothing more.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from trainfleet import jobs, results
from trainfleet.launch.runner import Runner, write_checkpoint


def write_run_dir(root: Path, spec: jobs.JobSpec, runner: Runner, iterations: int = 1) -> Path:
    """Train `iterations`, then write spec.yaml, metrics.parquet, summary.json and checkpoints/final."""
    run_dir = results.new_run_dir(root, spec.name)
    results.write_text(run_dir / "spec.yaml", yaml.safe_dump(jobs.resolved_dict(spec), sort_keys=False))
    table = results.MetricsTable(run_dir / "metrics.parquet")
    metrics: dict[str, Any] = {}
    for i in range(1, iterations + 1):
        metrics = {**runner.train_iteration(), results.ITERATION: i, results.TIME_S: float(i)}
        table.add("trial0", metrics)
    table.flush()
    ckpt = run_dir / "checkpoints" / "final"
    ckpt.mkdir()
    write_checkpoint(ckpt, runner, spec, {"iteration": iterations, "time_s": float(iterations),
                                          "env_steps": int(metrics.get(results.ENV_STEPS, 0))})
    results.write_json(run_dir / "summary.json", {"name": spec.name, "status": "completed", "final_metrics": {}})
    return run_dir
