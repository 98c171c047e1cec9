"""The bad-input corpus: job specs, `--set` overrides and command-line arguments a careless or
hostile user might give. Every case must end the same way: exit 2, one `error:` line that
names the problem, no traceback, at most 1 KB of output, Ray never started, and nothing
created in the working or output directory.

Most cases call `trainfleet.cli.main` in-process (fast); the ones that could exhaust the
machine (alias bombs, huge or binary files, deep nesting) run as real processes limited to
1 GB of address space and 10 s. Run-directory inputs are in their own corpus.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trainfleet.cli import main

ROOT = Path(__file__).resolve().parents[1]
MAX_OUTPUT = 1024
PROCESS_MEMORY = 2**30
PROCESS_SECONDS = 10

QL = "name: t\nalgorithm: q_learning\nenv: {id: FrozenLake-v1, kwargs: {is_slippery: false}}\nstop: {iterations: 2}\n"
PPO = "name: t\nalgorithm: ppo\nenv: {id: CartPole-v1}\nstop: {iterations: 1}\n"
DQN = "name: t\nalgorithm: dqn\nenv: {id: CartPole-v1}\nstop: {iterations: 1}\n"
DDPG = "name: t\nalgorithm: ddpg\nenv: {id: Pendulum-v1}\nstop: {iterations: 1}\n"
RLLIB = "name: t\nalgorithm: ppo\nbackend: rllib\nenv: {id: CartPole-v1}\nstop: {iterations: 1}\n"
SWEEP = QL + "tune:\n  space: {hparams.alpha: {grid: [0.1, 0.5]}}\n"
MLP = "name: t\nmodel: mlp\ntask: classify\ndata: {dataset: digits}\nstop: {epochs: 1}\n"
TRANSFER = ("name: t\nmodel: transfer\ntask: classify\ndata: {dataset: digits-5to9}\nstop: {epochs: 1}\n"
            "hparams: {weights: w.pt, backbone: cnn}\n")


@dataclass(frozen=True)
class Case:
    """argv with {job}, {runs} and {data} filled in; `job` is written to {job} first."""

    argv: tuple[str, ...]
    expect: tuple[str, ...]
    job: str | bytes | None = None
    env: dict[str, str] = field(default_factory=dict)


def spec(text: str | bytes, *expect: str) -> Case:
    """A job file with this text, run."""
    return Case(("run", "{job}", "--output", "{runs}"), expect, job=text)


def override(base: str, sets: list[str], *expect: str) -> Case:
    """A good job file, run with these --set overrides."""
    argv = ["run", "{job}"] + [a for s in sets for a in ("--set", s)] + ["--output", "{runs}"]
    return Case(tuple(argv), expect, job=base)


def cli(*argv: str, expect: tuple[str, ...], job: str | None = None, env: dict[str, str] | None = None) -> Case:
    return Case(argv, expect, job=job, env=env or {})


def nested(depth: int) -> str:
    return QL + "hparams: {extra: " + "[" * depth + "]" * depth + "}\n"


def bomb(levels: int, under: str) -> str:
    """A billion-laughs document: `levels` anchors of nine aliases each, the last under `under`."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    anchors = "x-anchors:\n" + "".join(f"  {line}\n" for line in lines)
    return anchors + under.replace("BOMB", f"*a{levels - 1}")


FILE_CASES = {
    "empty_file": spec("", "the job file is empty"),
    "only_comments": spec("# nothing here\n", "the job file is empty"),
    "top_level_list": spec("- name: t\n", "must be a YAML mapping"),
    "top_level_scalar": spec("just words\n", "must be a YAML mapping"),
    "unclosed_brace": spec(QL + "hparams: {alpha: 0.1\n", "malformed YAML", "line"),
    "tab_indentation": spec("name: t\nenv:\n\tid: x\n", "malformed YAML"),
    "bad_indentation": spec("name: t\n  algorithm: ppo\n", "malformed YAML"),
    "duplicate_top_key": spec(QL + "algorithm: sarsa\n", "'algorithm' appears twice", "lines 2 and 5"),
    "duplicate_block": spec(QL + "hparams: {alpha: 0.1}\nhparams: {gamma: 0.9}\n", "'hparams' appears twice"),
    "duplicate_nested_key": spec("name: t\nalgorithm: ppo\nenv: {id: CartPole-v1, id: Acrobot-v1}\n"
                                 "stop: {iterations: 1}\n", "'id' appears twice"),
    "duplicate_stop_key": spec(PPO.replace("{iterations: 1}", "{iterations: 1, iterations: 5}"),
                               "'iterations' appears twice"),
    "latin1_byte": spec(QL.encode() + b"# caf\xe9\n", "not UTF-8", "line 5"),
    "utf16_text": spec(QL.encode("utf-16"), "binary file"),
    "nul_byte": spec(QL.encode() + b"\x00", "binary file"),
    "png_header": spec(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
    "control_character": spec(QL + "# bell \x07\n", "malformed YAML"),
    "nested_40_deep": spec(nested(40), "nested deeper than 32 levels"),
    "nested_block_style": spec(QL + "hparams:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(40))
                               + "  " * 41 + "v: 1\n", "nested deeper than 32 levels"),
    "self_alias": spec(QL + "hparams: &h {alpha: *h}\n", "line 5", "an alias refers to its own anchor"),
    "undefined_alias": spec(QL + "seed: *nowhere\n", "undefined alias"),
    "python_tag": spec(QL + "seed: !!python/object/apply:os.system ['true']\n", "malformed YAML", "python/object"),
    "custom_tag": spec(QL + "seed: !secret 3\n", "malformed YAML", "!secret"),
    "two_documents": spec(QL + "---\n" + QL, "malformed YAML", "another document"),
    "small_alias_bomb": spec(bomb(5, QL + "hparams: {alpha: BOMB}\n"), "aliases expand", "20,000"),
    "oversized_file": spec(QL + "#" * 300_000 + "\n", "300,", "at most 262,144 bytes"),
    "merge_of_a_scalar": spec(QL + "hparams: {<<: 1}\n", "malformed YAML"),
    "job_is_a_directory": cli("run", ".", "--output", "{runs}", expect=("no such job file",)),
    "missing_job_file": cli("run", "no/such.yaml", "--output", "{runs}", expect=("no/such.yaml: no such job file",)),
}

SCHEMA_CASES = {
    "unknown_top_field": spec(QL + "stpo: {iterations: 3}\n", "stpo: unknown field", "did you mean 'stop'"),
    "name_with_space": spec(QL.replace("name: t", "name: my run"), "name:", "pattern"),
    "name_starts_with_dash": spec(QL.replace("name: t", "name: -x"), "name:", "pattern"),
    "name_with_slash": spec(QL.replace("name: t", "name: ../../etc"), "name:", "pattern"),
    "name_not_ascii": spec(QL.replace("name: t", "name: café"), "name:", "pattern"),
    "name_too_long": spec(QL.replace("name: t", "name: " + "n" * 300), "name:", "at most 200 characters"),
    "name_a_number_list": spec(QL.replace("name: t", "name: [1, 2]"), "name:", "valid string"),
    "name_missing": spec(QL.replace("name: t\n", ""), "name:", "required"),
    "algorithm_and_model": spec(QL + "model: mlp\n", "exactly one of `algorithm`"),
    "neither_algorithm_nor_model": spec("name: t\nstop: {iterations: 1}\n", "exactly one of `algorithm`"),
    "rl_without_env": spec("name: t\nalgorithm: ppo\nstop: {iterations: 1}\n", "needs `env: {id: ...}`"),
    "env_as_string": spec(PPO.replace("{id: CartPole-v1}", "CartPole-v1"), "env:", "valid dictionary"),
    "env_id_missing": spec(PPO.replace("{id: CartPole-v1}", "{num_envs: 2}"), "env.id:", "required"),
    "stop_empty": spec(PPO.replace("{iterations: 1}", "{}"), "`stop` needs at least one criterion"),
    "stop_unknown_key": spec(PPO.replace("{iterations: 1}", "{iteration: 1}"), "stop.iteration: unknown field",
                             "did you mean 'iterations'"),
    "stop_zero_iterations": spec(PPO.replace("{iterations: 1}", "{iterations: 0}"), "stop.iterations:",
                                 "greater than or equal to 1"),
    "stop_negative_time": spec(PPO.replace("{iterations: 1}", "{time_s: -5}"), "stop.time_s:", "greater than 0"),
    "stop_steps_as_words": spec(PPO.replace("{iterations: 1}", "{env_steps: lots}"), "stop.env_steps:",
                                "valid integer"),
    "stop_infinite_time": spec(PPO.replace("{iterations: 1}", "{time_s: .inf}"), "stop.time_s:",
                               "finite number", "inf"),
    "stop_nan_return": spec(PPO.replace("{iterations: 1}", "{episode_return_mean: .nan}"),
                            "stop.episode_return_mean:", "finite number", "nan"),
    "stop_negative_infinite_return": spec(PPO.replace("{iterations: 1}", "{episode_return_mean: -.inf}"),
                                          "stop.episode_return_mean:", "finite number"),
    "checkpoint_every_zero": spec(QL + "checkpoint: {every: 0}\n", "checkpoint.every:", "greater than or equal to 1"),
    "checkpoint_keep_zero": spec(QL + "checkpoint: {keep: 0}\n", "checkpoint.keep:", "greater than or equal to 1"),
    "checkpoint_unknown": spec(QL + "checkpoint: {evry: 3}\n", "checkpoint.evry: unknown field"),
    "rollout_workers_negative": spec(QL + "resources: {rollout_workers: -1}\n", "resources.rollout_workers:"),
    "cpus_per_worker_zero": spec(QL + "resources: {cpus_per_worker: 0}\n", "resources.cpus_per_worker:"),
    "learner_gpus_two": spec(QL + "resources: {learner_gpus: 2}\n", "resources.learner_gpus:", "one device"),
    "learner_gpus_words": spec(QL + "resources: {learner_gpus: many}\n", "resources.learner_gpus:"),
    "placement_unknown": spec(QL + "resources: {placement_strategy: SCATTER}\n", "resources.placement_strategy:"),
    "use_gpu_maybe": spec(MLP + "resources: {use_gpu: maybe}\n", "resources.use_gpu:"),
    "backend_unknown": spec(QL + "backend: tensorflow\n", "backend:", "'native', 'rllib' or 'sb3'"),
    "seed_negative": spec(QL + "seed: -1\n", "seed:", "greater than or equal to 0"),
    "seed_past_numpy": spec(QL + "seed: 99999999999999999999\n", "seed:", "less than or equal to 2147483647"),
    "seed_2_pow_32": spec(QL + "seed: 4294967296\n", "seed:", "less than or equal to 2147483647"),
    "seed_words": spec(QL + "seed: lucky\n", "seed:", "valid integer"),
    "seed_fraction": spec(QL + "seed: 1.5\n", "seed:", "integer"),
    "seed_infinite": spec(QL + "seed: .inf\n", "seed:", "finite number"),
    "hparams_a_list": spec(QL + "hparams: [1, 2]\n", "hparams:", "valid dictionary"),
    "hparam_unknown": spec(QL + "hparams: {alpah: 0.1}\n", "hparams.alpah: unknown field", "did you mean 'alpha'"),
    "hparam_wrong_type": spec(QL + "hparams: {alpha: fast}\n", "hparams.alpha:", "'fast'"),
    "hparam_infinite": spec(QL + "hparams: {alpha: .inf}\n", "hparams.alpha:", "finite number"),
    "hparam_nan": spec(QL + "hparams: {gamma: .nan}\n", "hparams.gamma:", "finite number"),
    "hparam_nan_deep": spec(DQN + "hparams: {lr: {schedule: linear, start: .nan, end: 0.1, steps: 10}}\n",
                            "hparams.lr.start:", "finite number"),
    "hparam_huge_string": spec(QL + "hparams: {alpha: '" + "x" * 50_000 + "'}\n", "hparams.alpha:", "..."),
    "hparam_date": spec(QL + "hparams: {alpha: 2024-01-01}\n", "hparams.alpha:"),
    "unknown_key_huge": spec(QL + "k" * 1000 + ": 1\n", "unknown field", "..."),
    "key_longer_than_yaml_allows": spec(QL + "k" * 20_000 + ": 1\n", "malformed YAML", "could not find expected ':'"),
}

RL_CASES = {
    "unknown_algorithm": override(QL, ["algorithm=q_lerning"], "algorithm:", "did you mean 'q_learning'"),
    "algorithm_for_other_backend": override(QL, ["backend=rllib"], "algorithm:", "exists for backend 'native'"),
    "import_without_opt_in": override(QL, ["algorithm=os.path:join"], "algorithm:", "TRAINFLEET_ALLOW_IMPORTS=1"),
    "unknown_env": override(QL, ["env.id=FrozenLake-v9"], "env.id:", "did you mean 'FrozenLake-v1'"),
    "env_id_a_number": override(QL, ["env.id=7"], "env.id:", "valid string"),
    "unknown_env_kwarg": override(QL, ["env.kwargs.is_slipery=true"], "env.kwargs.is_slipery:",
                                  "did you mean 'is_slippery'"),
    "env_kwarg_bad_value": override(QL, ["env.kwargs.map_name=9x9"], "env.kwargs:", "cannot create FrozenLake-v1"),
    "env_kwargs_a_list": override(QL, ["env.kwargs=[1]"], "env.kwargs:", "valid dictionary"),
    "num_envs_zero": override(PPO, ["env.num_envs=0"], "env.num_envs:", "greater than or equal to 1"),
    "num_envs_huge": override(PPO, ["env.num_envs=100000"], "env.num_envs:", "less than or equal to 4096"),
    "max_episode_steps_zero": override(PPO, ["env.kwargs.max_episode_steps=0"], "env.kwargs.max_episode_steps:",
                                      ">= 1"),
    "max_episode_steps_negative": override(PPO, ["env.kwargs.max_episode_steps=-5"],
                                          "env.kwargs.max_episode_steps:", ">= 1"),
    "max_episode_steps_words": override(PPO, ["env.kwargs.max_episode_steps=ten"],
                                       "env.kwargs.max_episode_steps:", "'ten'"),
    "max_episode_steps_fraction": override(PPO, ["env.kwargs.max_episode_steps=2.5"],
                                          "env.kwargs.max_episode_steps:", "2.5"),
    "ddpg_on_discrete_actions": override(DDPG, ["env.id=CartPole-v1"], "algorithm:", "ddpg needs a continuous (Box)",
                                         "Discrete(2) actions"),
    "td3_on_discrete_actions": override(DDPG, ["algorithm=td3", "env.id=Acrobot-v1"], "td3 needs a continuous (Box)"),
    "dqn_on_continuous_actions": override(DQN, ["env.id=Pendulum-v1"], "algorithm:", "dqn needs a Discrete action"),
    "dqn_on_mountaincar_continuous": override(DQN, ["env.id=MountainCarContinuous-v0"], "dqn needs a Discrete"),
    "q_learning_on_continuous_obs": override(QL, ["env.id=CartPole-v1", "env.kwargs={}"],
                                             "tabular algorithms need Discrete observations", "Box(4,) observations"),
    "sarsa_on_pendulum": override(QL, ["algorithm=sarsa", "env.id=Pendulum-v1", "env.kwargs={}"],
                                  "tabular algorithms need Discrete"),
    "value_iteration_on_cartpole": override(QL, ["algorithm=value_iteration", "env.id=CartPole-v1",
                                                 "env.kwargs={}", "hparams={}"], "tabular algorithms need Discrete"),
    "mc_control_on_mountaincar": override(QL, ["algorithm=mc_control", "env.id=MountainCar-v0", "env.kwargs={}"],
                                          "tabular algorithms need Discrete"),
    "rllib_dqn_on_continuous": override(RLLIB, ["algorithm=dqn", "env.id=Pendulum-v1"], "dqn needs a Discrete"),
    "hidden_zero": override(PPO, ["hparams.hidden=[0]"], "hparams.hidden.0:", "greater than or equal to 1"),
    "hidden_negative": override(PPO, ["hparams.hidden=[64, -3]"], "hparams.hidden.1:", "greater than or equal to 1"),
    "hidden_too_wide": override(DQN, ["hparams.hidden=[10000000]"], "hparams.hidden.0:", "less than or equal to"),
    "hidden_words": override(PPO, ["hparams.hidden=[big]"], "hparams.hidden.0:", "'big'"),
    "rllib_hiddens_zero": override(RLLIB, ["hparams.fcnet_hiddens=[0]"], "hparams.fcnet_hiddens.0:"),
    "replay_past_memory": override(DQN, ["hparams.buffer_size=100000000000"], "hparams.buffer_size:",
                                   "GiB", "lower buffer_size"),
    "ddpg_replay_past_memory": override(DDPG, ["hparams.buffer_size=50000000000"], "hparams.buffer_size:", "GiB"),
    "replay_zero": override(DQN, ["hparams.buffer_size=0"], "hparams.buffer_size:", "greater than or equal to 1"),
    "lr_infinite": override(DQN, ["hparams.lr=.inf"], "hparams.lr:", "finite number"),
    "lr_nan": override(PPO, ["hparams.lr=.nan"], "hparams.lr:", "finite number"),
    "ppo_unknown_hparam": override(PPO, ["hparams.clip_ratio=0.2"], "hparams.clip_ratio: unknown field"),
    "rllib_unknown_hparam": override(RLLIB, ["hparams.minibatch=64"], "hparams.minibatch: unknown field"),
    "rollout_workers_words": override(PPO, ["resources.rollout_workers=two"], "resources.rollout_workers:"),
}

SWEEP_CASES = {
    "tune_unknown_field": override(SWEEP, ["tune.samples=4"], "tune.samples: unknown field",
                                   "did you mean 'num_samples'"),
    "tune_mode_sideways": override(SWEEP, ["tune.mode=sideways"], "tune.mode:"),
    "tune_num_samples_zero": override(SWEEP, ["tune.num_samples=0"], "tune.num_samples:"),
    "tune_scheduler_unknown": override(SWEEP, ["tune.scheduler=hyperband"], "tune.scheduler:"),
    "tune_searcher_unknown": override(SWEEP, ["tune.searcher=bayes"], "tune.searcher:"),
    "tune_metric_never_reported": override(SWEEP, ["tune.metric=episode_reward_mean"], "tune.metric:",
                                           "not a metric an RL job reports", "did you mean 'episode_return_mean'"),
    "tune_metric_from_dl": override(SWEEP, ["tune.metric=val_accuracy"], "tune.metric:",
                                    "not a metric an RL job reports"),
    "tune_metric_rl_on_dl": override(MLP + "tune: {space: {hparams.lr: {grid: [0.01, 0.1]}}}\n",
                                     ["tune.metric=episode_return_mean"], "not a metric a DL job reports"),
    "tune_metric_bare_prefix": override(SWEEP, ["tune.metric=loss_"], "tune.metric:"),
    "space_not_a_mapping": override(SWEEP, ["tune.space={hparams.alpha: [0.1, 0.5]}"], "tune.space.hparams.alpha:"),
    "space_two_kinds": override(SWEEP, ["tune.space={hparams.alpha: {grid: [0.1], choice: [0.2]}}"],
                                "tune.space.hparams.alpha:", "exactly one of"),
    "space_unknown_kind": override(SWEEP, ["tune.space={hparams.alpha: {normal: [0, 1]}}"],
                                   "tune.space.hparams.alpha"),
    "grid_empty": override(SWEEP, ["tune.space={hparams.alpha: {grid: []}}"], "tune.space.hparams.alpha:",
                           "at least one value"),
    "choice_empty": override(SWEEP, ["tune.space={hparams.alpha: {choice: []}}"], "at least one value"),
    "uniform_three_values": override(SWEEP, ["tune.space={hparams.alpha: {uniform: [0.1, 0.2, 0.3]}}"],
                                     "uniform takes [low, high]"),
    "uniform_reversed": override(SWEEP, ["tune.space={hparams.alpha: {uniform: [0.9, 0.1]}}"],
                                 "tune.space.hparams.alpha:", "reversed"),
    "uniform_words": override(SWEEP, ["tune.space={hparams.alpha: {uniform: [low, high]}}"], "must be numbers"),
    "uniform_infinite": override(SWEEP, ["tune.space={hparams.alpha: {uniform: [0.1, .inf]}}"], "finite number"),
    "loguniform_zero": override(SWEEP, ["tune.space={hparams.alpha: {loguniform: [0, 0.5]}}"],
                                "loguniform needs bounds > 0"),
    "loguniform_negative": override(SWEEP, ["tune.space={hparams.alpha: {loguniform: [-1, -0.5]}}"],
                                    "loguniform needs bounds > 0"),
    "randint_empty": override(SWEEP, ["tune.space={seed: {randint: [5, 5]}}"], "tune.space.seed:", "holds no integer"),
    "randint_reversed": override(SWEEP, ["tune.space={seed: {randint: [9, 2]}}"], "holds no integer"),
    "randint_fractions": override(SWEEP, ["tune.space={seed: {randint: [0.5, 2.5]}}"], "randint takes whole numbers"),
    "swept_seed_negative": override(SWEEP, ["tune.space={seed: {grid: [0, -1]}}"], "tune.space.seed:",
                                    "greater than or equal to 0"),
    "swept_seed_too_big": override(SWEEP, ["tune.space={seed: {choice: [1, 5000000000]}}"], "tune.space.seed:",
                                   "less than or equal to 2147483647"),
    "swept_seed_range_too_big": override(SWEEP, ["tune.space={seed: {randint: [0, 9000000000]}}"],
                                         "tune.space.seed:"),
    "swept_value_out_of_range": override(SWEEP, ["tune.space={hparams.gamma: {uniform: [0.5, 1.5]}}"],
                                         "tune.space.hparams.gamma:"),
    "sweep_the_name": override(SWEEP, ["tune.space={name: {grid: [a, b]}}"], "cannot sweep this field"),
    "sweep_tune_itself": override(SWEEP, ["tune.space={tune.num_samples: {grid: [1, 2]}}"], "cannot sweep"),
    "sweep_path_typo": override(SWEEP, ["tune.space={hparams.alpah: {choice: [0.1, 0.5]}}"],
                                "tune.space.hparams.alpah:", "did you mean 'alpha'"),
    "sweep_path_through_scalar": override(SWEEP, ["tune.space={seed.x: {grid: [1]}}"], "tune.space.seed.x:"),
    "optuna_with_grid": override(SWEEP, ["tune.searcher=optuna"], "tune.space.hparams.alpha:", "use `choice`"),
    "optuna_without_space": override(QL + "tune: {searcher: optuna}\n", [], "tune.searcher:", "non-empty tune.space"),
    "pbt_without_space": override(QL + "tune: {scheduler: pbt}\n", [], "tune.scheduler:", "PBT needs a tune.space"),
}

DL_CASES = {
    "unknown_model": override(MLP, ["model=resnet"], "model:", "unknown model 'resnet'"),
    "unknown_task": override(MLP, ["task=translate"], "task:", "unknown task 'translate'"),
    "task_model_mismatch": override(MLP, ["model=autoencoder"], "task:", "does task reconstruct"),
    "missing_task": spec(MLP.replace("task: classify\n", ""), "task:", "needs `task:`"),
    "missing_data": spec(MLP.replace("data: {dataset: digits}\n", ""), "data:", "needs `data:`"),
    "two_data_sources": override(MLP, ["data.path=x.parquet"], "exactly one of `dataset`, `path`"),
    "data_unknown_field": override(MLP, ["data.labels=y"], "data.labels:", "unknown field"),
    "unknown_dataset": override(MLP, ["data.dataset=mnist"], "data.dataset:", "unknown dataset 'mnist'"),
    "val_path_without_path": override(MLP, ["data.val_path=v.parquet"], "`val_path` goes with `path`"),
    "val_fraction_one": override(MLP, ["data.val_fraction=1"], "data.val_fraction:"),
    "batch_size_zero": override(MLP, ["data.batch_size=0"], "data.batch_size:"),
    "missing_parquet": override(MLP, ["data={path: nowhere.parquet}"], "data.path:", "no such Parquet file"),
    "s3_uri": override(MLP, ["data={path: 's3://bucket/train.parquet'}"], "data.path:",
                       "unsupported address scheme 's3://'"),
    "foo_uri": override(MLP, ["data={path: 'foo://x/y.parquet'}"], "unsupported address scheme 'foo://'"),
    "https_uri": override(MLP, ["data={path: 'https://example.org/x.parquet'}"], "unsupported address scheme"),
    "gs_val_path": override(MLP, ["data={path: '{data}/good.parquet', val_path: 'gs://b/v.parquet'}"],
                            "data.val_path:", "unsupported address scheme"),
    "data_path_name_too_long": override(MLP, ["data={path: '" + "p" * 300 + ".parquet'}"], "data.path:",
                                        "longer than a file name or path may be"),
    "weights_path_too_long": override(TRANSFER, ["hparams.weights=" + "w" * 300 + ".pt"], "hparams.weights:",
                                      "longer than a file name or path may be"),
    "empty_parquet": override(MLP, ["data={path: '{data}/empty.parquet'}"], "data.path:", "holds 0 row(s)"),
    "one_row_parquet": override(MLP, ["data={path: '{data}/one_row.parquet'}"], "holds 1 row(s)"),
    "empty_val_parquet": override(MLP, ["data={path: '{data}/good.parquet', val_path: '{data}/empty.parquet'}"],
                                  "data.val_path:", "holds 0 row(s)"),
    "not_parquet": override(MLP, ["data={path: '{data}/text.parquet'}"], "data.path:", "cannot read"),
    "float_labels_classify": override(MLP, ["data={path: '{data}/float_labels.parquet'}"], "data.label_column:",
                                      "classify needs integer class labels", "double"),
    "string_labels_classify": override(MLP, ["data={path: '{data}/string_labels.parquet'}"],
                                       "classify needs integer class labels"),
    "label_column_missing": override(MLP, ["data={path: '{data}/good.parquet', label_column: target}"],
                                     "data.label_column:", "no column 'target'"),
    "feature_missing": override(MLP, ["data={path: '{data}/good.parquet', features: [a, zz]}"],
                                "data.features.1:", "no column 'zz'"),
    "shape_mismatch": override(MLP, ["data={path: '{data}/good.parquet', shape: [3, 3]}"], "data.shape:"),
    "image_folder_missing": override(MLP, ["data={image_folder: nowhere}"], "data.image_folder:", "no such directory"),
    "image_folder_empty": override(MLP, ["data={image_folder: '{data}/no_classes'}"], "data.image_folder:",
                                   "no images"),
    "image_folder_no_images": override(MLP, ["data={image_folder: '{data}/no_images'}"], "no images"),
    "image_folder_uri": override(MLP, ["data={image_folder: 's3://b/imgs'}"], "data.image_folder:",
                                 "unsupported address scheme"),
    "gan_on_two_workers": override(MLP, ["model=gan", "task=generate", "resources.num_workers=2"],
                                   "resources.num_workers:", "trains on one worker"),
    "mlp_hidden_zero": override(MLP, ["hparams.hidden=[0]"], "hparams.hidden.0:", "greater than or equal to 1"),
    "cnn_channels_zero": override(MLP, ["model=cnn", "hparams.channels=[0]"], "hparams.channels.0:"),
    "cnn_dense_negative": override(MLP, ["model=cnn", "hparams.dense=[-8]"], "hparams.dense.0:"),
    "dl_lr_infinite": override(MLP, ["hparams.lr=.inf"], "hparams.lr:", "finite number"),
    "dl_stop_nan": override(MLP, ["stop.val_accuracy=.nan"], "stop.val_accuracy:", "finite number"),
    "dl_unknown_hparam": override(MLP, ["hparams.hiden=[8]"], "hparams.hiden: unknown field", "did you mean 'hidden'"),
    "transfer_unknown_backbone": override(TRANSFER, ["hparams.backbone=resnet50"], "hparams.backbone:",
                                          "unknown backbone 'resnet50'"),
    "transfer_rnn_backbone": override(TRANSFER, ["hparams.backbone=lstm"], "hparams.backbone:", "unknown backbone"),
    "transfer_bad_backbone_hparams": override(TRANSFER, ["hparams.backbone_hparams={channels: [0]}"],
                                              "hparams.backbone_hparams.channels.0:"),
    "transfer_unknown_backbone_hparam": override(TRANSFER, ["hparams.backbone_hparams={chanels: [8]}"],
                                                 "hparams.backbone_hparams.chanels:"),
    "transfer_weights_missing": override(TRANSFER, [], "hparams.weights:", "no such weights file"),
    "transfer_weights_uri": override(TRANSFER, ["hparams.weights=s3://b/w.pt"], "hparams.weights:",
                                     "unsupported address scheme"),
    "transfer_source_uri": override(TRANSFER, ["hparams.weights=null", "hparams.source=gs://b/run"],
                                    "hparams.source:", "unsupported address scheme"),
    "transfer_source_and_weights": override(TRANSFER, ["hparams.source=runs/x"], "exactly one of `source`"),
    "transfer_source_missing": override(TRANSFER, ["hparams.weights=null", "hparams.source=runs/none"],
                                        "hparams.source:", "no checkpoint"),
}

SET_CASES = {
    "set_without_equals": override(QL, ["hparams.alpha"], "--set expects PATH=VALUE"),
    "set_empty_path": override(QL, ["=1"], "a field path is dotted names"),
    "set_path_with_space": override(QL, ["hparams alpha=1"], "a field path is dotted names"),
    "set_path_double_dot": override(QL, ["hparams..alpha=1"], "a field path is dotted names"),
    "set_path_trailing_dot": override(QL, ["hparams.=1"], "a field path is dotted names"),
    "set_unknown_top": override(QL, ["nonsense=1"], "nonsense: unknown field"),
    "set_into_a_scalar": override(QL, ["name.first=x"], "name.first:", "'name' is not a mapping"),
    "set_wrong_type": override(QL, ["stop.iterations=two"], "stop.iterations:", "'two'"),
    "set_infinite": override(QL, ["stop.time_s=.inf"], "stop.time_s:", "finite number"),
    "set_nan": override(QL, ["hparams.alpha=.nan"], "hparams.alpha:", "finite number"),
    "set_duplicate_keys": override(QL, ["env={id: CartPole-v1, id: Acrobot-v1}"], "--set env:", "appears twice"),
    "set_deep_nesting": override(QL, ["hparams.x=" + "[" * 40 + "]" * 40], "--set hparams.x:", "nested deeper"),
    "set_alias_bomb": override(QL, ["hparams.alpha=" + bomb(6, "v: BOMB").replace("\n", "\n")],
                               "--set hparams.alpha:", "aliases expand"),
    "set_value_too_large": override(QL, ["hparams.alpha=" + "9" * 5000], "--set hparams.alpha:", "too large"),
    "set_control_characters": override(QL, ["hparams.alpha=\x01\x02"], "hparams.alpha:", "valid number"),
    "set_undecodable_bytes": override(QL, ["name=caf\udce9"], "--set name:", "not UTF-8"),
    "set_python_tag": override(QL, ["seed=!!python/object/apply:os.system [true]"], "seed:", "valid integer"),
    "set_whole_spec_to_list": override(QL, ["hparams=[1]"], "hparams:", "valid dictionary"),
    "set_huge_int": override(QL, ["seed=" + "9" * 400], "seed:", "less than or equal to", "..."),
    "set_backend_list": override(QL, ["backend=[native]"], "backend:"),
    "executor_unknown": override(QL, ["resources.executor=local"], "resources.executor:", "'in_process'", "'local'"),
    "in_process_sweep": override(SWEEP, ["resources.executor=in_process"], "resources.executor:",
                                 "in_process cannot run this job", "`tune:` sweep"),
    "in_process_rollout_workers": override(PPO, ["resources.executor=in_process", "resources.rollout_workers=1"],
                                           "resources.executor:", "rollout_workers: 1 are Ray actors"),
    "in_process_rllib": override(RLLIB, ["resources.executor=in_process"], "resources.executor:", "rllib backend"),
    "in_process_ddp": override(MLP, ["resources.executor=in_process", "resources.num_workers=2"],
                               "resources.executor:", "num_workers: 2", "Ray Train"),
    "in_process_ray_train": override(MLP, ["resources.executor=in_process", "resources.trainer=ray_train"],
                                     "resources.executor:", "TorchTrainer"),
}

CLI_CASES = {
    "no_command": cli(expect=("the following arguments are required",)),
    "unknown_command": cli("train", "x.yaml", expect=("invalid choice: 'train'",)),
    "run_without_job": cli("run", "--output", "{runs}", expect=("give a job file, or --resume RUN_DIR",)),
    "run_unknown_flag": cli("run", "{job}", "--fast", expect=("unrecognized arguments: --fast",), job=QL),
    "run_set_without_value": cli("run", "{job}", "--set", expect=("--set: expected one argument",), job=QL),
    "run_dashboard_address": cli("run", "{job}", "--address", "http://127.0.0.1:8265", "--output", "{runs}",
                                 expect=("trainfleet submit",), job=QL),
    "run_https_address": cli("run", "{job}", "--address", "https://head:8265", "--output", "{runs}",
                             expect=("dashboard (Jobs API) address",), job=QL),
    "run_ray_address_env_dashboard": cli("run", "{job}", "--output", "{runs}", expect=("RAY_ADDRESS=",), job=QL,
                                         env={"RAY_ADDRESS": "http://127.0.0.1:8265"}),
    "validate_no_files": cli("validate", expect=("the following arguments are required: jobs",)),
    "validate_missing_file": cli("validate", "gone.yaml", expect=("gone.yaml: no such job file",)),
    "validate_bad_set": cli("validate", "{job}", "--set", "seed=-3", expect=("seed:",), job=QL),
    "eval_no_run_dir": cli("eval", expect=("the following arguments are required: run_dir",)),
    "eval_episodes_words": cli("eval", "x", "--episodes", "many", expect=("invalid int value: 'many'",)),
    "report_no_run_dir": cli("report", expect=("the following arguments are required: run_dir",)),
    "list_unknown_kind": cli("list", "robots", expect=("invalid choice: 'robots'",)),
    "data_no_subcommand": cli("data", expect=("required: data_command",)),
    "data_unknown_subcommand": cli("data", "import", expect=("invalid choice: 'import'",)),
    "data_export_missing_dir": cli("data", "export", "digits", expect=("required: dir",)),
    "data_export_unknown_dataset": cli("data", "export", "mnist", "{runs}", expect=("unknown dataset 'mnist'",)),
    "submit_without_address": cli("submit", "{job}", "--working-dir", ".",
                                  expect=("give the cluster's dashboard address",), job=QL),
    "submit_ftp_address": cli("submit", "{job}", "--working-dir", ".", "--address", "ftp://head:21",
                              expect=("http://HEAD:8265",), job=QL),
    "submit_without_project": cli("submit", "{job}", "--address", "http://127.0.0.1:1",
                                  expect=("no pyproject.toml", "--working-dir"), job=QL),
    "submit_missing_working_dir": cli("submit", "{job}", "--address", "http://127.0.0.1:1", "--working-dir", "nope",
                                      expect=("--working-dir nope: no such directory",), job=QL),
    "submit_job_outside_working_dir": cli("submit", "{job}", "--address", "http://127.0.0.1:1", "--working-dir",
                                          "{data}", expect=("must be inside the uploaded directory",), job=QL),
    "submit_bad_spec": cli("submit", "{job}", "--address", "http://127.0.0.1:1", "--set", "hparams.alpah=1",
                           expect=("hparams.alpah: unknown field",), job=QL),
    "submit_in_process": cli("submit", "{job}", "--address", "http://127.0.0.1:1", "--working-dir", ".",
                             "--set", "resources.executor=in_process",
                             expect=("resources.executor:", "submitted job runs on the cluster's Ray"), job=QL),
    "submit_missing_job": cli("submit", "gone.yaml", "--address", "http://127.0.0.1:1",
                              expect=("gone.yaml: no such job file",)),
    "run_output_under_a_file": cli("run", "{job}", "--output", "{job}/runs", expect=("job.yaml is not a directory",),
                                   job=QL),
    "run_output_name_too_long": cli("run", "{job}", "--output", "o" * 300, expect=("longer than the filesystem",),
                                    job=QL),
    "job_path_too_long": cli("validate", "j" * 5000 + ".yaml", expect=("cannot read the job file", "too long")),
    "status_without_id": cli("status", expect=("required: id",)),
    "logs_without_id": cli("logs", expect=("required: id",)),
    "stop_extra_argument": cli("stop", "a", "b", expect=("unrecognized arguments: b",)),
}

CASES = {**FILE_CASES, **SCHEMA_CASES, **RL_CASES, **SWEEP_CASES, **DL_CASES, **SET_CASES, **CLI_CASES}

# Cases that could exhaust a process: run for real, in a process limited to 1 GB and 10 s.
PROCESS_CASES = {
    "alias_bomb_in_lr": spec(bomb(9, QL + "hparams: {alpha: BOMB}\n"), "aliases expand"),
    "alias_bomb_in_name": spec(bomb(9, QL.replace("name: t\n", "") + "name: BOMB\n"), "aliases expand"),
    "alias_bomb_in_backbone_hparams": spec(bomb(7, TRANSFER.replace("backbone: cnn}", "backbone: cnn, "
                                                                    "backbone_hparams: {dense: BOMB}}")),
                                           "aliases expand"),
    "ten_megabyte_file": spec(QL + ("# padding " * 100 + "\n") * 10_000, "at most 262,144 bytes"),
    "binary_megabytes": spec(bytes(range(256)) * 40_000, "at most 262,144 bytes"),
    "nesting_100k_deep": spec(QL + "hparams: {x: " + "[" * 100_000 + "]" * 100_000 + "}\n",
                              "nested deeper than 32 levels"),
    "nesting_200_deep": spec(nested(200), "nested deeper than 32 levels"),
    "set_alias_bomb": override(QL, ["hparams.alpha=" + bomb(9, "v: BOMB")], "--set hparams.alpha:"),
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """Data files the DL cases point at: empty, tiny, mislabelled and not-Parquet files, bare folders."""
    d = tmp_path_factory.mktemp("data")
    cols = {"a": np.arange(6, dtype=np.float32), "b": np.ones(6, np.float32)}
    pq.write_table(pa.table({**cols, "label": np.arange(6) % 2}), d / "good.parquet")
    pq.write_table(pa.table({"a": pa.array([], pa.float32()), "label": pa.array([], pa.int64())}), d / "empty.parquet")
    pq.write_table(pa.table({"a": [1.0], "label": [0]}), d / "one_row.parquet")
    pq.write_table(pa.table({**cols, "label": np.linspace(0, 1, 6)}), d / "float_labels.parquet")
    pq.write_table(pa.table({**cols, "label": ["cat", "dog"] * 3}), d / "string_labels.parquet")
    (d / "text.parquet").write_text("a,b,label\n1,2,0\n")
    (d / "no_classes").mkdir()
    (d / "no_images" / "cat").mkdir(parents=True)
    (d / "no_images" / "cat" / "notes.txt").write_text("not an image")
    return d


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _prepare(case: Case, tmp_path: Path, data_dir: Path) -> tuple[list[str], Path]:
    """Write the case's job file; return its argv and the output root it names."""
    work, runs = tmp_path / "work", tmp_path / "work" / "runs"
    work.mkdir()
    job = work / "job.yaml"
    if case.job is not None:
        job.write_bytes(case.job if isinstance(case.job, bytes) else case.job.encode("utf-8", "surrogateescape"))
    fill = {"{job}": str(job), "{runs}": str(runs), "{data}": str(data_dir)}
    argv = []
    for arg in case.argv:
        for key, value in fill.items():
            arg = arg.replace(key, value)
        argv.append(arg)
    return argv, work


def _check(case: Case, rc: int, out: str, err: str, before: set[str], work: Path) -> None:
    text = out + err
    assert rc == 2, f"exit {rc}: {text[-800:]}"
    lines = err.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and all(line.startswith(("error: ", "warning: ")) for line in lines), text[-800:]
    for fragment in case.expect:
        assert fragment in errors[0], f"{fragment!r} not in {errors[0][:800]!r}"
    assert "Traceback" not in text, text[-800:]
    assert len(text.encode("utf-8", "replace")) <= MAX_OUTPUT, f"{len(text)} characters: {text[:300]!r}"
    assert _files(work) == before, sorted(_files(work) - before)


@pytest.fixture
def no_ray(monkeypatch):
    from trainfleet.launch import cluster

    def refuse(*args, **kwargs):
        raise AssertionError("Ray was started for a bad input")

    monkeypatch.setattr(cluster, "connect", refuse)


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_line_and_exit_2(name, tmp_path, data_dir, monkeypatch, capsys, no_ray):
    case = CASES[name]
    argv, work = _prepare(case, tmp_path, data_dir)
    monkeypatch.chdir(work)
    for key in ("RAY_ADDRESS", "TRAINFLEET_ALLOW_IMPORTS"):
        monkeypatch.delenv(key, raising=False)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TRAINFLEET_LOG_DIR", str(tmp_path / "logs"))
    before = _files(work)
    rc = main(argv)
    out, err = capsys.readouterr()
    _check(case, rc, out, err, before, work)


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (PROCESS_MEMORY, PROCESS_MEMORY))


@pytest.mark.parametrize("name", sorted(PROCESS_CASES))
def test_hostile_input_stays_within_1gb_and_10s(name, tmp_path, data_dir):
    case = PROCESS_CASES[name]
    argv, work = _prepare(case, tmp_path, data_dir)
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "TRAINFLEET_ALLOW_IMPORTS")}
    env["TRAINFLEET_LOG_DIR"] = str(tmp_path / "logs")
    before = _files(work)
    done = subprocess.run([sys.executable, "-m", "trainfleet", *argv], cwd=work, env=env, capture_output=True,
                          text=True, timeout=PROCESS_SECONDS, preexec_fn=_limit_memory)
    _check(case, done.returncode, done.stdout, done.stderr, before, work)


def test_the_corpus_is_large_enough():
    assert len(CASES) + len(PROCESS_CASES) >= 150, len(CASES) + len(PROCESS_CASES)


def test_an_unforeseen_error_is_one_line_naming_its_log(tmp_path, monkeypatch, capsys):
    from trainfleet import catalog

    def broken(what):
        raise RuntimeError("a bug\nover two lines")

    monkeypatch.setattr(catalog, "listing", broken)
    monkeypatch.setenv("TRAINFLEET_LOG_DIR", str(tmp_path))
    assert main(["list"]) == 1
    err = capsys.readouterr().err
    (log,) = tmp_path.iterdir()
    assert err.count("\n") == 1 and "unexpected RuntimeError: a bug over two lines" in err and str(log) in err, err
    assert "Traceback" not in err and "Traceback" in log.read_text() and "a bug" in log.read_text()
    assert log.stat().st_mode & 0o777 == 0o600
