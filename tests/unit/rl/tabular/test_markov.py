"""Markov chain and MRP objects: the closed form is the Bellman fixed point, the lecture's values, and
the mean of sampled returns."""

from __future__ import annotations

import numpy as np
import pytest

from trainfleet.rl.tabular.markov import MarkovChain, MarkovRewardProcess

# David Silver's student MRP (RL lecture 2, which the notes cite at L1228)
NAMES = ("C1", "C2", "C3", "Pass", "Pub", "FB", "Sleep")
P = np.array([
    [0, 0.5, 0, 0, 0, 0.5, 0],
    [0, 0, 0.8, 0, 0, 0, 0.2],
    [0, 0, 0, 0.6, 0.4, 0, 0],
    [0, 0, 0, 0, 0, 0, 1.0],
    [0.2, 0.4, 0.4, 0, 0, 0, 0],
    [0.1, 0, 0, 0, 0, 0.9, 0],
    [0, 0, 0, 0, 0, 0, 1.0],
])
R = np.array([-2, -2, -2, 10, 1, -1, 0])


def student(gamma: float) -> MarkovRewardProcess:
    return MarkovRewardProcess(MarkovChain(P, NAMES), R, gamma)


@pytest.mark.parametrize(("gamma", "lecture", "shown_to"), [
    (0.9, [-5.0, 0.9, 4.1, 10, 1.9, -7.6, 0], 0.05),
    (1.0, [-13, 1.5, 4.3, 10, 0.8, -23, 0], [0.5, 0.05, 0.05, 0.05, 0.05, 0.5, 0.05]),  # C1, FB shown as integers
])
def test_closed_form_gives_the_lectures_values(gamma, lecture, shown_to):
    """The slides' values, rounded as the slides round them."""
    v = student(gamma).values()
    assert (np.abs(v - lecture) <= shown_to).all(), np.round(v, 3).tolist()


@pytest.mark.parametrize("gamma", [0.5, 0.9, 1.0])
def test_closed_form_is_the_bellman_fixed_point(gamma):
    mrp = student(gamma)
    v = mrp.values()
    np.testing.assert_allclose(v, mrp.values_iterative(), atol=1e-9)
    np.testing.assert_allclose(v, np.where(mrp.chain.absorbing, 0, R + gamma * P @ v), atol=1e-12)


def test_closed_form_matches_the_mean_of_sampled_returns():
    """4000 returns from each state, gamma 0.9: every mean within 4 standard errors of v(s) (seeds 0-4: the
    worst state's gap is 0.5-1.8 standard errors)."""
    mrp, rng = student(0.9), np.random.default_rng(0)
    v = mrp.values()
    for s, name in enumerate(NAMES[:-1]):
        returns = np.array([mrp.sample_return(name, rng) for _ in range(4000)])
        se = returns.std() / np.sqrt(len(returns))
        assert abs(returns.mean() - v[s]) <= 4 * se + 1e-9, f"{name}: sampled {returns.mean():.3f} +- {se:.3f}, exact {v[s]:.3f}"


def test_sampled_paths_follow_the_chain():
    chain, rng = MarkovChain(P, NAMES), np.random.default_rng(1)
    path = chain.sample("Pass", rng)
    assert path == [3, 6]  # Pass -> Sleep, then absorbed
    firsts = [chain.sample("C2", rng)[1] for _ in range(5000)]
    assert abs(np.mean(np.array(firsts) == 2) - 0.8) < 0.02  # C2 -> C3 with probability 0.8


@pytest.mark.parametrize(("bad", "message"), [(P[:3], "square"), (P * 0.5, "probability"), (-P, "probability")])
def test_a_chain_needs_a_stochastic_matrix(bad, message):
    with pytest.raises(ValueError, match=message):
        MarkovChain(bad)


def test_an_mrp_checks_its_rewards_and_discount():
    chain = MarkovChain(P)
    with pytest.raises(ValueError, match="one reward per state"):
        MarkovRewardProcess(chain, R[:3], 0.9)
    with pytest.raises(ValueError, match="gamma"):
        MarkovRewardProcess(chain, R, 1.5)
    with pytest.raises(ValueError, match="absorbing"):
        MarkovRewardProcess(chain, R + 1, 0.9)
