"""The notes' grid worlds: gymnasium-conformant, FrozenLake-style model, the rewards the notes give."""

from __future__ import annotations

from collections import deque

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from trainfleet import registry
from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.envs.grid import DELTAS
from trainfleet.rl.envs.maze_robot import MazeRobotEnv
from trainfleet.rl.envs.slippery_grid import SlipperyGridEnv
from trainfleet.rl.tabular.agent import rollout_returns
from trainfleet.rl.tabular.dynamic_programming import ValueIteration

registry.register_envs()


@pytest.mark.parametrize(
    "env_id, kwargs",
    [
        ("trainfleet/MazeRobot-v0", {}),
        ("trainfleet/MazeRobot-v0", {"size": 9, "density": 0.25, "layout_seed": 3}),
        ("trainfleet/SlipperyGrid-v0", {}),
        ("trainfleet/SlipperyGrid-v0", {"size": 7, "slip": 0.4}),
    ],
)
def test_grid_worlds_pass_gymnasium_env_checker(env_id, kwargs):
    env = gym.make(env_id, **kwargs)
    check_env(env.unwrapped, skip_render_check=True)
    u = env.unwrapped
    assert env.observation_space.n == u.grid.size and env.action_space.n == 4
    for s in range(u.grid.size):  # the FrozenLake-style model is a distribution per (s, a)
        for a in range(4):
            assert sum(p for p, *_ in u.P[s][a]) == pytest.approx(1.0)


def bfs_distance(grid: np.ndarray) -> int:
    """Shortest number of moves from S to G avoiding walls (independent of the env's model)."""
    start = tuple(np.argwhere(grid == "S")[0])
    dist, queue = {start: 0}, deque([start])
    while queue:
        r, c = queue.popleft()
        if grid[r, c] == "G":
            return dist[(r, c)]
        for dr, dc in DELTAS:
            nr, nc = r + dr, c + dc
            if 0 <= nr < grid.shape[0] and 0 <= nc < grid.shape[1] and grid[nr, nc] != "#" and (nr, nc) not in dist:
                dist[(nr, nc)] = dist[(r, c)] + 1
                queue.append((nr, nc))
    raise AssertionError("goal unreachable")


def test_maze_robot_rewards_are_the_notes():
    env = MazeRobotEnv(layout=["S#", ".G"])
    env.reset(seed=0)
    assert env.step(0)[:3] == (0, -1.0, False)  # left: the border, a bump
    assert env.step(2)[:3] == (0, -1.0, False)  # right: a wall cell, a bump
    assert env.step(1)[:3] == (2, 0.0, False)  # down: a free cell
    assert env.step(2)[:3] == (3, 1.0, True)  # right: the goal


@pytest.mark.parametrize("kwargs", [{}, {"size": 15, "density": 0.3, "layout_seed": 1}])
def test_maze_robot_dp_optimal_path_is_the_shortest_path(kwargs):
    algo = ValueIteration(RunContext("trainfleet/MazeRobot-v0", kwargs, 1, ValueIteration.Hparams(gamma=0.95, eval_episodes=1), 0))
    while not algo.train_iteration()["done"]:
        pass
    shortest = bfs_distance(algo.env.unwrapped.grid)
    env = algo.env.unwrapped
    state, _ = env.reset(seed=0)
    for step in range(1, 10 * shortest):
        state, reward, terminated, _, _ = env.step(algo.act(state))
        assert reward >= 0, "the optimal robot never bumps a wall"
        if terminated:
            break
    assert terminated and step == shortest
    assert algo.v[env.start_state] == pytest.approx(0.95 ** (shortest - 1))


def test_slippery_grid_rewards_and_slip():
    env = SlipperyGridEnv(layout=["S.O", "...", "..G"], slip=0.2)
    outcomes = env.P[0][2]  # right from the corner: intended, or slip down / up (the border)
    assert sorted((p, s) for p, s, *_ in outcomes) == [(0.1, 0), (0.1, 3), (0.8, 1)]
    assert all(r == -1.0 for _, _, r, _ in outcomes)
    assert env.P[1][2][0] == (0.8, 2, -100.0, True)  # into the obstacle
    assert env.P[5][1][0] == (0.8, 8, 10.0, True)  # into the goal
    det = SlipperyGridEnv(layout=["S.O", "...", "..G"], slip=0.0)
    det.reset(seed=0)
    assert det.step(1)[:3] == (3, -1.0, False)


def test_slippery_grid_optimal_policy_reaches_goal_and_avoids_obstacles():
    algo = ValueIteration(RunContext("trainfleet/SlipperyGrid-v0", {}, 1, ValueIteration.Hparams(gamma=0.9), 0))
    while not algo.train_iteration()["done"]:
        pass
    returns = rollout_returns(algo.env, algo.act, 200, seed=0, max_steps=200)
    assert min(returns) > -100  # never hits the obstacle
    assert np.mean(returns) > -5  # a random walk scores far below (about -100 over 200 steps)


def test_bad_layout_is_rejected():
    with pytest.raises(ValueError, match="exactly one 'S'"):
        MazeRobotEnv(layout=["...", "..G"])
    with pytest.raises(ValueError, match="unknown cell"):
        SlipperyGridEnv(layout=["S#G"])
