"""Every spec mistake a user can make: one-paragraph message naming file and field path, exit 2,
no Ray started, no run directory left behind."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from trainfleet.cli import main

ROOT = Path(__file__).resolve().parents[1]
QL = ROOT / "jobs" / "rl" / "q_learning_frozenlake.yaml"

GOOD = textwrap.dedent(
    """\
    name: t
    algorithm: q_learning
    env: {id: FrozenLake-v1, kwargs: {is_slippery: false}}
    stop: {iterations: 2}
    """
)


@pytest.fixture
def no_ray(monkeypatch):
    """Fail the test if anything tries to start or join Ray."""
    from trainfleet.launch import cluster

    def refuse(*args, **kwargs):
        raise AssertionError("Ray was started for an invalid spec")

    monkeypatch.setattr(cluster, "connect", refuse)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "job.yaml"
    path.write_text(text)
    return path


PBT = ["tune.scheduler=pbt", "tune.num_samples=2", "tune.space={hparams.alpha: {uniform: [0.1, 0.5]}}"]
# (job text or None for QL, --set overrides, field path in the message, other expected fragments)
CASES = {
    "malformed_yaml": (GOOD + "hparams: {alpha: 0.1\nseed: 1\n", [], None, ["malformed YAML", "line 6"]),
    "unknown_field": (GOOD + "stpo: {iterations: 3}\n", [], "stpo", ["unknown field", "did you mean 'stop'"]),
    "unknown_nested_field": (None, ["checkpoint.evry=3"], "checkpoint.evry", ["did you mean 'every'"]),
    "wrong_type": (None, ["stop.iterations=two"], "stop.iterations", ["valid integer", "'two'"]),
    "unknown_algorithm": (None, ["algorithm=q_lerning"], "algorithm",
                          ["did you mean 'q_learning'", "Run `trainfleet list algorithms`"]),
    "wrong_backend": (None, ["backend=rllib"], "algorithm", ["exists for backend 'native'"]),
    "unknown_env": (None, ["env.id=FrozenLake-v2"], "env.id",
                    ["did you mean 'FrozenLake-v1'", "Run `trainfleet list envs`"]),
    "unknown_env_kwarg": (None, ["env.kwargs.is_slipery=true"], "env.kwargs.is_slipery", ["did you mean 'is_slippery'"]),
    "unknown_hparam": (None, ["hparams.alpah=0.2"], "hparams.alpah", ["did you mean 'alpha'"]),
    "hparam_wrong_type": (None, ["hparams.alpha=fast"], "hparams.alpha", ["'fast'"]),
    "impossible_resources": (None, ["resources.rollout_workers=64"], "resources", ["needs 65 CPUs", "has 2"]),
    "optuna_with_grid": (None, ["tune.searcher=optuna", "tune.space={hparams.alpha: {grid: [0.1, 0.5]}}"],
                         "tune.space.hparams.alpha", ["use `choice`"]),
    "pbt_with_optuna": (None, ["tune.searcher=optuna", "tune.scheduler=pbt",
                               "tune.space={hparams.alpha: {uniform: [0.1, 0.5]}}"], "tune.searcher", ["PBT"]),
    "pbt_interval_off_checkpoints": (None, [*PBT, "tune.perturbation_interval=3", "checkpoint.every=2"],
                                     "tune.perturbation_interval", ["not a multiple of checkpoint.every (2)"]),
    "pbt_never_perturbs": (None, [*PBT, "tune.perturbation_interval=5", "stop.iterations=5"],
                           "tune.perturbation_interval", ["never perturb"]),
    "pbt_without_population": (None, [*PBT, "tune.num_samples=1"], "tune.num_samples", ["population"]),
    "pbt_mutating_the_seed": (None, [*PBT, "tune.space={seed: {randint: [0, 5]}}"], "tune.space.seed",
                              ["only mutate hparams"]),
    "bad_search_path": (None, ["tune.space={hparams.alpah: {choice: [0.1, 0.5]}}"], "tune.space.hparams.alpah",
                        ["did you mean 'alpha'"]),
    "bad_algorithm_import_path": (None, ["algorithm=nosuch.module:Algo"], "algorithm", ["cannot import"]),
    "algorithm_import_without_opt_in": (None, ["algorithm=nosuch.module:Algo"], "algorithm",
                                        ["TRAINFLEET_ALLOW_IMPORTS=1"]),
    "meta_rl_on_a_plain_env": (None, ["algorithm=maml", "hparams={}"], "env.id",
                               ["is not a meta-RL task family", "trainfleet/Navigation2D-v0"]),
    "mpc_known_reward_the_env_lacks": (None, ["algorithm=mpc", "hparams={known_reward: true}", "env={id: Acrobot-v1}"],
                                       "hparams.known_reward", ["no known reward function for Acrobot-v1"]),
    "mpc_on_several_envs": (None, ["algorithm=mpc", "hparams={}", "env={id: CartPole-v1, num_envs: 4}"], "env.num_envs",
                            ["one env at a time"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_spec_error_exit_2_with_file_and_path(case, tmp_path, runs, capsys, no_ray, monkeypatch):
    if case == "impossible_resources":
        from trainfleet.launch import cluster

        monkeypatch.setattr(cluster, "local_capacity", lambda: (2.0, 0.0))  # the same on any CI box
    if case == "bad_algorithm_import_path":
        monkeypatch.setenv("TRAINFLEET_ALLOW_IMPORTS", "1")
    elif case == "algorithm_import_without_opt_in":
        monkeypatch.delenv("TRAINFLEET_ALLOW_IMPORTS", raising=False)
    text, sets, path, fragments = CASES[case]
    job = _write(tmp_path, text) if text is not None else QL
    argv = ["run", str(job), "--output", str(runs)]
    for s in sets:
        argv += ["--set", s]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {job}: "), err
    if path:
        assert f": {path}: " in err, err
    for fragment in fragments:
        assert fragment in err, err
    assert "\n" not in err and "Traceback" not in err
    assert list(runs.iterdir()) == []


def test_missing_job_file(capsys, runs, no_ray):
    assert main(["run", "no/such/job.yaml", "--output", str(runs)]) == 2
    assert "no/such/job.yaml: no such job file" in capsys.readouterr().err


def test_validate_exit_codes(tmp_path, capsys):
    good = _write(tmp_path, GOOD)
    assert main(["validate", str(good), str(QL)]) == 0
    assert main(["validate", str(QL), "--set", "hparams.alpah=1"]) == 2
    assert "hparams.alpah: unknown field" in capsys.readouterr().err


def test_invalid_run_never_imports_ray(tmp_path):
    """From a shell: a bad spec fails fast, before Ray is even imported."""
    code = (
        "import sys, json; from trainfleet.cli import main; "
        f"rc = main(['run', {str(QL)!r}, '--set', 'hparams.alpah=1', '--output', {str(tmp_path / 'runs')!r}]); "
        "print(json.dumps({'rc': rc, 'ray_imported': 'ray' in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"rc": 2, "ray_imported": False}, out.stderr
    assert "hparams.alpah" in out.stderr
    assert not (tmp_path / "runs").exists()


def test_run_with_a_dashboard_address_points_to_submit(capsys, runs, no_ray):
    assert main(["run", str(QL), "--address", "http://127.0.0.1:8265", "--output", str(runs)]) == 2
    assert "trainfleet submit" in capsys.readouterr().err
    assert list(runs.iterdir()) == []
