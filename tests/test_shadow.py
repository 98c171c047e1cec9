"""`trainfleet eval RUN --shadow BASELINE`: the baseline controls, the agent proposes, the differences are reported."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from run_dirs import write_run_dir

from trainfleet import jobs
from trainfleet.cli import main
from trainfleet.launch.runner import build_runner
from trainfleet.rl.shadow import shadow_run

JOBS = Path(__file__).resolve().parents[1] / "jobs" / "rl"


def run_dir(root: Path, job: str, overrides: dict) -> Path:
    spec = jobs.load_job(JOBS / job, overrides)[0]
    runner = build_runner(spec)
    try:
        return write_run_dir(root, spec, runner)
    finally:
        runner.close()


@pytest.fixture(scope="module")
def pid_run(tmp_path_factory) -> Path:
    return run_dir(tmp_path_factory.mktemp("pid"), "datacentre_pid.yaml", {})


def test_an_agent_shadowing_itself_never_differs(pid_run):
    out = shadow_run(pid_run, "pid", episodes=1)
    assert out["steps"] == 288 and out["differ_fraction"] == 0.0, out
    assert out["mean_abs_diff_fan_speed"] == 0.0 and out["max_abs_diff_supply_air_c"] == 0.0, out
    assert out["agent_model_cooling_kwh"] == pytest.approx(out["baseline_cooling_kwh"], rel=1e-9), out
    assert out["agent_model_violation_minutes"] == out["baseline_violation_minutes"] == 0.0, out


def test_another_controller_differs_and_its_cost_is_modelled(pid_run):
    out = shadow_run(pid_run, "fixed_setpoints", episodes=2)
    assert out["steps"] == 576, out
    # the PID runs 20 C supply air and fans by the hottest inlet; fixed: 18 C, 7 C water, fans at 80 %
    assert out["differ_fraction"] > 0.9 and out["mean_abs_diff_supply_air_c"] == pytest.approx(2.0, abs=1e-4), out
    assert out["agent_model_cooling_kwh"] < out["baseline_cooling_kwh"], "the PID cools less hard than fixed setpoints"


def test_cli_shadows_a_trained_ppo_lagrangian_agent(tmp_path, capsys):
    tiny = {"hparams.n_steps": 32, "env.num_envs": 2, "hparams.minibatch_size": 64, "hparams.epochs": 1}
    run = run_dir(tmp_path, "ppo_lagrangian_cooling.yaml", tiny)
    assert main(["eval", str(run), "--shadow", "rule_based", "--episodes", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["baseline"] == "rule_based" and out["steps"] == 288, out
    assert 0.0 <= out["differ_fraction"] <= 1.0 and out["baseline_violation_minutes"] == 0.0, out


def test_bad_shadow_requests_are_one_line_errors(pid_run, tmp_path, capsys):
    assert main(["eval", str(pid_run), "--shadow", "mpc"]) == 2
    assert "choose one of fixed_setpoints, rule_based, pid" in capsys.readouterr().err
    cartpole = run_dir(tmp_path, "ppo_cartpole.yaml", {"hparams.n_steps": 8, "env.num_envs": 2})
    assert main(["eval", str(cartpole), "--shadow", "pid"]) == 2
    assert "needs a run on trainfleet/DataCentreCooling-v0" in capsys.readouterr().err
