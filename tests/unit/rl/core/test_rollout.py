"""Rollouts from a RolloutWorker: NEXT_STEP autoreset bookkeeping, transitions, exact snapshots."""

from __future__ import annotations

import numpy as np
import torch

from trainfleet.rl.core.actor_critic import ActorCriticConfig
from trainfleet.rl.core.rollout_buffer import Rollout
from trainfleet.rl.core.workers import EnvConfig, RolloutWorker
from trainfleet.rl.core.wrappers import make_vec_env


def worker(env_id="CartPole-v1", kwargs=None, num_envs=4, seed=0):
    return RolloutWorker(EnvConfig(env_id, kwargs or {}, num_envs), ActorCriticConfig(), seed)


def test_episode_end_is_followed_by_an_invalid_reset_step_holding_the_final_obs():
    w = worker(kwargs={"max_episode_steps": 5})  # every episode is truncated at 5 steps unless it fails first
    ro = w.sample(40)
    dones = ro.dones & ro.valid
    assert dones.any() and ro.truncated.any()
    t, n = np.argwhere(dones[:-1])[0]
    assert not ro.valid[t + 1, n]  # the step after an end only resets the env
    assert ro.rewards[t + 1, n] == 0 and not ro.dones[t + 1, n]
    assert ro.valid[t + 2, n]
    # lengths: each episode counts its valid steps only, and truncation happens at 5
    assert max(ro.episode_lengths) == 5 and all(1 <= x <= 5 for x in ro.episode_lengths)
    assert sum(ro.episode_returns) == sum(ro.episode_lengths)  # CartPole pays 1 per step
    assert ro.num_steps == int(ro.valid.sum())


def test_final_observation_is_the_last_state_of_the_episode():
    w = worker(kwargs={"max_episode_steps": 5}, num_envs=1)
    ro = w.sample(12)
    # the first episode: 5 truncated steps (or fewer if it failed); obs[t+1] must continue obs[t]
    end = int(np.argmax(ro.dones[:, 0]))
    final = ro.obs[end + 1, 0]
    assert not np.allclose(final, 0) and np.abs(final - ro.obs[end, 0]).max() < 0.5  # one physics step away


def test_transitions_skip_reset_steps_and_pair_with_the_true_next_state():
    w = worker(kwargs={"max_episode_steps": 5})
    ro = w.sample(30)
    tr = ro.transitions()
    assert len(tr["obs"]) == ro.num_steps
    assert not tr["terminated"].any() or tr["rewards"][tr["terminated"]].min() == 1.0  # real steps, not resets
    following = np.concatenate([ro.obs[1:], ro.next_obs[None]])
    np.testing.assert_array_equal(tr["next_obs"], following[ro.valid])


def test_worker_snapshot_resumes_bit_for_bit():
    w = worker(num_envs=3, seed=3)
    w.sample(17)
    state = w.get_state()
    a = w.sample(50)
    fresh = worker(num_envs=3, seed=99)
    fresh.policy.load_state_dict(w.policy.state_dict())
    fresh.set_state(state)
    b = fresh.sample(50)
    for name in ("obs", "actions", "rewards", "terminated", "truncated", "valid", "next_obs"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(a.extras["logp"], b.extras["logp"])
    assert a.episode_returns == b.episode_returns


def test_concat_joins_workers_along_the_env_axis():
    parts = [worker(num_envs=2, seed=s).sample(6) for s in (0, 1)]
    ro = Rollout.concat(parts)
    assert ro.obs.shape == (6, 4, 4) and ro.next_obs.shape == (4, 4)
    np.testing.assert_array_equal(ro.actions[:, 2:], parts[1].actions)


def test_box_actions_are_recorded_unclipped_and_sent_clipped():
    w = worker("Pendulum-v1", num_envs=2)
    with torch.no_grad():
        w.policy.head.log_std.fill_(2.0)  # std e^2: many samples beyond the [-2, 2] torque bound
    ro = w.sample(20)
    assert ro.actions.shape == (20, 2, 1) and np.abs(ro.actions).max() > 2.0


def test_atari_env_is_preprocessed_to_stacked_84x84_frames():
    env = make_vec_env("ALE/Pong-v5", {}, 2, seed=0)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (2, 4, 84, 84) and obs.dtype == np.uint8
    env.close()
