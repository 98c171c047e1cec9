"""Exploration strategies, the one-step updates of the notes, and exact checkpoint/resume."""

from __future__ import annotations

import numpy as np
import pytest

from trainfleet.errors import SpecError
from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.core.checkpoint import load_state, save_state
from trainfleet.rl.tabular.dyna_q import DynaQ
from trainfleet.rl.tabular.exploration import ExplorationHparams, Explorer
from trainfleet.rl.tabular.monte_carlo import MonteCarloControl, MonteCarloPrediction, visit_returns
from trainfleet.rl.tabular.off_policy_mc import OffPolicyMCControl, OffPolicyMCPrediction
from trainfleet.rl.tabular.td_control import ExpectedSarsa, QLearning, Sarsa, max_target, td_update
from trainfleet.rl.tabular.td_prediction import TD0Prediction

Q_ROW = np.array([0.0, 1.0, 0.5, 0.2])


def picks(explorer: Explorer, n: int = 4000, q_row: np.ndarray = Q_ROW, state: int = 0) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.array([explorer.select(q_row, state, rng) for _ in range(n)])


def test_epsilon_greedy_rate_and_greedy_limit():
    chosen = picks(Explorer(ExplorationHparams(epsilon=0.2), 1, 4))
    # random with prob eps (landing on the greedy action eps/|A| of the time), greedy otherwise
    assert np.mean(chosen != 1) == pytest.approx(0.2 * 3 / 4, abs=0.02)
    assert (picks(Explorer(ExplorationHparams(epsilon=0.0), 1, 4), n=200) == 1).all()


def test_epsilon_decay_is_monotone_down_to_the_floor():
    explorer = Explorer(ExplorationHparams(epsilon=1.0, epsilon_decay=0.5, epsilon_min=0.1), 1, 4)
    seen = [explorer.epsilon]
    for _ in range(6):
        explorer.end_episode()
        seen.append(explorer.epsilon)
    assert seen == sorted(seen, reverse=True) and seen[-1] == 0.1


def test_boltzmann_limits():
    cold = Explorer(ExplorationHparams(exploration="boltzmann", temperature=1e-4), 1, 4)
    assert (picks(cold, n=200) == 1).all()
    hot = Explorer(ExplorationHparams(exploration="boltzmann", temperature=1e4), 1, 4)
    np.testing.assert_allclose(np.bincount(picks(hot), minlength=4) / 4000, 0.25, atol=0.03)


def test_ucb_tries_every_action_then_favours_the_uncertain():
    explorer = Explorer(ExplorationHparams(exploration="ucb", ucb_c=2.0), 1, 4)
    first = picks(explorer, n=4, q_row=np.zeros(4))
    assert sorted(first) == [0, 1, 2, 3]
    explorer.counts[0] = [100, 1, 100, 100]
    assert picks(explorer, n=1, q_row=np.array([0.5, 0.0, 0.5, 0.5]))[0] == 1


def test_count_bonus_fades_with_visits():
    explorer = Explorer(ExplorationHparams(exploration="count_bonus", bonus_beta=1.0), 1, 2)
    explorer.counts[0] = [0, 50]
    assert picks(explorer, n=1, q_row=np.array([0.0, 0.5]))[0] == 0  # bonus 1.0 beats 0.5 + 0.14
    explorer.counts[0] = [50, 50]
    assert picks(explorer, n=1, q_row=np.array([0.0, 0.5]))[0] == 1


@pytest.mark.parametrize("strategy", ["epsilon_greedy", "boltzmann", "ucb", "count_bonus", "greedy", "random"])
def test_behaviour_probabilities_are_a_distribution(strategy):
    p = Explorer(ExplorationHparams(exploration=strategy, epsilon=0.3), 1, 4).probabilities(Q_ROW)
    assert p.sum() == pytest.approx(1.0) and (p >= 0).all()


def lake(cls, **hp):
    return cls(RunContext("FrozenLake-v1", {"is_slippery": False}, 1, cls.Hparams(**hp), 0))


def test_one_step_q_learning_update_of_the_notes():
    # notes L1868: alpha 0.1, gamma 0.99, r 1, Q(s,a) 0, max Q(s') 0 -> new Q 0.1
    q = np.zeros((2, 2))
    td_update(q, 0, 1, reward=1.0, terminated=False, next_value=q[1].max(), alpha=0.1, gamma=0.99)
    assert q[0, 1] == pytest.approx(0.1)
    q[1] = [0.5, 0.0]  # bootstraps from s' unless s' is terminal
    td_update(q, 0, 0, reward=0.0, terminated=False, next_value=q[1].max(), alpha=0.1, gamma=0.99)
    assert q[0, 0] == pytest.approx(0.1 * 0.99 * 0.5)
    td_update(q, 1, 0, reward=0.0, terminated=True, next_value=123.0, alpha=0.5, gamma=0.99)
    assert q[1, 0] == pytest.approx(0.25)


def test_sarsa_and_q_learning_targets_differ_when_the_next_action_is_not_greedy():
    sarsa, qlearn, expected = lake(Sarsa, epsilon=0.5), lake(QLearning), lake(ExpectedSarsa, epsilon=0.5)
    for agent in (sarsa, qlearn, expected):
        agent.q[3] = [0.0, 1.0, 0.5, 0.2]
    # the same transition, next state 3, next action 0 (not greedy)
    assert max_target(qlearn.q)(3, 0) == 1.0
    assert sarsa.q[3, 0] == 0.0  # SARSA's target is the sampled Q(s', a')
    assert expected.expected_value(3, 0) == pytest.approx(0.5 * 1.0 + 0.5 * np.mean([0.0, 1.0, 0.5, 0.2]))


def test_first_and_every_visit_returns_by_hand():
    # states a b a c with rewards 1 0 2 3, gamma 0.5: G0 = 1 + 0.5*0 + 0.25*2 + 0.125*3 = 1.875
    out = dict(visit_returns(["a", "b", "a", "c"], [1.0, 0.0, 2.0, 3.0], 0.5))
    assert out == {"a": 1.875, "b": 0.0 + 0.5 * 2.0 + 0.25 * 3.0, "c": 3.0}
    # every visit adds a's second return, G2 = 2 + 0.5*3 = 3.5, latest first
    every = visit_returns(["a", "b", "a", "c"], [1.0, 0.0, 2.0, 3.0], 0.5, every=True)
    assert every == [("c", 3.0), ("a", 3.5), ("b", 1.75), ("a", 1.875)]


@pytest.mark.parametrize(
    "cls, hp",
    [
        (QLearning, {"epsilon": 0.3, "epsilon_decay": 0.99}),
        (Sarsa, {"exploration": "ucb"}),
        (DynaQ, {"planning_steps": 5}),
        (MonteCarloControl, {"start": "exploring"}),
        (MonteCarloPrediction, {"alpha": None}),
        (TD0Prediction, {}),
        (MonteCarloPrediction, {"alpha": None, "visits": "every"}),
        (OffPolicyMCPrediction, {"sampling": "ordinary", "behaviour_epsilon": 0.5, "gamma": 0.9}),
        (OffPolicyMCControl, {"sampling": "weighted", "epsilon": 0.5}),
    ],
)
def test_checkpoint_resume_continues_exactly(cls, hp, tmp_path):
    hp = {"episodes_per_iteration": 20, **hp}
    agent = lake(cls, **hp)
    agent.train_iteration()
    save_state(tmp_path, agent.get_state())
    expected = agent.train_iteration()
    resumed = lake(cls, **hp)
    resumed.set_state(load_state(tmp_path))
    assert resumed.train_iteration() == expected
    table = "q" if hasattr(agent, "q") else "v"
    np.testing.assert_array_equal(getattr(resumed, table), getattr(agent, table))


def test_prediction_policy_choices():
    maze = ("trainfleet/MazeRobot-v0", {"layout": ["S..", ".#.", "..G"]})
    with pytest.raises(SpecError, match="one action in \\[0, 4\\) per state"):
        TD0Prediction(RunContext(*maze, 1, TD0Prediction.Hparams(policy=[0, 1]), 0))
    optimal = TD0Prediction(RunContext(*maze, 1, TD0Prediction.Hparams(policy="optimal", gamma=0.9), 0))
    assert optimal.v_exact[optimal.start_state] == pytest.approx(0.9**3)  # 4 moves to the goal
    assert optimal.act(0) in (1, 2)  # down or right: both start a shortest path
