"""`eval` rebuilds only the policy, in-process, without Ray; no command follows a stale Ray session file.

Runs trained with rollout workers (native PPO, A3C, DQN: Ray actors; RLlib PPO: an env-runner
actor) are evaluated by `trainfleet eval` in a process where `import ray` raises, and must give
exactly the greedy return their trained agents give with Ray. `report`, `validate`, `list` and
`data export` run there too.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from no_ray import commands_without_ray
from run_dirs import write_run_dir
from trainfleet import jobs, results
from trainfleet.dl.engine import fit_in_process
from trainfleet.dl.evaluate import evaluate_dl_run
from trainfleet.launch.runner import build_runner
from trainfleet.rl.core.evaluate import evaluate_policy

ROOT = Path(__file__).resolve().parents[1]
JOBS = ROOT / "jobs"
EPISODES = 3

WITH_WORKERS = {
    "ppo": ("ppo_cartpole.yaml", {"resources.rollout_workers": 2, "env.num_envs": 4}),
    "a3c": ("a3c_cartpole.yaml", {"resources.rollout_workers": 2, "hparams.updates_per_iteration": 8}),
    "dqn": ("dqn_cartpole.yaml", {"resources.rollout_workers": 2, "env.num_envs": 2, "hparams.learning_starts": 200,
                                  "hparams.steps_per_iteration": 400, "hparams.buffer_size": 2000}),
    "rllib-ppo": ("ppo_cartpole_rllib.yaml", {"resources.rollout_workers": 1, "env.num_envs": 2,
                                               "hparams.train_batch_size": 400, "hparams.minibatch_size": 200,
                                               "hparams.num_epochs": 2}),
}


@pytest.fixture(scope="module")
def trained(ray_session, tmp_path_factory):
    """name -> (run dir, greedy returns of the trained agent acting with its rollout workers alive)."""
    out = {}
    for name, (job, overrides) in WITH_WORKERS.items():
        spec = jobs.load_job(JOBS / "rl" / job, {"resources.cpus_per_worker": 0.5, **overrides})[0]
        runner = build_runner(spec)
        try:
            run_dir = write_run_dir(tmp_path_factory.mktemp(name), spec, runner, iterations=2)
            returns, _ = evaluate_policy(spec.env.id, spec.env.kwargs, runner.act, EPISODES)
        finally:
            runner.close()
        out[name] = (run_dir, returns)
    return out


@pytest.fixture(scope="module")
def dl_run(tmp_path_factory):
    """(run dir, its eval metrics computed in this process) of a short in-process DL run."""
    spec = jobs.load_job(JOBS / "dl" / "mlp_xor.yaml", {"hparams.epochs": 3, "stop.epochs": 3})[0]
    run_dir = results.new_run_dir(tmp_path_factory.mktemp("dl"), spec.name)
    results.write_text(run_dir / "spec.yaml", yaml.safe_dump(jobs.resolved_dict(spec)))
    (run_dir / "checkpoints" / "final").mkdir()
    fit_in_process(spec, checkpoint_dir=str(run_dir / "checkpoints" / "final"))
    return run_dir, evaluate_dl_run(run_dir, run_dir / "checkpoints" / "final")


@pytest.fixture(scope="module")
def without_ray(trained, dl_run, tmp_path_factory):
    """Every command of this module's checks, run in one process where `import ray` fails."""
    export_dir = tmp_path_factory.mktemp("export")
    commands = {
        **{name: ["eval", str(run_dir), "--episodes", str(EPISODES), "--json"] for name, (run_dir, _) in trained.items()},
        "dl": ["eval", str(dl_run[0]), "--json"],
        "report": ["report", str(trained["ppo"][0])],
        "validate": ["validate", str(JOBS / "rl" / "ppo_cartpole.yaml"), str(JOBS / "dl" / "mlp_xor.yaml")],
        "list": ["list", "all"],
        "data export": ["data", "export", "xor-2d", str(export_dir)],
    }
    outcomes = dict(zip(commands, commands_without_ray(list(commands.values()))))
    return outcomes, export_dir


def last_json(outcome: dict) -> dict:
    assert outcome["rc"] == 0, outcome["err"][-2000:]
    return json.loads(outcome["out"].strip().splitlines()[-1])


@pytest.mark.parametrize("name", list(WITH_WORKERS))
def test_eval_of_a_rollout_worker_run_needs_no_ray_and_gives_the_same_return(trained, without_ray, name):
    with_ray = trained[name][1]
    out = last_json(without_ray[0][name])
    assert out["episodes"] == EPISODES
    assert out["episode_return_mean"] == sum(with_ray) / len(with_ray), (out, with_ray)


def test_dl_eval_needs_no_ray_and_gives_the_same_metrics(dl_run, without_ray):
    out = last_json(without_ray[0]["dl"])
    assert out["val_accuracy"] == dl_run[1]["val_accuracy"] and out["val_loss"] == dl_run[1]["val_loss"]


@pytest.mark.parametrize("command", ["report", "validate", "list", "data export"])
def test_other_commands_need_no_ray(trained, without_ray, command):
    outcome = without_ray[0][command]
    assert outcome["rc"] == 0, outcome["err"][-2000:]
    made = {"report": trained["ppo"][0] / "learning_curve.png", "data export": without_ray[1] / "xor-2d.parquet"}
    assert command not in made or made[command].is_file()


# ---- a stale Ray session file ------------------------------------------------------------------------

def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket is


@pytest.fixture
def stale_ray_env():
    """RAY_TMPDIR with a ray_current_cluster file naming a port nobody listens on (a crashed cluster)."""
    temp = tempfile.mkdtemp(prefix="tfst", dir="/tmp")  # short: Ray's socket paths have a length limit
    Path(temp, "ray_current_cluster").write_text(f"127.0.0.1:{closed_port()}\n")
    env = {"RAY_TMPDIR": temp, "RAY_ADDRESS": ""}
    yield env
    shutil.rmtree(temp, ignore_errors=True)


def trainfleet(*argv: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trainfleet", *argv], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **env}, cwd=ROOT)


def test_run_eval_and_report_ignore_a_stale_cluster_file(stale_ray_env, tmp_path):
    """The timeouts bound a hang (Ray's GCS retries take minutes); they are no speed claim."""
    run = trainfleet("run", str(JOBS / "rl" / "q_learning_frozenlake.yaml"), "--output", str(tmp_path),
                     "--set", "stop.iterations=2", "--set", "resources.executor=ray",  # starts a local Ray
                     env=stale_ray_env, timeout=240)
    assert run.returncode == 0, run.stdout[-1500:] + run.stderr[-1500:]
    run_dir = run.stdout.strip().splitlines()[-1].removeprefix("run dir: ")
    for argv in (("eval", run_dir, "--episodes", "2"), ("report", run_dir)):
        proc = trainfleet(*argv, env=stale_ray_env, timeout=60)
        assert proc.returncode == 0, (argv, proc.stderr[-1500:])


@pytest.mark.parametrize("address", ["closed", "auto"])
def test_an_address_that_does_not_answer_is_one_line(stale_ray_env, tmp_path, address):
    """`auto` means the stale file's address here: refused the same way, before Ray starts."""
    given = f"127.0.0.1:{closed_port()}" if address == "closed" else "auto"
    proc = trainfleet("run", str(JOBS / "rl" / "q_learning_frozenlake.yaml"), "--output", str(tmp_path),
                      "--address", given, env=stale_ray_env, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no Ray cluster answers" in lines[0], proc.stderr[-1500:]
    assert not any(tmp_path.iterdir())
