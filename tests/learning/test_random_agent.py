"""The random agent: the uniform policy's CartPole return, no improvement, any action space, exact resume."""

from __future__ import annotations

import numpy as np
import pytest

from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.random_agent import RandomAgent


def _agent(env_id: str, seed: int, **hp) -> RandomAgent:
    return RandomAgent(RunContext(env_id, {}, 4, RandomAgent.Hparams(**hp), seed))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cartpole_return_is_a_random_policys_and_never_improves(seed):
    """A uniform policy lasts ~22 steps on CartPole-v1. Seeds 0-5, 12 iterations of 1024 steps: the
    100-episode means lie in 19.6-26.2 and average 21.2-23.1; the last four minus the first four: -0.5 to +2.1
    (a learner doubles its return in this budget)."""
    agent = _agent("CartPole-v1", seed, steps_per_iteration=1024)
    means = [agent.train_iteration()["episode_return_mean"] for _ in range(12)]
    agent.close()
    shown = np.round(means, 2).tolist()
    assert 20.0 <= np.mean(means) <= 25.0 and max(means) < 30.0, f"iteration means {shown}"
    assert np.mean(means[-4:]) < np.mean(means[:4]) + 4.0, f"iteration means {shown}"


def test_box_actions_are_uniform_within_the_bounds():
    agent = _agent("Pendulum-v1", 0)
    actions = np.array([agent.act(None) for _ in range(2000)])
    agent.close()
    assert actions.min() >= -2.0 and actions.max() <= 2.0
    assert abs(actions.mean()) < 0.15 and abs(actions.std() - 4 / np.sqrt(12)) < 0.1, (actions.mean(), actions.std())


def test_state_resumes_exactly():
    a = _agent("CartPole-v1", 3, steps_per_iteration=300)
    a.train_iteration()
    b = _agent("CartPole-v1", 99, steps_per_iteration=300)
    b.set_state(a.get_state())
    assert a.train_iteration() == b.train_iteration()
    a.close(), b.close()
