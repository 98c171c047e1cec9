"""A DQN job end to end through the CLI, collecting on a rollout worker actor (streaming mode)."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import torch
from conftest import JOBS

from trainfleet.cli import main


def test_dqn_job_streams_from_a_rollout_worker_and_evaluates(ray_session, runs, capsys):
    code = main([
        "run", str(JOBS / "rl" / "dqn_cartpole.yaml"), "--output", str(runs),
        "--set", "resources.rollout_workers=1",
        "--set", "stop.env_steps=2500",
        "--set", "hparams.steps_per_iteration=500",
        "--set", "hparams.learning_starts=500",
        "--set", "hparams.train_freq=64",
        "--set", "hparams.gradient_steps=8",
        "--set", "hparams.hidden=[32, 32]",
        "--set", "checkpoint.every=2",
    ])
    assert code == 0
    (run_dir,) = runs.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["stop_reason"] == "env_steps"
    metrics = pq.read_table(run_dir / "metrics.parquet").to_pandas()
    assert list(metrics["iteration"]) == [1, 2, 3, 4, 5]
    assert metrics["env_steps"].is_monotonic_increasing and metrics["env_steps"].iloc[-1] >= 2500
    assert metrics["loss_q"].iloc[-1] > 0 and (metrics["worker_restarts"] == 0).all()
    assert metrics["epsilon"].iloc[-1] < metrics["epsilon"].iloc[0]
    assert metrics["lr"].iloc[-1] < metrics["lr"].iloc[0]  # the job decays its learning rate
    assert (run_dir / "checkpoints" / "final" / "state.pt").is_file()

    capsys.readouterr()
    assert main(["eval", str(run_dir), "--episodes", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["episodes"] == 2 and result["episode_return_mean"] >= 8  # CartPole lasts >= 8 steps


def test_atari_dqn_job_trains_from_pixels_and_checkpoints_on_cpu(runs):
    """The notes' DQN motivation: Q-learning from Breakout's stacked 84x84 frames through the Nature CNN."""
    assert main([
        "run", str(JOBS / "rl" / "dqn_breakout_atari.yaml"), "--output", str(runs),
        "--set", "stop.iterations=2", "--set", "checkpoint.every=1", "--set", "env.num_envs=2",
        "--set", "hparams.steps_per_iteration=64", "--set", "hparams.buffer_size=1000",
        "--set", "hparams.learning_starts=32", "--set", "hparams.batch_size=8",
    ]) == 0
    (run_dir,) = runs.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["stop_reason"] == "iterations", summary
    m = pq.read_table(run_dir / "metrics.parquet").to_pylist()
    assert [r["iteration"] for r in m] == [1, 2] and m[-1]["env_steps"] >= 128
    assert any(k.startswith("loss") and m[-1][k] == m[-1][k] for k in m[-1])  # a finite loss: it learned from pixels
    state = torch.load(run_dir / "checkpoints" / "final" / "state.pt", weights_only=True)
    assert any(v.dim() == 4 for v in _tensors(state)), "the Q-network's convolutions are in the checkpoint"


def _tensors(tree):
    if isinstance(tree, torch.Tensor):
        yield tree
    elif isinstance(tree, dict):
        for v in tree.values():
            yield from _tensors(v)
    elif isinstance(tree, (list, tuple)):
        for v in tree:
            yield from _tensors(v)
