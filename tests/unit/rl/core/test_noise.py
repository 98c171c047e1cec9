"""Exploration noise: OU is mean-reverting and temporally correlated, resets per env; Gaussian is iid."""

from __future__ import annotations

import numpy as np

from trainfleet.rl.core.noise import GaussianNoise, NoiseHparams, OrnsteinUhlenbeckNoise, make_noise


def test_ou_noise_is_correlated_with_the_stationary_spread_and_resets_per_env():
    ou = OrnsteinUhlenbeckNoise(sigma=0.2, theta=0.15, dt=1.0, shape=(2, 1), rng=np.random.default_rng(0))
    xs = np.array([ou.sample()[:, 0] for _ in range(20_000)])
    lag1 = np.corrcoef(xs[:-1, 0], xs[1:, 0])[0, 1]
    assert abs(lag1 - (1 - 0.15)) < 0.02  # x_{t+1} = (1 - theta dt) x_t + noise
    assert abs(xs[:, 0].std() - 0.2 / np.sqrt(1 - 0.85**2)) < 0.03  # stationary std of the AR(1)
    ou.reset(np.array([True, False]))
    assert ou.x[0, 0] == 0.0 and ou.x[1, 0] != 0.0


def test_gaussian_noise_is_independent_with_std_sigma():
    g = make_noise(NoiseHparams(kind="gaussian", sigma=0.3), (4, 2), np.random.default_rng(1))
    assert isinstance(g, GaussianNoise)
    xs = np.array([g.sample() for _ in range(5000)])
    assert xs.shape == (5000, 4, 2) and abs(xs.std() - 0.3) < 0.01
    assert abs(np.corrcoef(xs[:-1, 0, 0], xs[1:, 0, 0])[0, 1]) < 0.05
