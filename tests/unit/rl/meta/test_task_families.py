"""The meta-RL task families: gymnasium-conformant, the shared task interface, seeded splits."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from trainfleet import registry
from trainfleet.rl.core.wrappers import make_vec_env
from trainfleet.rl.envs.tasks import assign_tasks, task_family, task_split

registry.register_envs()
FAMILIES = ["trainfleet/Navigation2D-v0", "trainfleet/BernoulliBandit-v0", "trainfleet/PendulumTask-v0",
            "trainfleet/CartPoleTask-v0"]


@pytest.mark.parametrize("env_id", FAMILIES)
def test_family_passes_check_env_and_round_trips_tasks(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    family = task_family(env)
    first, second = family.sample_tasks(2, np.random.default_rng(0))
    family.set_task(second)
    assert family.get_task() == second
    assert first != second


@pytest.mark.parametrize("env_id", FAMILIES)
def test_split_is_reproducible_from_the_seed_and_held_out(env_id):
    family = task_family(gym.make(env_id))
    train, test = task_split(family, seed=7, n_train=20, n_test=5)
    assert task_split(family, seed=7, n_train=20, n_test=5) == (train, test)
    assert task_split(family, seed=8, n_train=20, n_test=5)[0] != train
    assert not any(t in train for t in test), "test tasks must not appear in the training split"


def test_task_changes_what_the_env_does():
    """Same actions, different goals: different rewards (the task is really in the env)."""
    env = gym.make("trainfleet/Navigation2D-v0")
    rewards = []
    for goal in (0.4, -0.4):
        env.unwrapped.set_task({"goal_x": goal, "goal_y": goal})
        env.reset(seed=0)
        rewards.append(env.step(np.array([0.1, 0.1], np.float32))[1])
    assert rewards[0] > rewards[1], f"moving towards (0.4, 0.4) should pay more than away from (-0.4, -0.4): {rewards}"


def test_vector_env_takes_one_task_per_copy():
    env = make_vec_env("trainfleet/BernoulliBandit-v0", {"k": 3, "pulls": 4}, 2, seed=0)
    assign_tasks(env, [{"probs": [1.0, 0.0, 0.0]}, {"probs": [0.0, 0.0, 1.0]}])
    _, reward, *_ = env.step(np.array([0, 0]))
    assert reward.tolist() == [1.0, 0.0]


def test_non_family_env_is_named():
    with pytest.raises(ValueError, match="CartPoleEnv is not a meta-RL task family"):
        task_family(gym.make("CartPole-v1"))
