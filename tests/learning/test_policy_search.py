"""Policy search learns: CEM, ES and CMA-ES bring the greedy (centre) policy to 475 on CartPole-v1.

Called directly, in process, with the shipped job's settings and seed 0. Over seeds 0-5 (2-core box)
generations to a greedy 5-episode mean of 475: ES 6-20 (20k-154k env steps), CEM 5-15 (21k-68k),
CMA-ES 3-15 (7k-40k); the budgets below are 2.5x the slowest seed. A random linear policy scores
~10-50.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from conftest import JOBS
from trainfleet import registry
from trainfleet.jobs import Resources
from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.core.evaluate import evaluate_policy

BUDGET_GENERATIONS = {"es": 50, "cem": 40, "cma_es": 40}


@pytest.mark.parametrize("name", list(BUDGET_GENERATIONS))
def test_reaches_a_greedy_475_on_cartpole(name):
    job = yaml.safe_load((JOBS / "rl" / f"{name}_cartpole.yaml").read_text())
    cls = registry.algorithm(name).load()
    algo = cls(RunContext("CartPole-v1", {}, job["env"]["num_envs"], cls.Hparams.model_validate(job["hparams"]),
                          seed=0, resources=Resources()))
    curve = []
    try:
        for _ in range(BUDGET_GENERATIONS[name]):
            m = algo.train_iteration()
            curve.append(round(m["episode_return_mean"]))
            if m["episode_return_mean"] >= 475:
                break
        assert curve[-1] >= 475, curve
        assert m["population_return_max"] >= m["population_return_mean"] and m["noise_std"] > 0
        returns, _ = evaluate_policy("CartPole-v1", {}, algo.act, episodes=5)  # fresh starts, `trainfleet eval`'s way
        assert np.mean(returns) >= 195, returns
    finally:
        algo.close()


def pendulum_greedy_return(name: str, generations: int, seed: int = 0) -> float:
    """Train `name` with its shipped Pendulum job, then the greedy policy's mean over 10 fresh episodes."""
    job = yaml.safe_load((JOBS / "rl" / f"{name}_pendulum.yaml").read_text())
    cls = registry.algorithm(name).load()
    algo = cls(RunContext("Pendulum-v1", {}, job["env"]["num_envs"], cls.Hparams.model_validate(job["hparams"]),
                          seed=seed, resources=Resources()))
    try:
        for _ in range(generations):
            algo.train_iteration()
        returns, _ = evaluate_policy("Pendulum-v1", {}, algo.act, episodes=10)
        return float(np.mean(returns))
    finally:
        algo.close()


# What random policies reach on Pendulum-v1 (10 fresh episodes each): uniform random torques -1209 (50
# episodes), zero torque -1066, the untrained centre about -1200, and the best of 120 random parameter
# vectors of the [8] tanh MLP (std 0.3, 1 and 3; 40 each) -1036.
RANDOM_BEST = -1036
THRESHOLD = -950


def test_cma_es_swings_pendulum_up():
    """CMA-ES with the shipped Pendulum job: 120 generations (840k env steps, ~10 s here), then the
    greedy policy on 10 fresh episodes. Seeds 0-5 scored -115, -140, -114, -125, -680, -510."""
    assert pendulum_greedy_return("cma_es", 120) >= -850


def test_es_improves_pendulum_beyond_any_random_policy():
    """ES with the shipped Pendulum job: 120 generations (840k env steps, ~15 s of CPU), then the greedy
    policy on 10 fresh episodes. Seeds 0-4 scored -880, -796, -785, -871, -431 (2-core box); the bar sits
    below every seed and above the best random policy. ES does not swing the pendulum up at this budget
    (see the job file); it improves it beyond what any random policy reached."""
    greedy = pendulum_greedy_return("es", 120)
    assert greedy >= THRESHOLD, f"greedy {greedy}, best random policy {RANDOM_BEST}"
