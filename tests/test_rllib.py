"""RLlib backend: PPO learns CartPole through the trainfleet CLI; all five train, checkpoint, resume and act."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from trainfleet import jobs, registry, results
from trainfleet.cli import main
from trainfleet.errors import SpecError
from trainfleet.rl import rllib, rllib_policy
from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.core.envs import make_env

JOBS = Path(__file__).resolve().parents[1] / "jobs"


def _run(job: str, runs, *sets: str) -> str:
    args = ["run", str(JOBS / "rl" / job), "--output", str(runs)]
    for s in sets:
        args += ["--set", s]
    assert main(args) == 0
    (run_dir,) = runs.iterdir()
    return str(run_dir)


def test_ppo_learns_cartpole_through_the_cli(ray_session, runs, capsys):
    # A 20-episode running mean (the job file keeps 100) stops soon after the policy is good.
    run_dir = _run("ppo_cartpole_rllib.yaml", runs, "hparams.episode_window=20", "stop.episode_return_mean=200",
                   "stop.env_steps=120000")
    summary = results.read_summary(run_dir)
    assert summary["status"] == "completed" and summary["backend"] == "rllib"
    assert summary["final_metrics"][results.EPISODE_RETURN_MEAN] >= 195, summary["final_metrics"]

    table = pq.read_table(f"{run_dir}/metrics.parquet").to_pydict()
    for column in (*results.REQUIRED_RL_COLUMNS, results.EPISODES, results.EPISODE_LEN_MEAN,
                   results.ENV_STEPS_PER_S, "loss_policy", "loss_value"):
        assert column in table, column
    steps = table[results.ENV_STEPS]
    assert steps == sorted(steps) and steps[0] > 0  # cumulative env steps sampled

    capsys.readouterr()
    assert main(["eval", run_dir, "--episodes", "3", "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    # The greedy policy of a trained agent beats a random one (~22) by far.
    assert evaluated["episodes"] == 3 and evaluated["episode_return_mean"] >= 150, evaluated


def test_remote_env_runner_is_scheduled_in_the_trial_placement_group(ray_session, runs):
    """rollout_workers: 1 -> one RLlib EnvRunner actor, which must fit the trial's worker bundle."""
    run_dir = _run("ppo_cartpole_rllib.yaml", runs, "resources.rollout_workers=1", "env.num_envs=2",
                   "stop.iterations=1", "stop.episode_return_mean=null", "stop.env_steps=null")
    summary = results.read_summary(run_dir)
    assert summary["status"] == "completed" and summary["stop_reason"] == "iterations"
    assert summary["final_metrics"][results.ENV_STEPS] >= 2000
    assert (Path(run_dir) / "checkpoints" / "final" / rllib.RLLIB_DIR).is_dir()


FAST_REPLAY = {"hparams.min_sample_timesteps_per_iteration": 100, "hparams.num_steps_sampled_before_learning_starts": 180,
               "hparams.fcnet_hiddens": [32]}


@pytest.mark.parametrize(
    "job, overrides",
    [
        ("dqn_cartpole_rllib.yaml", FAST_REPLAY),
        ("sac_pendulum_rllib.yaml", FAST_REPLAY),
        ("appo_cartpole_rllib.yaml", {"hparams.min_time_s_per_iteration": 1}),
        ("impala_cartpole_rllib.yaml", {"hparams.min_time_s_per_iteration": 1}),
    ],
)
def test_train_checkpoint_restore_act(ray_session, tmp_path, job, overrides):
    """Each algorithm trains, checkpoints, resumes from a checkpoint dir that Tune then deletes, and acts."""
    spec = jobs.load_job(JOBS / "rl" / job, overrides)[0]
    cls = registry.algorithm(spec.algorithm, "rllib").load()
    first = cls(RunContext.from_spec(spec))
    try:
        before = first.train_iteration()
        first.save(tmp_path / "ckpt")
        # what `trainfleet eval` acts with: plain torch from weights-only files, the module's own greedy actions
        weights_only = rllib_policy.load(tmp_path / "ckpt", first.action_space())
        env = make_env(spec.env.id)
        for seed in range(5):
            obs, _ = env.reset(seed=seed)
            np.testing.assert_allclose(weights_only(obs), first.act(obs), rtol=1e-5, atol=1e-6)
    finally:
        first.close()
    resumed = cls(RunContext.from_spec(spec))
    try:
        resumed.restore(tmp_path / "ckpt")
        shutil.rmtree(tmp_path / "ckpt")
        after = resumed.train_iteration()
        space = resumed.action_space()
        obs, _ = make_env(spec.env.id).reset(seed=0)
        assert space.contains(np.asarray(resumed.act(obs), dtype=space.dtype).reshape(space.shape))
    finally:
        resumed.close()
    assert 0 < before[results.ENV_STEPS] < after[results.ENV_STEPS]
    assert after[results.EPISODES] >= before[results.EPISODES]


def test_spec_becomes_algorithm_config():
    spec = jobs.load_job(JOBS / "rl" / "dqn_cartpole_rllib.yaml", {"resources.rollout_workers": 2, "env.num_envs": 4,
                                                                   "hparams.prioritized_replay": False, "seed": 7})[0]
    config = rllib.RLlibDQN(RunContext.from_spec(spec)).algorithm_config()
    assert config.num_env_runners == 2 and config.num_envs_per_env_runner == 4 and config.seed == 7
    assert config.double_q and config.dueling and config.num_learners == 0
    assert config.replay_buffer_config["type"] == "EpisodeReplayBuffer"
    assert config.env_config == {} and config.env == "trainfleet/CartPole-v1"


def test_episode_return_is_a_running_mean_over_whole_episodes():
    spec = jobs.load_job(JOBS / "rl" / "ppo_cartpole_rllib.yaml", {"hparams.episode_window": 3})[0]
    runner = rllib.RLlibPPO(RunContext.from_spec(spec))
    first = runner.platform_metrics({
        "num_env_steps_sampled_lifetime": 100.0,
        "env_runners": {rllib.EPISODE_RETURNS: [10.0, 20.0], rllib.EPISODE_LENGTHS: [10, 20], "num_episodes_lifetime": 2},
        "learners": {"default_policy": {"policy_loss": 0.5, "vf_loss": 2.0}},
    })
    assert first[results.EPISODE_RETURN_MEAN] == 15.0 and first[results.ENV_STEPS] == 100
    assert first["loss_policy"] == 0.5 and first["loss_value"] == 2.0
    # A single episode comes back as a scalar; the window keeps the last three.
    second = runner.platform_metrics({"env_runners": {rllib.EPISODE_RETURNS: 60.0, rllib.EPISODE_LENGTHS: 60}})
    assert second[results.EPISODE_RETURN_MEAN] == pytest.approx(30.0)
    # No episode ended in this iteration: NaN, as the native algorithms report.
    assert math.isnan(runner.platform_metrics({"env_runners": {}})[results.EPISODE_RETURN_MEAN])



def test_impossible_hparams_are_spec_errors():
    with pytest.raises(SpecError, match="minibatch_size 5000 exceeds train_batch_size"):
        jobs.load_job(JOBS / "rl" / "ppo_cartpole_rllib.yaml", {"hparams.minibatch_size": 5000})
    with pytest.raises(SpecError, match="did you mean 'dueling'"):
        jobs.load_job(JOBS / "rl" / "dqn_cartpole_rllib.yaml", {"hparams.duelling": True})
