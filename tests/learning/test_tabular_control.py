"""Tabular control learns: the optimal lake path, and the cliff's SARSA-vs-Q-learning contrast.

Algorithm classes are driven directly (no Ray): fixed budgets, thresholds no random policy
reaches, each held by every seed of benchmarks/learning_margins.py.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from margins import Bar, check, learned
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


def lake_path(cls, iterations: int, hp: dict, seed: int) -> dict[str, float]:
    agent, _ = train(cls, LAKE, iterations=iterations, seed=seed, episodes_per_iteration=100, **hp)
    total, steps = greedy_path(agent)
    return {"greedy_return": total, "greedy_steps": float(steps)}


OPTIMAL_PATH = (Bar("greedy_return", "==", 1.0), Bar("greedy_steps", "==", SHORTEST))
CONTROL = {
    "mc_control": (MonteCarloControl, {"epsilon": 0.1}),
    "mc_exploring_starts": (MonteCarloControl, {"start": "exploring", "epsilon": 0.0}),
    "sarsa": (Sarsa, {"alpha": 0.2}),
    "expected_sarsa": (ExpectedSarsa, {"alpha": 0.2}),
    "q_learning": (QLearning, {"alpha": 0.5}),
    "dyna_q": (DynaQ, {"alpha": 0.5, "planning_steps": 10}),
}
CONTROL_CASES = {name: learned(f"tabular_lake_path[{name}]", partial(lake_path, cls, 4, hp), *OPTIMAL_PATH)
                 for name, (cls, hp) in CONTROL.items()}


@pytest.mark.parametrize("name", list(CONTROL))
def test_control_finds_the_optimal_lake_path(name):
    check(CONTROL_CASES[name])


def q_start(cls, seed: int) -> dict[str, float]:
    agent, _ = train(cls, LAKE, iterations=5, seed=seed, episodes_per_iteration=100, alpha=0.5, epsilon=0.2)
    return {"q_start_error": abs(float(agent.q[0].max()) - 0.99 ** (SHORTEST - 1))}  # 0.951


Q_START = {cls.__name__: learned(f"tabular_q_start[{cls.__name__}]", partial(q_start, cls),
                                 Bar("q_start_error", "<=", 0.01)) for cls in (QLearning, DynaQ)}


@pytest.mark.parametrize("name", list(Q_START))
def test_off_policy_q_at_start_is_the_discounted_goal_reward(name):
    check(Q_START[name])


EXPLORATION = {
    "epsilon": {"exploration": "epsilon_greedy", "epsilon": 0.1},
    "decaying_epsilon": {"exploration": "epsilon_greedy", "epsilon": 1.0, "epsilon_decay": 0.97, "epsilon_min": 0.05},
    "boltzmann": {"exploration": "boltzmann", "temperature": 0.1},
    "ucb": {"exploration": "ucb", "ucb_c": 0.5},
    "count_bonus": {"exploration": "count_bonus", "bonus_beta": 0.1},
    "optimistic": {"exploration": "greedy", "q_init": 1.0},  # optimistic initial values
}
EXPLORATION_CASES = {name: learned(f"tabular_exploration[{name}]", partial(lake_path, QLearning, 3, {"alpha": 0.5, **hp}),
                                   *OPTIMAL_PATH) for name, hp in EXPLORATION.items()}


@pytest.mark.parametrize("name", list(EXPLORATION))
def test_each_exploration_strategy_learns_the_lake(name):
    check(EXPLORATION_CASES[name])


def cliff(seed: int) -> dict[str, float]:
    """Greedy returns of Q-learning and SARSA, and how much more SARSA earns while exploring."""
    hp = dict(alpha=0.1, gamma=1.0, epsilon=0.1, episodes_per_iteration=50)
    online, greedy = {}, {}
    for cls in (QLearning, Sarsa):
        agent = cls(RunContext("CliffWalking-v1", {}, 1, cls.Hparams(**hp), seed))
        means = [agent.train_iteration()["episode_return_mean"] for _ in range(10)]
        online[cls] = np.mean(means[-4:])  # running means over the last ~200 of 500 episodes
        greedy[cls] = rollout_returns(agent.env, agent.act, 1, seed=0, max_steps=200)[0]
    return {"q_learning_greedy": greedy[QLearning], "sarsa_greedy": greedy[Sarsa],
            "sarsa_online_lead": float(online[Sarsa] - online[QLearning])}


CLIFF = learned("tabular_cliff", cliff,
                Bar("q_learning_greedy", "==", -13.0),  # the optimal path along the cliff edge
                Bar("sarsa_greedy", ">=", -25.0), Bar("sarsa_greedy", "<", -13.0),  # a safer, longer path (-15 or -17)
                Bar("sarsa_online_lead", ">", 0.0))  # but SARSA earns more while exploring


def test_cliff_walking_sarsa_is_safe_q_learning_is_optimal():
    """Sutton & Barto Example 6.6 on gymnasium's CliffWalking (the cliff costs -100 and resets, not terminal)."""
    check(CLIFF)
