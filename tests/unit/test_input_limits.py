"""The limits on job input refuse only what they mean to: ordinary YAML (aliases, merge keys,
every shipped job) and ordinary sweeps still pass. The refusals are in tests/test_bad_inputs.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainfleet import jobs, spec_checks, yaml_safety
from trainfleet.errors import SpecError

ROOT = Path(__file__).resolve().parents[2]


def test_small_aliases_and_merge_keys_still_load():
    text = "base: &b {lr: 0.1, gamma: 0.9}\nfast: {<<: *b, lr: 0.5}\ncopy: *b\n"
    assert yaml_safety.load(text, source="t") == {
        "base": {"lr": 0.1, "gamma": 0.9}, "fast": {"lr": 0.5, "gamma": 0.9}, "copy": {"lr": 0.1, "gamma": 0.9},
    }


def test_aliases_count_their_expanded_size():
    nine = ", ".join(["*a"] * 9)
    fits = f"a: &a [1, 2, 3]\nb: [{nine}]\n"  # 9 copies of 4 values
    assert len(yaml_safety.load(fits, source="t")["b"]) == 9
    with pytest.raises(SpecError, match="aliases expand"):
        yaml_safety.load("a: &a [" + ", ".join(["x"] * 3000) + f"]\nb: [{nine}]\n", source="t")


@pytest.mark.parametrize("job", sorted(str(p.relative_to(ROOT)) for p in (ROOT / "jobs").rglob("*.yaml")))
def test_every_shipped_job_reads_within_the_limits(job):
    assert isinstance(jobs.read_yaml(ROOT / job), dict)


def test_set_values_parse_as_yaml_or_stay_plain_strings():
    parsed = jobs.parse_set_args(["hparams.lr=1.0e-3", "name=my-run", "tune.space={seed: {grid: [0, 1]}}",
                                  "env.kwargs.layout=[S.., .#., ..G]", "note=a: b: c"])
    assert parsed == {"hparams.lr": 1.0e-3, "name": "my-run", "tune.space": {"seed": {"grid": [0, 1]}},
                      "env.kwargs.layout": ["S..", ".#.", "..G"], "note": "a: b: c"}


@pytest.mark.parametrize("kind,values", [("uniform", [0.1, 0.1]), ("uniform", [-1, 1]), ("loguniform", [1e-4, 1e-2]),
                                         ("randint", [0, 1]), ("grid", []), ("choice", ["a"])])
def test_ordinary_domains_pass(kind, values):
    spec_checks.check_domain(kind, values, file=None, path="tune.space.x")


@pytest.mark.parametrize("text,metric", [("algorithm: dqn\nenv: {id: CartPole-v1}\nstop: {iterations: 1}\n", "loss_q"),
                                         ("algorithm: ppo\nenv: {id: CartPole-v1}\nstop: {iterations: 1}\n",
                                          "episode_len_mean"),
                                         ("model: mlp\ntask: classify\ndata: {dataset: digits}\nstop: {epochs: 1}\n",
                                          "val_accuracy")])
def test_reported_metrics_pass(text, metric):
    raw = yaml_safety.load("name: t\n" + text, source="t")
    raw["tune"] = {"metric": metric, "space": {"seed": {"grid": [0, 1]}}}
    assert jobs.parse_spec(raw).tune.metric == metric


@pytest.mark.parametrize("algorithm,env_id", [("ddpg", "Pendulum-v1"), ("td3", "MountainCarContinuous-v0"),
                                              ("dqn", "Acrobot-v1"), ("ppo", "Pendulum-v1"), ("sarsa", "Taxi-v3")])
def test_algorithms_pass_on_spaces_they_learn_on(algorithm, env_id):
    raw = {"name": "t", "algorithm": algorithm, "env": {"id": env_id}, "stop": {"iterations": 1}}
    assert jobs.parse_spec(raw).algorithm == algorithm
