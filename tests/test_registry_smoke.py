"""Every registered algorithm takes one iteration, every registered model one tiny epoch, from its shipped job.

Parametrised over the registry itself: a new algorithm or model with no job file in `jobs/`, or one
that cannot take a step, fails here. Budgets are cut with the same overrides a user would `--set`
(`TINY`); RL runs in this process (`rollout_workers: 0`), RLlib and the Ray-task text models in the
session's Ray. What cannot run here is listed in `CANNOT_RUN_HERE` with the reason, never skipped silently.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from trainfleet import jobs, registry, results

ROOT = Path(__file__).resolve().parents[1]

# name -> why no job of it can run on these test machines (none today: every entry has a runnable job)
CANNOT_RUN_HERE: dict[str, str] = {}
# Job files not used as an entry's smoke job, and why.
NOT_SMOKE_JOBS = {"ppo_pong_atari.yaml": "Atari: each iteration is 1024 frames through a Nature CNN; "
                                         "tests/learning covers it where ale-py is installed",
                  "dqn_breakout_atari.yaml": "Atari: a 100k-frame replay buffer and a Nature CNN; "
                                             "tests/learning/test_offpolicy_cli.py runs it with a small buffer"}

# Job files that are not their entry's first but ship what the first does not (the notes' own networks):
# each takes a step too.
ALSO_SMOKE = ["rl/dqn_cartpole_notes_q128.yaml", "rl/dqn_cartpole_keras_build_dqn.yaml", "rl/a2c_cartpole_notes.yaml",
              "rl/a2c_cartpole_notes_mc.yaml", "rl/reinforce_cartpole_notes.yaml", "rl/ddpg_pendulum_notes.yaml"]

TINY: dict[str, dict[str, Any]] = {  # per entry: overrides that make one iteration cheap
    "ppo": {"hparams.n_steps": 16, "env.num_envs": 2, "hparams.minibatch_size": 32, "hparams.epochs": 1,
            "hparams.steps_per_iteration": 32, "hparams.batch_size": 32, "hparams.n_epochs": 1},
    "a2c": {"env.num_envs": 2, "hparams.steps_per_iteration": 64}, "a3c": {"env.num_envs": 2}, "reinforce": {"env.num_envs": 2},
    "ppo_lagrangian": {"hparams.n_steps": 16, "env.num_envs": 2, "hparams.minibatch_size": 32, "hparams.epochs": 1},
    "trpo": {"env.num_envs": 2},
    "dqn": {"hparams.steps_per_iteration": 64, "hparams.learning_starts": 32, "hparams.batch_size": 16,
            "hparams.min_sample_timesteps_per_iteration": 64, "hparams.train_batch_size": 16},
    "ddpg": {"hparams.steps_per_iteration": 64, "hparams.learning_starts": 32, "hparams.batch_size": 16},
    "td3": {"hparams.steps_per_iteration": 64, "hparams.learning_starts": 32, "hparams.batch_size": 16},
    "es": {"hparams.population_size": 4, "hparams.noise_table_size": 100_000, "env.num_envs": 2},
    "cem": {"hparams.population_size": 4, "env.num_envs": 2},
    "cma_es": {"hparams.population_size": 4, "env.num_envs": 2},
    # RLlib and SB3 (the backends share algorithm names; fields another backend lacks are dropped below)
    "sac": {"hparams.min_sample_timesteps_per_iteration": 32, "hparams.num_steps_sampled_before_learning_starts": 16,
            "hparams.train_batch_size": 16, "hparams.fcnet_hiddens": [16, 16],
            "hparams.steps_per_iteration": 64, "hparams.learning_starts": 32, "hparams.batch_size": 16},
    "appo": {"hparams.min_time_s_per_iteration": 0.5, "hparams.train_batch_size": 100},
    "impala": {"hparams.min_time_s_per_iteration": 0.5, "hparams.train_batch_size": 100},
    "skipgram": {"hparams.dim": 8}, "cbow": {"hparams.dim": 8}, "glove": {"hparams.dim": 8},
    "lstm_lm": {"hparams.dim": 8, "hparams.hidden": 8},
}


def _shipped_jobs() -> dict[tuple[str, str], Path]:
    """(algorithm, backend) or (model, "dl") -> the first job file naming it."""
    found: dict[tuple[str, str], Path] = {}
    for path in sorted((ROOT / "jobs").glob("**/*.yaml")):
        if path.name in NOT_SMOKE_JOBS or "tune" in (raw := jobs.read_yaml(path)):
            continue
        key = (raw["algorithm"], raw.get("backend", "native")) if "algorithm" in raw else (raw["model"], "dl")
        found.setdefault(key, path)
    return found


JOBS = _shipped_jobs()
ENTRIES = [pytest.param(name, backend, id=f"{backend}:{name}") for name, backend in sorted(registry.ALGORITHMS)]
ENTRIES += [pytest.param(name, "dl", id=f"dl:{name}") for name in sorted(registry.MODELS)]


def _spec(name: str, backend: str) -> jobs.JobSpec:
    if name in CANNOT_RUN_HERE:
        pytest.skip(f"{name}: {CANNOT_RUN_HERE[name]}")
    path = JOBS.get((name, backend))
    assert path is not None, f"{backend}:{name} is registered but no file in jobs/ runs it: ship one"
    return _tiny(path, name, backend)


def _tiny(path: Path, name: str, backend: str) -> jobs.JobSpec:
    """The job at `path` with `TINY`'s budget cuts for its entry."""
    overrides = {key: value for key, value in TINY.get(name, {}).items()
                 if key.split(".")[0] != "hparams" or key.split(".")[1] in _hparam_fields(name, backend)}
    if backend == "dl":
        overrides["stop.epochs"] = 1
    else:
        overrides["resources.rollout_workers"] = 0
    return jobs.load_job(path, overrides)[0]


def _hparam_fields(name: str, backend: str) -> set[str]:
    table = registry.MODELS[name] if backend == "dl" else registry.ALGORITHMS[(name, backend)]
    return set(table.load().Hparams.model_fields)


def _finite_numbers(row: dict[str, Any]) -> bool:
    return all(math.isfinite(v) for k, v in row.items() if isinstance(v, float) and k.startswith(("loss", "train_loss")))


def _rl_iteration(spec: jobs.JobSpec, tmp_path: Path) -> None:
    from trainfleet.launch.runner import build_runner

    runner = build_runner(spec)
    try:
        metrics = runner.train_iteration()
        runner.save(tmp_path)
    finally:
        runner.close()
    assert results.ENV_STEPS in metrics and results.EPISODE_RETURN_MEAN in metrics, sorted(metrics)
    assert _finite_numbers(metrics), metrics
    assert any(tmp_path.iterdir()), "the runner saved nothing"


def _dl_epoch(spec: jobs.JobSpec) -> None:
    from trainfleet.dl.engine import fit_in_process

    _, rows, _ = fit_in_process(spec)
    assert len(rows) == 1 and rows[0]["stop_reason"] in ("epochs", "val_accuracy"), rows
    assert math.isfinite(rows[0]["train_loss"]), rows[0]


def _text_epoch(spec: jobs.JobSpec) -> None:
    from trainfleet.dl.data.source import DataSpec, load_table
    from trainfleet.dl.text import train as text
    from trainfleet.dl.text.corpus import build_corpus

    hp = spec.typed_hparams
    table = load_table(DataSpec.model_validate(spec.data))
    corpus = build_corpus(table, hp)
    if spec.model in text.WORD2VEC:  # a Ray Train worker's loop, in this process
        from trainfleet.dl.build import model_class
        from trainfleet.dl.text import word2vec_loop

        rows = word2vec_loop.train(model_class(spec.model)(hp, corpus.vocab, seed=0), corpus.ids, 1)
    elif spec.model == "glove":
        rows = text._glove(spec, hp, corpus, lambda row, checkpoint=None: None).history
    elif spec.model == "tfidf":
        rows = text._tfidf(spec, hp, corpus, table).history
    else:
        rows = text._language_model(spec, hp, corpus, lambda row, checkpoint=None: None).history
    assert len(rows) == 1 and _finite_numbers(rows[0]), rows


@pytest.mark.parametrize(("name", "backend"), ENTRIES)
def test_registered_entry_takes_a_step(name, backend, request, tmp_path):
    spec = _spec(name, backend)
    if backend == "rllib" or spec.model in ("glove", "tfidf"):
        request.getfixturevalue("ray_session")  # RLlib's env runners, the text models' shard tasks
    from trainfleet.dl.text import TEXT_TASKS

    if backend != "dl":
        _rl_iteration(spec, tmp_path)
    elif spec.task in TEXT_TASKS:
        _text_epoch(spec)
    else:
        _dl_epoch(spec)


@pytest.mark.parametrize("job", ALSO_SMOKE)
def test_extra_job_takes_a_step(job, tmp_path):
    raw = jobs.read_yaml(ROOT / "jobs" / job)
    _rl_iteration(_tiny(ROOT / "jobs" / job, raw["algorithm"], raw.get("backend", "native")), tmp_path)


def test_every_exclusion_and_budget_names_something_real():
    names = {n for n, _ in registry.ALGORITHMS} | set(registry.MODELS)
    assert set(CANNOT_RUN_HERE) | set(TINY) <= names, (set(CANNOT_RUN_HERE) | set(TINY)) - names
    assert all((ROOT / "jobs" / "rl" / job).is_file() for job in NOT_SMOKE_JOBS), NOT_SMOKE_JOBS
    entries = [(n, b) for n, b in registry.ALGORITHMS] + [(n, "dl") for n in registry.MODELS]
    for name, overrides in TINY.items():
        fields = set().union(*(_hparam_fields(n, b) for n, b in entries if n == name))
        unused = {k for k in overrides if k.startswith("hparams.") and k.split(".")[1] not in fields}
        assert not unused, f"TINY[{name!r}] sets fields no {name} has: {sorted(unused)}"
