"""The in-process executor: a job that needs nothing from Ray runs in the `trainfleet run` process.

It must give the Tune trial's numbers for the same seed, never import Ray, leave a run directory
that `eval` and `report` read unchanged (and that holds no pickle), and the executor choice must
follow the documented rule. Ctrl-C, resume and a NaN loss on both executors: tests/test_resume.py;
a DL job on both: tests/dl/test_dl_train_ray.py; a bad `resources.executor`: tests/test_bad_inputs.py.
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from no_ray import commands_without_ray
from trainfleet import jobs
from trainfleet.cli import main
from trainfleet.errors import UserError
from trainfleet.launch import cluster, executor, in_process

ROOT = Path(__file__).resolve().parents[1]
JOBS = ROOT / "jobs"
PPO = str(JOBS / "rl" / "ppo_cartpole.yaml")
SMALL_PPO = ["--set", "stop.iterations=5", "--set", "env.num_envs=4", "--set", "hparams.n_steps=32",
             "--set", "hparams.minibatch_size=64", "--set", "hparams.epochs=2", "--set", "checkpoint.every=2",
             "--set", "seed=7"]


def clocked(column: str) -> bool:
    """Wall-clock columns (time_s, time_learn_s, ..., env_steps_per_s) and Tune's own trial id."""
    return column.startswith("time_") or column in ("env_steps_per_s", "trial_id")


def run_cli(*argv: str) -> tuple[int, list[str]]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(list(argv))
    return rc, buf.getvalue().strip().splitlines()


def test_the_same_seed_gives_the_same_metrics_on_both_executors(ray_session, runs):
    got = {}
    for name in ("in_process", "ray"):
        rc, lines = run_cli("run", PPO, "--output", str(runs), *SMALL_PPO, "--set", f"resources.executor={name}")
        assert rc == 0, lines[-5:]
        run_dir = Path(lines[-1].removeprefix("run dir: "))
        rows = pq.read_table(run_dir / "metrics.parquet").to_pylist()
        summary = json.loads((run_dir / "summary.json").read_text())
        rc, scores = run_cli("eval", str(run_dir), "--episodes", "3", "--json")
        assert rc == 0, scores[-3:]
        got[name] = {
            "rows": [{k: v for k, v in r.items() if not clocked(k)} for r in rows],
            "progress": [ln.split("|")[:3] for ln in lines if ln.startswith("iter ")],  # iteration, steps, return
            "stop": summary["stop_reason"],
            "checkpoint": sorted(p.name for p in (run_dir / "checkpoints" / "final").iterdir()),
            "eval": json.loads(scores[-1])["episode_return_mean"],
        }
        assert summary["executor"] == name and (run_dir / "tune").is_dir() == (name == "ray")
    assert [r["iteration"] for r in got["in_process"]["rows"]] == [1, 2, 3, 4, 5]
    assert got["in_process"]["rows"][-1]["loss_policy"] == got["in_process"]["rows"][-1]["loss_policy"]  # not NaN
    assert got["in_process"] == got["ray"]


NO_RAY_RUN = """
import json, sys
from trainfleet.cli import main
rc = main(sys.argv[1:])
print(json.dumps({"rc": rc, "ray": sorted(m for m in sys.modules if m == "ray" or m.startswith("ray."))}))
"""


def test_an_in_process_run_never_imports_ray_and_eval_and_report_read_it(runs):
    proc = subprocess.run([sys.executable, "-c", NO_RAY_RUN, "run", PPO, "--output", str(runs), *SMALL_PPO],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0 and lines, proc.stderr[-2000:]
    outcome = json.loads(lines[-1])
    assert outcome == {"rc": 0, "ray": []}, outcome
    run_dir = Path(lines[-2].removeprefix("run dir: "))
    assert not (run_dir / "tune").exists()
    assert not [p for p in run_dir.rglob("*") if p.suffix == ".pkl" or (p.is_file() and p.read_bytes()[:1] == b"\x80")]
    evaluated, reported = commands_without_ray([["eval", str(run_dir), "--episodes", "2", "--json"],
                                                ["report", str(run_dir)]])
    assert evaluated["rc"] == 0 and json.loads(evaluated["out"].splitlines()[-1])["episodes"] == 2, evaluated["err"]
    assert reported["rc"] == 0 and (run_dir / "learning_curve.png").is_file(), reported["err"]


def spec_of(job: str, **overrides) -> jobs.JobSpec:
    return jobs.load_job(JOBS / job, overrides)[0]


@pytest.mark.parametrize("job, overrides, expected", [
    ("rl/ppo_cartpole.yaml", {}, "in_process"),
    ("rl/ppo_cartpole.yaml", {"resources.rollout_workers": 1}, "ray"),
    ("rl/ppo_cartpole_sb3.yaml", {}, "in_process"),
    ("rl/ppo_cartpole_rllib.yaml", {}, "ray"),
    ("sweeps/q_learning_alpha_epsilon.yaml", {}, "ray"),
    ("rl/q_learning_frozenlake.yaml", {"resources.executor": "ray"}, "ray"),
    ("rl/q_learning_frozenlake.yaml", {"checkpoint.max_failures": 1}, "ray"),
    ("dl/mlp_digits.yaml", {}, "in_process"),
    ("dl/mlp_digits.yaml", {"resources.trainer": "ray_train"}, "ray"),
    ("dl/mlp_digits.yaml", {"resources.num_workers": 2}, "ray"),
])
def test_auto_runs_in_process_exactly_when_the_job_needs_nothing_from_ray(monkeypatch, job, overrides, expected):
    monkeypatch.setattr(cluster, "local_capacity", lambda: (2.0, 0.0))
    assert executor.resolve(spec_of(job, **overrides), None).resources.executor == expected


def test_auto_takes_ray_for_a_cluster_a_local_gpu_or_a_run_dir_from_before(monkeypatch):
    monkeypatch.setattr(cluster, "local_capacity", lambda: (2.0, 1.0))
    assert executor.resolve(spec_of("dl/mlp_digits.yaml"), None).resources.executor == "ray"  # use_gpu: auto
    assert executor.resolve(spec_of("rl/ppo_cartpole.yaml"), None).resources.executor == "in_process"
    assert executor.resolve(spec_of("rl/ppo_cartpole.yaml"), "10.0.0.5:6379").resources.executor == "ray"
    assert executor.resolve(spec_of("rl/ppo_cartpole.yaml"), None, resume_dir="runs/x").resources.executor == "ray"
    rllib = spec_of("rl/ppo_cartpole.yaml").model_copy(update={"backend": "rllib"})
    assert executor.resolve(rllib, None).resources.executor == "ray"
    pinned = spec_of("rl/ppo_cartpole.yaml", **{"resources.executor": "in_process"})
    with pytest.raises(UserError, match="in_process, but 10.0.0.5:6379 names a Ray cluster"):
        executor.resolve(pinned, "10.0.0.5:6379")


def test_ctrl_c_during_a_checkpoint_copy_waits_for_the_copy():
    interrupts = in_process._DeferredInterrupt()
    copied = []
    with pytest.raises(KeyboardInterrupt):
        with interrupts.deferred():
            interrupts.handler(signal.SIGINT, None)  # arrives mid-copy
            copied.append("whole")
    assert copied == ["whole"]
    with pytest.raises(KeyboardInterrupt):
        interrupts.handler(signal.SIGINT, None)  # between copies: at once


def test_resuming_a_finished_in_process_run_trains_no_further(runs):
    rc, lines = run_cli("run", str(JOBS / "rl" / "q_learning_frozenlake.yaml"), "--output", str(runs),
                        "--set", "stop.iterations=2", "--set", "hparams.episodes_per_iteration=20")
    assert rc == 0, lines[-5:]
    run_dir = Path(lines[-1].removeprefix("run dir: "))
    before = {name: (run_dir / name).read_bytes() for name in ("summary.json", "metrics.parquet")}
    rc, lines = run_cli("run", "--resume", str(run_dir))
    assert rc == 0 and lines[-2:] == ["stopped: iterations", f"run dir: {run_dir}"], lines
    assert not [ln for ln in lines if ln.startswith("iter ")]
    assert {name: (run_dir / name).read_bytes() for name in before} == before
