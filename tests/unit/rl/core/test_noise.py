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


def _worker_noise(kwargs: dict) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """Noise a rollout worker's NoisyActor adds around a zeroed actor (mu(s) = 0) on Pendulum, in units
    of the half-range (2 N m), with the episode ends the worker reported and the OU state right after each."""
    import torch

    from trainfleet.rl.core.deterministic_actor_critic import noisy_actor_builder
    from trainfleet.rl.core.workers import EnvConfig, RolloutWorker

    worker = RolloutWorker(EnvConfig("Pendulum-v1", {}, 2), noisy_actor_builder([8]), seed=0)
    with torch.no_grad():
        for p in worker.policy.parameters():
            p.zero_()
    ended, after = [], []
    report = worker.policy.episodes_ended

    def spy(mask: np.ndarray) -> None:
        report(mask)
        ended.append(mask.copy())
        after.append(None if worker.policy.ou_x is None else worker.policy.ou_x.numpy().copy())

    worker.policy.episodes_ended = spy
    rollout = worker.sample(600, kwargs)
    worker.env.close()
    return rollout.actions[:, :, 0] / 2.0, ended, after


def test_rollout_workers_keep_ou_noise_correlated_and_restart_it_per_episode():
    """Remote DDPG exploration was Gaussian whatever the job said; workers now run the OU process."""
    ou, ended, after = _worker_noise({"ou": (0.2, 0.15, 1.0)})
    gaussian, _, _ = _worker_noise({"sigma": 0.2})
    first = ou[:200, 0]  # the first 200-step episode of env 0
    assert np.corrcoef(first[:-1], first[1:])[0, 1] > 0.6, "OU noise on the worker is not autocorrelated"
    assert abs(np.corrcoef(gaussian[:199, 0], gaussian[1:200, 0])[0, 1]) < 0.2
    assert len(ended) == 2 and all(m.all() for m in ended)  # Pendulum truncates both envs at steps 199 and 400
    assert all((x == 0).all() for x in after), "the OU state did not restart at an episode end"


def test_a_workers_ou_noise_resumes_from_its_checkpoint():
    """The OU process mid-episode is part of the worker's state: restored, the same actions follow."""
    import torch

    from trainfleet.rl.core.deterministic_actor_critic import noisy_actor_builder
    from trainfleet.rl.core.workers import EnvConfig, RolloutWorker

    kwargs = {"ou": (0.2, 0.15, 1.0)}
    worker = RolloutWorker(EnvConfig("Pendulum-v1", {}, 2), noisy_actor_builder([8]), seed=0)
    worker.sample(50, kwargs)
    state = worker.get_state()
    assert state["policy"]["ou_x"] is not None and torch.count_nonzero(state["policy"]["ou_x"]) > 0
    first = worker.sample(20, kwargs).actions
    restored = RolloutWorker(EnvConfig("Pendulum-v1", {}, 2), noisy_actor_builder([8]), seed=1)
    restored.set_weights(worker.policy.state_dict(), 0)
    restored.set_state(state)
    np.testing.assert_array_equal(restored.sample(20, kwargs).actions, first)
    worker.env.close()
    restored.env.close()
