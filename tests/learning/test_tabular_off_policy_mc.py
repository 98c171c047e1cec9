"""Off-policy Monte Carlo: both importance-sampling estimators reach DP's exact v_pi, weighted IS with
lower variance; weighted off-policy control finds the optimal lake path; every-visit MC converges too."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from margins import Bar, check, describe, learned
from test_tabular_control import LAKE, OPTIMAL_PATH, lake_path

from trainfleet import jobs
from trainfleet.errors import SpecError
from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.tabular.monte_carlo import MonteCarloPrediction
from trainfleet.rl.tabular.off_policy_mc import OffPolicyMCControl, OffPolicyMCPrediction

MAZE = ("trainfleet/MazeRobot-v0", {"layout": ["S..", ".#.", "..G"]})
SLIPPERY = ("trainfleet/SlipperyGrid-v0", {"slip": 0.2})


def off_policy_prediction(sampling: str, seed: int) -> dict[str, float]:
    """The DP-optimal policy evaluated from episodes of b = 0.5 uniform + 0.5 pi, 1000 episodes."""
    hp = OffPolicyMCPrediction.Hparams(gamma=0.9, policy="optimal", sampling=sampling, behaviour_epsilon=0.5,
                                       episodes_per_iteration=500)
    agent = OffPolicyMCPrediction(RunContext(*MAZE, 1, hp, seed))
    first = agent.train_iteration()["value_error"]
    last = agent.train_iteration()["value_error"]
    return {"value_error": last, "first_error": first}


# seeds 0-5: ordinary 0.015-0.055, weighted 0 (a deterministic maze and target: every weighted return is exact)
OFF_POLICY_PREDICTION = {s: learned(f"tabular_off_policy_mc_prediction[{s}]", partial(off_policy_prediction, s),
                                    Bar("value_error", "<", 0.1)) for s in ("ordinary", "weighted")}


@pytest.mark.parametrize("sampling", list(OFF_POLICY_PREDICTION))
def test_off_policy_prediction_converges_to_the_exact_values(sampling):
    check(OFF_POLICY_PREDICTION[sampling])


def start_errors(sampling: str, seeds: range) -> np.ndarray:
    hp = OffPolicyMCPrediction.Hparams(gamma=0.9, policy="optimal", sampling=sampling, behaviour_epsilon=0.5,
                                       episodes_per_iteration=500)
    errors = []
    for seed in seeds:
        agent = OffPolicyMCPrediction(RunContext(*SLIPPERY, 1, hp, seed))
        errors.append(agent.train_iteration()["v_start"] - agent.v_exact[agent.start_state])
    return np.array(errors)


def test_weighted_importance_sampling_has_lower_variance():
    """The slippery grid (slip 0.2), 500 episodes a seed: the spread of V(start) - v_pi(start) over 6 seeds.
    Seed groups 0-5, 6-11, 12-17, 18-23: weighted / ordinary standard deviation 0.48, 0.33, 0.66, 0.29."""
    ordinary, weighted = start_errors("ordinary", range(6)), start_errors("weighted", range(6))
    assert weighted.std() < 0.8 * ordinary.std(), describe({"ordinary_sd": ordinary.std(), "weighted_sd": weighted.std()})


# seeds 0-9: all find the 6-step path (with epsilon 0.3 after 400 episodes, 9 of 10 seeds)
OFF_POLICY_CONTROL = learned("tabular_lake_path[off_policy_mc_control]",
                             partial(lake_path, OffPolicyMCControl, 12, {"epsilon": 0.5, "sampling": "weighted"}),
                             *OPTIMAL_PATH)


def test_weighted_off_policy_control_finds_the_optimal_lake_path():
    check(OFF_POLICY_CONTROL)


def test_off_policy_control_needs_known_behaviour_probabilities():
    raw = {"name": "x", "algorithm": "off_policy_mc_control", "env": {"id": LAKE[0], "kwargs": LAKE[1]},
           "hparams": {"exploration": "ucb"}, "stop": {"iterations": 1}}
    with pytest.raises(SpecError, match="hparams.exploration"):
        jobs.parse_spec(raw)


def every_visit(seed: int) -> dict[str, float]:
    hp = MonteCarloPrediction.Hparams(gamma=0.9, alpha=None, visits="every", episodes_per_iteration=500)
    agent = MonteCarloPrediction(RunContext(*MAZE, 1, hp, seed))
    for _ in range(4):
        metrics = agent.train_iteration()
    return {"value_error": metrics["value_error"]}


# the uniform policy, 2000 episodes, the same bar as first-visit's (tests/learning/test_tabular_prediction.py)
EVERY_VISIT = learned("tabular_prediction[mc_every_visit]", every_visit, Bar("value_error", "<", 0.1))


def test_every_visit_prediction_converges_to_the_exact_values():
    check(EVERY_VISIT)
