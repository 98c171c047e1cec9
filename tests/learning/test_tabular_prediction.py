"""Monte Carlo and TD(0) prediction converge to the exact v_pi that DP computes."""

from __future__ import annotations

import numpy as np
import pytest

from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.tabular.monte_carlo import MonteCarloPrediction
from trainfleet.rl.tabular.td_prediction import TD0Prediction

# a 3x3 maze with one wall cell: +1 at the goal, -1 per bump; the uniform random policy
MAZE = ("trainfleet/MazeRobot-v0", {"layout": ["S..", ".#.", "..G"]})


@pytest.mark.parametrize(
    "cls, alpha, tolerance",
    [(MonteCarloPrediction, None, 0.1), (TD0Prediction, 0.01, 0.25)],
    ids=["mc_sample_average", "td0_constant_alpha"],
)
def test_prediction_converges_to_the_exact_values(cls, alpha, tolerance):
    agent = cls(RunContext(*MAZE, 1, cls.Hparams(gamma=0.9, alpha=alpha, episodes_per_iteration=500), 0))
    first = agent.train_iteration()["value_error"]
    for _ in range(3):
        metrics = agent.train_iteration()
    scale = np.sqrt(np.mean(agent.v_exact[agent.reachable] ** 2))  # about 3.3: the error of V = 0
    assert metrics["value_error"] < tolerance < scale / 10
    assert metrics["value_error"] < first
    assert metrics["v_start"] == pytest.approx(agent.v_exact[agent.start_state], abs=3 * tolerance)


def test_prediction_of_a_given_deterministic_policy():
    # always right, then down: S . . / . # . / . . G reaches the goal in 4 moves
    policy = [2, 2, 1, 0, 0, 1, 0, 0, 0]
    agent = TD0Prediction(RunContext(*MAZE, 1, TD0Prediction.Hparams(gamma=0.9, alpha=1.0, policy=policy, episodes_per_iteration=5), 0))
    agent.train_iteration()
    np.testing.assert_allclose(agent.v[[0, 1, 2, 5]], [0.9**3, 0.9**2, 0.9, 1.0], atol=1e-12)  # alpha 1 in a deterministic world: exact after 4 episodes
    assert agent.train_iteration()["value_error"] < 1e-12
