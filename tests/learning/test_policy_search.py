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
