"""Monte Carlo and TD(0) prediction converge to the exact v_pi that DP computes."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from margins import Bar, check, learned
from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.tabular.monte_carlo import MonteCarloPrediction
from trainfleet.rl.tabular.td_prediction import TD0Prediction

# a 3x3 maze with one wall cell: +1 at the goal, -1 per bump; the uniform random policy
MAZE = ("trainfleet/MazeRobot-v0", {"layout": ["S..", ".#.", "..G"]})


def prediction(cls, alpha: float | None, seed: int) -> dict[str, float]:
    """Value error after 1 and 4 iterations of 500 episodes, and the start state's error."""
    agent = cls(RunContext(*MAZE, 1, cls.Hparams(gamma=0.9, alpha=alpha, episodes_per_iteration=500), seed))
    first = agent.train_iteration()["value_error"]
    for _ in range(3):
        metrics = agent.train_iteration()
    return {"value_error": metrics["value_error"], "error_drop": first - metrics["value_error"],
            "v_start_error": abs(metrics["v_start"] - agent.v_exact[agent.start_state]),
            "scale": float(np.sqrt(np.mean(agent.v_exact[agent.reachable] ** 2)))}  # about 3.3: the error of V = 0


PREDICTION = {name: learned(f"tabular_prediction[{name}]", partial(prediction, cls, alpha),
                            Bar("value_error", "<", tolerance), Bar("error_drop", ">", 0.0),
                            Bar("v_start_error", "<=", 3 * tolerance))
              for name, cls, alpha, tolerance in [("mc_sample_average", MonteCarloPrediction, None, 0.1),
                                                  ("td0_constant_alpha", TD0Prediction, 0.01, 0.25)]}


@pytest.mark.parametrize("name", list(PREDICTION))
def test_prediction_converges_to_the_exact_values(name):
    result = check(PREDICTION[name])
    assert PREDICTION[name].bars[0].value < result["scale"] / 10  # the tolerance is far below V = 0's error


def test_prediction_of_a_given_deterministic_policy():
    # always right, then down: S . . / . # . / . . G reaches the goal in 4 moves
    policy = [2, 2, 1, 0, 0, 1, 0, 0, 0]
    agent = TD0Prediction(RunContext(*MAZE, 1, TD0Prediction.Hparams(gamma=0.9, alpha=1.0, policy=policy, episodes_per_iteration=5), 0))
    agent.train_iteration()
    np.testing.assert_allclose(agent.v[[0, 1, 2, 5]], [0.9**3, 0.9**2, 0.9, 1.0], atol=1e-12)  # alpha 1 in a deterministic world: exact after 4 episodes
    assert agent.train_iteration()["value_error"] < 1e-12
