"""The rollout worker pool: in-process and on Ray actors, sync/async, replacing dead workers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainfleet.rl.core.actor_critic import ActorCriticConfig
from trainfleet.rl.core.workers import EnvConfig, WorkerPool, env_spaces
from trainfleet.rl.deep.a3c import WorkerGradients

ENV = EnvConfig("CartPole-v1", {}, 3)


def always(action: int) -> dict[str, torch.Tensor]:
    """Weights of a policy that (practically) always picks `action`."""
    model = ActorCriticConfig()(*env_spaces(ENV))
    with torch.no_grad():
        model.head.logits.weight.zero_()
        model.head.logits.bias.copy_(torch.tensor([50.0, -50.0]) * (1 if action == 0 else -1))
    return model.state_dict()


@pytest.fixture(scope="module")
def actor_pool(ray_session):
    """One 2-actor pool for the whole module: starting actors is the slow part."""
    p = WorkerPool(ENV, ActorCriticConfig(), 2, seed=0, cpus_per_worker=0.5)
    yield p
    p.close()


@pytest.fixture(params=[0, 2], ids=["in-process", "2-actors"])
def pool(request):
    if request.param:
        yield request.getfixturevalue("actor_pool")
        return
    p = WorkerPool(ENV, ActorCriticConfig(), 0, seed=0)
    yield p
    p.close()


def test_sample_joins_workers_and_uses_broadcast_weights(pool):
    n = pool.num_envs
    assert n == 3 * max(1, pool.num_workers)
    v = pool.set_weights(always(1))
    ro = pool.sample(20)
    assert ro.obs.shape == (20, n, 4) and ro.actions.shape == (20, n)
    assert ro.policy_version == v
    assert (ro.actions[ro.valid] == 1).all()
    pool.set_weights(always(0))
    assert (pool.sample(5).actions == 0).all()


def test_async_results_come_back_per_worker_and_weights_go_to_one_worker(pool):
    pool.set_weights(always(1))
    task = WorkerGradients(gamma=0.99, gae_lambda=1.0, vf_coef=0.5, ent_coef=0.0, norm_adv=False)
    for w in range(len(pool.workers)):
        pool.submit(w, 8, task=task)
    done = [c for _ in pool.workers for c in pool.wait()]
    assert sorted(c.worker for c in done) == list(range(len(pool.workers)))
    grads, terms = done[0].output
    assert len(grads) == len(list(ActorCriticConfig()(*env_spaces(ENV)).parameters()))
    assert set(terms) == {"policy", "value", "entropy"}
    # fresh weights to worker 0 alone: its next rollout acts on them, the others still on the old ones
    old = pool.version
    pool.submit(0, 4, weights=always(0))
    for w in range(1, len(pool.workers)):
        pool.submit(w, 4)
    by_worker = {c.worker: c.rollout for _ in pool.workers for c in pool.wait()}
    assert by_worker[0].policy_version == old + 1 and (by_worker[0].actions == 0).all()
    for w in range(1, len(pool.workers)):
        assert by_worker[w].policy_version == old and (by_worker[w].actions == 1).all()


def test_map_runs_jobs_on_the_workers_and_answers_in_job_order(pool):
    # a lambda travels to the actors by value (a test module is not importable there)
    job = lambda worker, value: (value, worker.obs.shape[0])  # noqa: E731
    assert pool.map(job, [(v,) for v in range(5)]) == [(v, ENV.num_envs) for v in range(5)]


def test_streaming_poll_returns_nothing_until_rollouts_are_ready(actor_pool):
    pool = actor_pool
    pool.set_weights(always(1))
    assert pool.wait(timeout=0) == []
    pool.submit(0, 10)
    pool.submit(1, 10)
    got = pool.wait(num_returns=2)
    assert len(got) == 2
    tr = got[0].rollout.transitions()
    assert tr["obs"].shape[1:] == (4,) and len(tr["obs"]) == got[0].rollout.num_steps


def kill_and_wait(ray, actor) -> None:
    """Kill an actor and wait until it is dead: `ray.kill` is asynchronous, and a call sent right
    after it can still be answered by the dying actor, so the pool would see no failure."""
    ray.kill(actor)
    for _ in range(200):
        try:
            ray.get(actor.ping.remote(), timeout=5)
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
            return
    raise AssertionError("the killed actor kept answering")


def test_a_killed_worker_is_replaced_and_sampling_goes_on(actor_pool, ray_session, caplog):
    pool = actor_pool
    pool.set_weights(always(1))
    pool.sample(5)
    before = pool.restarts
    kill_and_wait(ray_session, pool.workers[0])
    ro = pool.sample(10)
    assert ro.obs.shape == (10, 6, 4)
    assert pool.restarts == before + 1
    assert (ro.actions[ro.valid] == 1).all()  # the replacement started from the latest weights
    assert "replacing it" in caplog.text
    ray_session.get([w.ping.remote() for w in pool.workers])


def test_a_worker_killed_just_before_a_checkpoint_is_replaced_in_it(actor_pool, ray_session):
    pool = actor_pool
    pool.sample(5)
    before = pool.restarts
    kill_and_wait(ray_session, pool.workers[1])
    state = pool.get_state()
    assert len(state["workers"]) == 2 and state["restarts"] == before + 1
    assert pool.sample(5).obs.shape == (5, 6, 4)  # the replacement samples on


def test_pool_state_round_trips_for_exact_resume():
    pool = WorkerPool(ENV, ActorCriticConfig(), 0, seed=5)
    pool.set_weights(always(1))
    pool.sample(7)
    state = pool.get_state()
    a = pool.sample(9)
    pool.set_state(state)
    b = pool.sample(9)
    np.testing.assert_array_equal(a.obs, b.obs)
    pool.close()
