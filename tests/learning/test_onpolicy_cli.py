"""On-policy jobs end to end through the CLI and Tune: A3C on 2 Ray actor workers (one killed
mid-run), PPO learning CartPole then `eval --gif`, and the Atari pixel job on CPU."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from conftest import JOBS
from trainfleet.cli import main


def only_run_dir(runs):
    (run_dir,) = runs.iterdir()
    return run_dir


def rollout_actor_names(ray) -> list[dict[str, str]]:
    return [a for a in ray.util.list_named_actors(all_namespaces=True) if a["name"].startswith("trainfleet-rollout-")]


def kill_one_rollout_worker(ray, before: list[dict[str, str]], timeout_s: float = 240.0) -> str:
    """Wait for the run's (new) rollout actors, let them work a little, then kill one."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        actors = [a for a in rollout_actor_names(ray) if a not in before]
        if len(actors) == 2:
            time.sleep(0.5)  # let them start sampling; the run itself lasts several seconds
            victim = actors[0]
            ray.kill(ray.get_actor(victim["name"], namespace=victim["namespace"]))
            return victim["name"]
        time.sleep(0.2)
    raise AssertionError("rollout worker actors never appeared")


def run_killing_one_worker(ray, argv: list[str], runs: Path) -> tuple[dict[str, Any], Any, Path]:
    """`trainfleet run argv` in a thread, one of its 2 rollout actors killed once they work:
    (summary, metrics, run directory) of the run that must still succeed."""
    codes: list[int] = []
    before = rollout_actor_names(ray)
    run = threading.Thread(target=lambda: codes.append(main(argv)))
    run.start()
    killed = kill_one_rollout_worker(ray, before)
    run.join(timeout=600)
    assert codes == [0], killed
    run_dir = only_run_dir(runs)
    summary = json.loads((run_dir / "summary.json").read_text())
    return summary, pq.read_table(run_dir / "metrics.parquet").to_pandas(), run_dir


def test_a3c_runs_asynchronously_on_two_workers_and_survives_a_killed_one(ray_session, runs):
    summary, m, run_dir = run_killing_one_worker(ray_session, [
        "run", str(JOBS / "rl" / "a3c_cartpole.yaml"), "--output", str(runs),
        "--set", "stop.episode_return_mean=195", "--set", "hparams.episode_window=20",
        "--set", "stop.env_steps=150000", "--set", "checkpoint.every=5",
    ], runs)
    assert summary["status"] == "completed" and summary["stop_reason"] == "episode_return_mean", summary
    assert list(m["iteration"]) == list(range(1, len(m) + 1))  # no missing rows
    assert m["worker_restarts"].iloc[-1] == 1
    assert m["staleness_mean"].max() > 0  # gradients computed on older weights were applied
    assert m["episode_return_mean"].iloc[-1] >= 195
    assert (run_dir / "checkpoints" / "final" / "state.pt").is_file()


def test_ppo_job_learns_cartpole_and_eval_records_a_gif(ray_session, runs, tmp_path, capsys):
    assert main([
        "run", str(JOBS / "rl" / "ppo_cartpole.yaml"), "--output", str(runs),
        "--set", "stop.episode_return_mean=195", "--set", "hparams.episode_window=20",
        "--set", "stop.env_steps=100000",
    ]) == 0
    run_dir = only_run_dir(runs)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["stop_reason"] == "episode_return_mean", summary
    capsys.readouterr()
    gif = tmp_path / "cartpole.gif"
    assert main(["eval", str(run_dir), "--episodes", "2", "--gif", str(gif), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["episode_return_mean"] >= 150  # the greedy policy of a policy that averages 195 sampling
    assert gif.stat().st_size > 10_000 and gif.read_bytes()[:6] == b"GIF89a"


def test_atari_pixel_job_trains_and_checkpoints_on_cpu(ray_session, runs):
    assert main([
        "run", str(JOBS / "rl" / "ppo_pong_atari.yaml"), "--output", str(runs),
        "--set", "stop.iterations=2", "--set", "checkpoint.every=1",
        "--set", "env.num_envs=2", "--set", "hparams.n_steps=32",
        "--set", "hparams.minibatch_size=32", "--set", "hparams.epochs=1",
    ]) == 0
    run_dir = only_run_dir(runs)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["stop_reason"] == "iterations", summary
    m = pq.read_table(run_dir / "metrics.parquet").to_pandas()
    assert list(m["iteration"]) == [1, 2] and m["env_steps"].iloc[-1] >= 2 * 2 * 32 - 4
    assert m["loss_value"].notna().all()
    assert (run_dir / "checkpoints" / "final" / "state.pt").is_file()
