"""Tabular control learns: the optimal lake path, and the cliff's SARSA-vs-Q-learning contrast.

Algorithm classes are driven directly (no Ray): fixed seeds, fixed budgets, thresholds no
random policy reaches.
"""

from __future__ import annotations

import numpy as np
import pytest

from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.tabular.agent import rollout_returns
from trainfleet.rl.tabular.dyna_q import DynaQ
from trainfleet.rl.tabular.monte_carlo import MonteCarloControl
from trainfleet.rl.tabular.td_control import ExpectedSarsa, QLearning, Sarsa

LAKE = ("FrozenLake-v1", {"is_slippery": False})
SHORTEST = 6  # moves from S to G on the 4x4 map


def train(cls, env, iterations: int, seed: int = 0, **hp):
    agent = cls(RunContext(*env, 1, cls.Hparams(**hp), seed))
    for _ in range(iterations):
        metrics = agent.train_iteration()
    return agent, metrics


def greedy_path(agent, max_steps: int = 100) -> tuple[float, int]:
    """Return and length of one greedy rollout (FrozenLake without slip is deterministic)."""
    state, _ = agent.env.reset(seed=0)
    total = 0.0
    for step in range(1, max_steps + 1):
        state, reward, terminated, truncated, _ = agent.env.step(agent.act(state))
        total += reward
        if terminated or truncated:
            return total, step
    return total, max_steps


@pytest.mark.parametrize(
    "cls, hp",
    [
        (MonteCarloControl, {"epsilon": 0.1}),
        (MonteCarloControl, {"start": "exploring", "epsilon": 0.0}),
        (Sarsa, {"alpha": 0.2}),
        (ExpectedSarsa, {"alpha": 0.2}),
        (QLearning, {"alpha": 0.5}),
        (DynaQ, {"alpha": 0.5, "planning_steps": 10}),
    ],
    ids=["mc_control", "mc_exploring_starts", "sarsa", "expected_sarsa", "q_learning", "dyna_q"],
)
def test_control_finds_the_optimal_lake_path(cls, hp):
    agent, _ = train(cls, LAKE, iterations=4, episodes_per_iteration=100, **hp)
    assert greedy_path(agent) == (1.0, SHORTEST)


@pytest.mark.parametrize("cls", [QLearning, DynaQ])
def test_off_policy_q_at_start_is_the_discounted_goal_reward(cls):
    agent, _ = train(cls, LAKE, iterations=5, episodes_per_iteration=100, alpha=0.5, epsilon=0.2)
    assert agent.q[0].max() == pytest.approx(0.99 ** (SHORTEST - 1), abs=0.01)  # 0.951


@pytest.mark.parametrize(
    "hp",
    [
        {"exploration": "epsilon_greedy", "epsilon": 0.1},
        {"exploration": "epsilon_greedy", "epsilon": 1.0, "epsilon_decay": 0.97, "epsilon_min": 0.05},
        {"exploration": "boltzmann", "temperature": 0.1},
        {"exploration": "ucb", "ucb_c": 0.5},
        {"exploration": "count_bonus", "bonus_beta": 0.1},
        {"exploration": "greedy", "q_init": 1.0},  # optimistic initial values
    ],
    ids=["epsilon", "decaying_epsilon", "boltzmann", "ucb", "count_bonus", "optimistic"],
)
def test_each_exploration_strategy_learns_the_lake(hp):
    agent, _ = train(QLearning, LAKE, iterations=3, episodes_per_iteration=100, alpha=0.5, **hp)
    assert greedy_path(agent) == (1.0, SHORTEST)


def test_cliff_walking_sarsa_is_safe_q_learning_is_optimal():
    """Sutton & Barto Example 6.6 on gymnasium's CliffWalking (the cliff costs -100 and resets, not terminal)."""
    hp = dict(alpha=0.1, gamma=1.0, epsilon=0.1, episodes_per_iteration=50)
    online = {}
    for cls in (QLearning, Sarsa):
        agent = cls(RunContext("CliffWalking-v1", {}, 1, cls.Hparams(**hp), 0))
        means = [agent.train_iteration()["episode_return_mean"] for _ in range(10)]
        online[cls] = np.mean(means[-4:])  # running means over the last ~200 of 500 episodes
        greedy_return = rollout_returns(agent.env, agent.act, 1, seed=0, max_steps=200)[0]
        if cls is QLearning:
            assert greedy_return == -13.0  # the optimal path along the cliff edge
        else:
            assert -25.0 <= greedy_return < -13.0  # a safer, longer path (-15 or -17)
    assert online[Sarsa] > online[QLearning]  # but SARSA earns more while exploring
