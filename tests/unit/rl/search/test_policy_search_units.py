"""Policy search units: ES's estimator and shaping, the shared noise table, the population on the
worker pool (bytes per generation, a worker killed mid-generation), exact resume of all three."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainfleet.jobs import Resources
from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.core.checkpoint import load_state, save_state
from trainfleet.rl.core.workers import EnvConfig, RolloutWorker
from trainfleet.rl.search.cem import CEM
from trainfleet.rl.search.cma_es import CMAES
from trainfleet.rl.search.es import ES, antithetic_gradient, centered_ranks
from trainfleet.rl.search.policy import SearchPolicyConfig
from trainfleet.rl.search.population import NOISE_TABLE, Population, evaluate_population, noise_slices, run_episodes

SMALL = {"population_size": 10, "hidden": [4], "eval_episodes": 2}


def build(cls, workers=0, seed=3, num_envs=8, **hparams):
    res = Resources(rollout_workers=workers, cpus_per_worker=0.5)
    return cls(RunContext("CartPole-v1", {}, num_envs, cls.Hparams(**{**SMALL, **hparams}), seed, res))


# ---- ES: estimator and fitness shaping ----------------------------------------------------------
def test_antithetic_pairs_cancel_for_a_constant_fitness():
    eps = np.random.default_rng(0).standard_normal((25, 7))
    constant = np.full(50, 3.7)
    np.testing.assert_array_equal(antithetic_gradient(constant, eps), np.zeros(7))
    # ties share their rank, so shaping a constant fitness keeps it constant (zero), pairs still cancel
    np.testing.assert_array_equal(centered_ranks(constant), np.zeros(50))
    np.testing.assert_array_equal(antithetic_gradient(centered_ranks(constant), eps), np.zeros(7))
    # a fitness linear in the perturbation does not cancel: the estimate points along it
    direction = np.arange(7.0)
    signed = np.stack([eps @ direction, -(eps @ direction)], axis=1).ravel()
    assert antithetic_gradient(signed, eps) @ direction > 0


def test_rank_shaping_is_invariant_to_monotone_transforms():
    returns = np.random.default_rng(1).normal(50, 30, 40)
    returns[5] = returns[9]  # a tie
    shaped = centered_ranks(returns)
    for transform in (lambda r: 3 * r + 7, np.exp, lambda r: r**3, lambda r: np.arctan(r / 100)):
        np.testing.assert_allclose(centered_ranks(transform(returns)), shaped)
    assert shaped.min() == -0.5 and shaped.max() == 0.5 and abs(shaped.sum()) < 1e-12
    assert shaped[5] == shaped[9]
    assert shaped[np.argmax(returns)] == 0.5


# ---- the population on a worker -----------------------------------------------------------------
def test_noise_population_rows_are_centre_plus_signed_noise_slices():
    table = np.random.default_rng(0).standard_normal(1000).astype(np.float32)
    pop = Population(size=6, greedy=2, seed=11, antithetic=True)
    center = np.arange(5, dtype=np.float32)
    rows, index = pop.rows(np.arange(8), {"center": center, "std": np.float32(0.1)}, table)
    eps = noise_slices(table, pop.noise_indices(1000, 5), 5)
    np.testing.assert_allclose(rows[0:6:2], center + 0.1 * eps, rtol=1e-6)
    np.testing.assert_allclose(rows[1:6:2], center - 0.1 * eps, rtol=1e-6)
    np.testing.assert_array_equal(rows[6:], [center, center])  # the greedy episodes play the centre
    assert (index[0:6:2] == index[1:6:2]).all() and (index[6:] == -1).all()


def test_run_episodes_plays_every_row_once_even_with_fewer_envs_than_rows():
    worker = RolloutWorker(EnvConfig("CartPole-v1", {}, 3), SearchPolicyConfig(), seed=0)
    policy = worker.policy
    push_right = np.zeros(policy.dim, np.float32)
    push_right[-1] = 1.0  # bias of action 1: always push right, the pole falls within ~10 steps
    rows = np.stack([push_right] * 7)
    returns, lengths, (count, obs_sum, _) = run_episodes(worker.env, policy, rows, np.arange(7))
    assert (lengths > 0).all() and (lengths < 30).all() and (returns == lengths).all()  # reward 1 per step
    assert count == lengths.sum() and obs_sum.shape == (4,)
    # the batched per-row forward is the module's own forward when the row is its parameters
    obs = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    flat = np.random.default_rng(1).standard_normal(policy.dim).astype(np.float32)
    policy.set_flat(flat)
    batched = policy.act_population(obs, torch.from_numpy(np.stack([flat] * 5)))
    np.testing.assert_array_equal(batched, policy(torch.from_numpy(obs)).numpy())
    worker.close()


# ---- on Ray actors ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def es_on_actors(ray_session):
    """ES on two actor workers, built and run for 3 generations while counting `ray.put` calls
    (one fixture for the module: starting actors is the slow part)."""
    puts = []
    real_put = ray_session.put
    ray_session.put = lambda value, **kw: (puts.append(value), real_put(value, **kw))[1]
    try:
        algo = build(ES, workers=2, noise_table_size=100_000)
        for _ in range(3):
            algo.train_iteration()
    finally:
        ray_session.put = real_put
    yield algo, puts
    algo.close()


def test_noise_table_is_put_once_and_workers_read_slices_without_copying(es_on_actors):
    algo, puts = es_on_actors
    tables = [p for p in puts if isinstance(p, np.ndarray) and p.size == 100_000]
    assert len(tables) == 1, [type(p).__name__ for p in puts]
    assert len(puts) == 1 + 3  # the table, then one payload per generation

    def read_noise_slice(worker, start: int, dim: int) -> dict:
        """Runs on a rollout worker (defined here so that it travels by value): how it holds the table."""
        table = worker.shared[NOISE_TABLE]
        piece = table[start:start + dim]
        return {"writeable": table.flags.writeable, "owndata": table.flags.owndata,
                "slice_is_view": bool(np.shares_memory(piece, table)), "piece": piece.copy(), "size": table.size}

    for w in range(2):
        algo.pool.call(w, read_noise_slice, 500, 30)
    for seen in (c.output for c in algo.pool.wait(num_returns=2)):
        # a read-only view on the object store's shared memory, not a copy of its own
        assert not seen["writeable"] and not seen["owndata"] and seen["slice_is_view"], seen
        assert seen["size"] == 100_000
        np.testing.assert_array_equal(seen["piece"], algo.noise[500:530])


def test_bytes_sent_per_generation_do_not_grow_with_the_population(es_on_actors):
    algo, _ = es_on_actors
    center = algo.center().astype(np.float32)
    base = {"center": center, "obs_mean": np.zeros(4, np.float32), "obs_var": np.ones(4, np.float32)}

    def bytes_for(population, payload):
        before = algo.pool.bytes_sent
        evaluated = evaluate_population(algo.pool, population, payload)
        assert len(evaluated.returns) == population.total
        return algo.pool.bytes_sent - before

    noisy = {n: bytes_for(Population(n, 2, seed=1, antithetic=True), {**base, "std": np.float32(0.1)})
             for n in (10, 200)}
    assert 0 < noisy[200] <= noisy[10] + 16, noisy  # a few bytes for a larger integer at most
    # CMA-ES ships its explicit population, which does grow: 4 bytes per parameter per member
    rows = {n: np.zeros((n, algo.policy.dim), np.float32) + center for n in (10, 40)}
    explicit = {n: bytes_for(Population(n, 2, seed=1, noisy=False), {**base, "rows": rows[n]}) for n in (10, 40)}
    assert explicit[40] - explicit[10] >= 30 * 4 * algo.policy.dim, explicit


def test_a_worker_killed_mid_generation_loses_only_its_evaluations(ray_session, monkeypatch):
    """Its share is re-run on a replacement: the generation's returns equal an undisturbed run's."""
    undisturbed = build(ES, workers=2, seed=5)
    try:
        expected = [undisturbed.train_iteration() for _ in range(2)]
    finally:
        undisturbed.close()

    algo = build(ES, workers=2, seed=5)
    real_wait = algo.pool.wait

    def kill_then_wait(*args, **kwargs):
        if algo.generation == 1 and algo.pool.restarts == 0:  # both shares of generation 2 are in flight
            ray_session.kill(algo.pool.workers[0])
        return real_wait(*args, **kwargs)

    monkeypatch.setattr(algo.pool, "wait", kill_then_wait)
    try:
        got = [algo.train_iteration() for _ in range(2)]
    finally:
        algo.close()
    assert got[1]["worker_restarts"] == 1 and got[0]["worker_restarts"] == 0
    for key in ("population_return_mean", "population_return_max", "episode_return_mean", "env_steps"):
        assert [m[key] for m in got] == [m[key] for m in expected], key


# ---- checkpoints --------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [ES, CEM, CMAES], ids=["es", "cem", "cma_es"])
def test_resume_continues_exactly(cls, tmp_path):
    algo = build(cls)
    for _ in range(3):
        algo.train_iteration()
    save_state(tmp_path, algo.get_state())
    expected = [algo.train_iteration() for _ in range(3)]
    resumed = build(cls)
    resumed.set_state(load_state(tmp_path))
    got = [resumed.train_iteration() for _ in range(3)]
    for key in ("population_return_mean", "episode_return_mean", "noise_std", "env_steps"):
        assert [m[key] for m in got] == [m[key] for m in expected], key
    np.testing.assert_array_equal(resumed.center(), algo.center())
    obs = np.array([0.01, 0.2, -0.03, -0.3], dtype=np.float32)
    assert resumed.act(obs) == algo.act(obs)
    algo.close(), resumed.close()


def test_es_population_must_pair_up():
    with pytest.raises(ValueError, match="even"):
        ES.Hparams(population_size=11)
