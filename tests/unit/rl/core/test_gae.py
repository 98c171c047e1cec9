"""GAE and discounted returns against hand-computed values: termination vs truncation."""

from __future__ import annotations

import numpy as np
import pytest

from trainfleet.rl.core.rollout_buffer import Rollout, complete_episodes, discounted_returns, gae

G, LAM = 0.9, 0.8


def col(*xs):
    """A [T, 1] column (one env)."""
    return np.array(xs, dtype=np.float64)[:, None]


def flags(n, at=None):
    f = np.zeros((n, 1), dtype=bool)
    if at is not None:
        f[at] = True
    return f


def test_gae_without_episode_end_is_the_lambda_sum_of_td_errors():
    r, v, nv = col(1, 2, 3), col(0.5, 1.0, 1.5), col(1.0, 1.5, 2.0)
    adv, ret = gae(r, v, nv, flags(3), flags(3), G, LAM)
    d = [1 + G * 1.0 - 0.5, 2 + G * 1.5 - 1.0, 3 + G * 2.0 - 1.5]
    expect = [d[0] + G * LAM * (d[1] + G * LAM * d[2]), d[1] + G * LAM * d[2], d[2]]
    np.testing.assert_allclose(adv[:, 0], expect, rtol=1e-6)
    np.testing.assert_allclose(ret, adv + v, rtol=1e-6)


def test_termination_bootstraps_zero_and_cuts_the_sum():
    # episode ends (terminated) after step 1; step 2 belongs to the next episode
    r, v, nv = col(1, 1, 1), col(0.5, 0.5, 0.5), col(0.5, 7.0, 0.5)
    adv, _ = gae(r, v, nv, flags(3, 1), flags(3), G, LAM)
    d2 = 1 + G * 0.5 - 0.5
    d1 = 1 - 0.5  # V(final state) = 7 is ignored: a terminal state is worth 0
    d0 = 1 + G * 0.5 - 0.5
    np.testing.assert_allclose(adv[:, 0], [d0 + G * LAM * d1, d1, d2], rtol=1e-6)


def test_truncation_bootstraps_from_the_final_observation_value():
    r, v, nv = col(1, 1, 1), col(0.5, 0.5, 0.5), col(0.5, 7.0, 0.5)
    adv, _ = gae(r, v, nv, flags(3), flags(3, 1), G, LAM)
    d1 = 1 + G * 7.0 - 0.5  # a time limit is not a real end: V(final obs) = 7 counts
    d0 = 1 + G * 0.5 - 0.5
    np.testing.assert_allclose(adv[:2, 0], [d0 + G * LAM * d1, d1], rtol=1e-6)
    # ...but the advantage still does not flow back from the next episode
    adv_next_changed, _ = gae(col(1, 1, 100), v, nv, flags(3), flags(3, 1), G, LAM)
    np.testing.assert_allclose(adv_next_changed[:2], adv[:2])


def test_lambda_one_gives_monte_carlo_minus_value_and_zero_gives_td():
    r, v, nv = col(1, 2, 3), col(0.1, 0.2, 0.3), col(0.2, 0.3, 5.0)
    adv1, ret1 = gae(r, v, nv, flags(3), flags(3), G, 1.0)
    np.testing.assert_allclose(ret1[:, 0], [1 + G * 2 + G**2 * 3 + G**3 * 5, 2 + G * 3 + G**2 * 5, 3 + G * 5], rtol=1e-6)
    adv0, _ = gae(r, v, nv, flags(3), flags(3), G, 0.0)
    np.testing.assert_allclose(adv0[:, 0], (r + G * nv - v)[:, 0], rtol=1e-6)


def test_discounted_returns_cut_at_ends_and_bootstrap_truncations_and_tail():
    r = col(1, 1, 1, 1)
    term, trunc = flags(4, 1), flags(4)
    out = discounted_returns(r, term, trunc, G)
    np.testing.assert_allclose(out[:, 0], [1 + G, 1, 1 + G, 1], rtol=1e-6)
    boot = col(0, 0, 0, 10)
    out = discounted_returns(r, term, trunc, G, boot)
    np.testing.assert_allclose(out[:, 0], [1 + G, 1, 1 + G + G**2 * 10, 1 + G * 10], rtol=1e-6)
    trunc = flags(4, 0)
    out = discounted_returns(r, flags(4), trunc, G, col(3, 0, 0, 0))
    assert out[0, 0] == pytest.approx(1 + G * 3)


def test_complete_episodes_drops_the_unfinished_tail_and_reset_steps():
    t = 5
    term = np.zeros((t, 2), bool)
    term[1, 0] = True  # env 0 ends at step 1; env 1 never ends
    valid = np.ones((t, 2), bool)
    valid[2, 0] = False  # the reset step after the end
    ro = Rollout(obs=np.zeros((t, 2, 1)), actions=np.zeros((t, 2)), rewards=np.zeros((t, 2), np.float32),
                 terminated=term, truncated=np.zeros((t, 2), bool), valid=valid, next_obs=np.zeros((2, 1)))
    mask = complete_episodes(ro)
    assert mask[:, 0].tolist() == [True, True, False, False, False]
    assert not mask[:, 1].any()
