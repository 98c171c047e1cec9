"""An ES job through the CLI and Tune with its population on 2 Ray actors, one killed mid-run: the
killed worker's share is re-run on its replacement, every generation is evaluated in full and
appears once in metrics.parquet, and the checkpoint evaluates."""

from __future__ import annotations

import json

import numpy as np

from conftest import JOBS
from test_onpolicy_cli import run_killing_one_worker
from trainfleet.cli import main

GENERATIONS = 10
POPULATION = 40
EVAL_EPISODES = 5


def test_es_job_on_two_workers_survives_a_killed_one(ray_session, runs, capsys):
    summary, m, run_dir = run_killing_one_worker(ray_session, [
        "run", str(JOBS / "rl" / "es_cartpole.yaml"), "--output", str(runs),
        "--set", "resources.rollout_workers=2", "--set", "resources.cpus_per_worker=0.5",
        "--set", f"hparams.population_size={POPULATION}", "--set", f"stop.iterations={GENERATIONS}",
        "--set", "stop.episode_return_mean=1000", "--set", "stop.env_steps=10000000", "--set", "checkpoint.every=5",
    ], runs)
    assert summary["status"] == "completed" and summary["stop_reason"] == "iterations", summary
    assert list(m["iteration"]) == list(range(1, GENERATIONS + 1))  # every generation once
    assert m["worker_restarts"].iloc[-1] == 1, list(m["worker_restarts"])
    # nothing lost: every generation played its whole population plus the greedy episodes
    assert (np.diff(m["episodes"], prepend=0) == POPULATION + EVAL_EPISODES).all(), list(m["episodes"])
    for column in ("population_return_mean", "population_return_max", "elite_return_mean", "noise_std"):
        assert m[column].notna().all(), column
    assert m["episode_return_mean"].iloc[-1] > 100, list(m["episode_return_mean"])  # a random policy: ~10-50

    capsys.readouterr()
    assert main(["eval", str(run_dir), "--episodes", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["episode_return_mean"] > 100
