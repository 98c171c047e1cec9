"""One typed job from YAML to the algorithm: validated once, every default recorded, no domain imports in the schema."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from trainfleet import jobs
from trainfleet.cli import main
from trainfleet.launch import run

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "tests" / "plugins"


@pytest.mark.parametrize("module", ["trainfleet.jobs", "trainfleet.schema"])
def test_schema_and_validation_import_no_domain(module):
    code = (f"import sys, {module}; print(sorted(m for m in sys.modules "
            "if m.startswith(('trainfleet.dl', 'trainfleet.rl', 'torch', 'ray'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]", f"importing {module} pulled in: {out}"


@pytest.mark.parametrize("job", ["rl/ppo_cartpole.yaml", "rl/dqn_cartpole.yaml", "rl/q_learning_frozenlake.yaml",
                                 "rl/es_cartpole.yaml", "rl/ppo_cartpole_rllib.yaml", "dl/cnn_digits.yaml",
                                 "dl/transfer_digits_5to9.yaml", "nlp/skipgram_lee.yaml"])
def test_spec_yaml_holds_every_hyperparameter_default(job, tmp_path):
    spec, raw = jobs.load_job(ROOT / "jobs" / job)
    run._write_inputs(tmp_path, None, raw, spec)
    stored = yaml.safe_load((tmp_path / "spec.yaml").read_text())["hparams"]
    hp_cls = type(spec.hparams)
    assert set(stored) == set(hp_cls.model_fields), f"{job}: spec.yaml hparams {sorted(stored)}"
    written = raw.get("hparams", {})
    for name, field in hp_cls.model_fields.items():
        if name not in written and not field.is_required():
            default = field.get_default(call_default_factory=True)
            expected = default.model_dump(mode="json") if hasattr(default, "model_dump") else default
            assert stored[name] == expected, f"{job}: hparams.{name} = {stored[name]!r}, default {expected!r}"
    # the serialisation is a job file: it validates back to the same typed hyperparameters
    again = jobs.parse_spec(yaml.safe_load((tmp_path / "spec.yaml").read_text()))
    assert again.hparams == spec.hparams


def test_dl_training_length_is_stop_epochs_alone():
    spec = jobs.parse_spec({"name": "x", "model": "mlp", "task": "classify", "data": {"dataset": "xor-2d"},
                            "stop": {"val_accuracy": 0.9}})
    assert spec.stop.epochs == 10 and "epochs" not in type(spec.hparams).model_fields
    old = jobs.parse_spec({"name": "x", "model": "mlp", "task": "classify", "data": {"dataset": "xor-2d"},
                           "hparams": {"epochs": 3}, "stop": {"val_accuracy": 0.9}})
    assert old.stop.epochs == 3
    with pytest.raises(jobs.SpecError, match="stop.epochs alone"):
        jobs.parse_spec({"name": "x", "model": "mlp", "task": "classify", "data": {"dataset": "xor-2d"},
                         "hparams": {"epochs": 3}, "stop": {"epochs": 4}})


def _probe_job(tmp_path: Path, monkeypatch, **extra) -> tuple[Path, Path]:
    monkeypatch.setenv("TRAINFLEET_ALLOW_IMPORTS", "1")
    monkeypatch.syspath_prepend(str(PLUGINS))
    trace = tmp_path / "validations.txt"
    job = tmp_path / "probe.yaml"
    job.write_text(json.dumps({"name": "probe", "algorithm": "typed_probe:TypedProbe", "env": {"id": "CartPole-v1"},
                               "hparams": {"trace": str(trace)}, "resources": {"learner_cpus": 0.5},
                               "stop": {"iterations": 3}, "checkpoint": {"every": 3}, **extra}))
    return job, trace


def test_runner_gets_the_validated_object_itself(tmp_path, monkeypatch):
    from trainfleet.launch.runner import build_runner
    from trainfleet.launch.trial import trial_spec

    job, trace = _probe_job(tmp_path, monkeypatch)
    spec, _ = jobs.load_job(job)
    runner = build_runner(trial_spec({"spec": spec, "overrides": {}}))
    try:
        assert runner.algo.hp is spec.hparams
        assert trace.read_text().count("validated") == 1
    finally:
        runner.close()


@pytest.mark.parametrize("executor", ["ray", "in_process"])
def test_hparams_reach_the_algorithm_in_a_tune_trial_validated_once(request, executor, tmp_path, monkeypatch):
    if executor == "ray":
        request.getfixturevalue("ray_session")
    job, trace = _probe_job(tmp_path, monkeypatch, resources={"learner_cpus": 0.5, "executor": executor})
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["run", str(job), "--output", str(tmp_path / "runs")]) == 0
    run_dir = Path(buf.getvalue().strip().splitlines()[-1].removeprefix("run dir: "))
    rows = pq.read_table(run_dir / "metrics.parquet").to_pylist()
    assert [r["typed_hparams"] for r in rows] == [1.0, 1.0, 1.0]
    assert [r["validations"] for r in rows] == [1.0, 1.0, 1.0], "the trial validated the hparams again"
    assert rows[-1]["episode_return_mean"] == 2.0  # the default of an unset field reached the algorithm
    assert trace.read_text().count("validated") == 1


def test_a_sweep_trial_recreates_its_hparams_from_the_typed_class(ray_session, tmp_path, monkeypatch):
    job, trace = _probe_job(tmp_path, monkeypatch, tune={"metric": "episode_return_mean", "space": {
        "hparams.scale": {"grid": [3.0, 5.0]}}, "max_concurrent_trials": 1})
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", str(job), "--output", str(tmp_path / "runs")]) == 0
    # driver: the job once, plus each swept value checked on its own; trials: one re-creation each
    assert trace.read_text().count("validated") == 1 + 2 + 2


def test_no_import_circles_between_the_split_modules():
    """What `issue 10` untangled stays untangled: the schema imports no domain, DL validation imports
    the schema (not jobs), tabular DP and agents share planning.py, the actor-critic kit sits on the loop."""
    pkg = ROOT / "platform" / "trainfleet"
    for dl_module in ("dl/specs.py", "dl/build.py", "dl/checkpoint.py", "dl/models/transfer.py"):
        text = (pkg / dl_module).read_text()
        assert "trainfleet.jobs" not in text and "import jobs" not in text, dl_module
    assert "trainfleet.rl.tabular.dynamic_programming" not in (pkg / "rl/tabular/agent.py").read_text()
    assert "trainfleet.rl.core.deterministic_actor_critic" not in (pkg / "rl/core/off_policy.py").read_text()
