"""PPO-Lagrangian's parts: the multiplier's dual ascent, the penalised advantage, costs in rollouts, state."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from trainfleet.errors import SpecError
from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.core.lagrangian import LagrangeMultiplier, penalised_advantages
from trainfleet.rl.deep.ppo import PPO
from trainfleet.rl.deep.ppo_lagrangian import PPOLagrangian

ENV_ID = "trainfleet/DataCentreCooling-v0"
TINY = {"n_steps": 40, "minibatch_size": 64, "epochs": 2, "episode_window": 4}


def build(cls=PPOLagrangian, seed: int = 0, env_id: str = ENV_ID, kwargs=None, **hparams):
    hp = cls.Hparams(**{**TINY, **hparams})
    return cls(RunContext(env_id, {"days": 1} if kwargs is None else kwargs, 2, hp, seed))


def test_multiplier_rises_while_over_the_limit_and_falls_to_zero_below_it():
    lam = LagrangeMultiplier(init=0.0, lr=0.1, limit=5.0)
    rising = [lam.update(50.0) for _ in range(10)]
    assert all(b > a for a, b in zip(rising, rising[1:])) and rising[-1] > 0.5, rising
    for _ in range(200):
        lam.update(0.0)
    assert lam.value == 0.0, "lambda must stop at 0, never go negative"
    state = copy.deepcopy(lam.get_state())  # the optimiser's state dict shares live tensors
    other = LagrangeMultiplier(init=3.0, lr=0.1, limit=5.0)
    other.set_state(state)
    assert other.update(50.0) == lam.update(50.0)


def test_penalised_advantage_weighs_cost_by_lambda():
    reward_adv, cost_adv = torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([0.0, 0.0, 10.0, 0.0])
    free = penalised_advantages(reward_adv, cost_adv, 0.0)
    assert torch.allclose(free, (reward_adv - 2.5) / reward_adv.std(), atol=1e-5), "lambda 0 is PPO's advantage"
    priced = penalised_advantages(reward_adv, cost_adv, 1.0)
    assert priced.argmin() == 2, f"the costly step should become the worst: {priced}"
    assert abs(float(penalised_advantages(reward_adv, cost_adv, 1e6)[2]) + 7.5) < 1e-3, "lambda -> inf: -centred cost"


def test_rollouts_carry_the_env_costs_and_episode_sums():
    algo = build(n_steps=300)  # more than one 288-step day: every env finishes an episode
    try:
        rollout = algo.collect()
    finally:
        algo.close()
    assert rollout.costs is not None and rollout.costs.shape == rollout.rewards.shape
    assert np.all(rollout.costs[~rollout.valid] == 0.0) and np.all(rollout.costs >= 0.0)
    assert len(rollout.episode_costs) == 2, rollout.episode_costs
    for n, cost in enumerate(rollout.episode_costs):  # both episodes started with the rollout
        ended = int(np.argmax(rollout.truncated[:, n]))
        assert cost == pytest.approx(float(rollout.costs[: ended + 1, n].sum()), rel=1e-4)


def test_plain_ppo_reports_the_episode_cost_too_and_cartpole_has_none():
    ppo = build(PPO, n_steps=300)
    cartpole = build(PPO, env_id="CartPole-v1", kwargs={}, n_steps=300)
    try:
        assert ppo.train_iteration()["episode_cost_mean"] > 0.0, "an untrained policy overheats the zones"
        assert "episode_cost_mean" not in cartpole.train_iteration()
    finally:
        ppo.close(), cartpole.close()


def test_rejects_an_env_without_costs():
    with pytest.raises(SpecError, match="constraint_cost"):
        PPOLagrangian.check_env("CartPole-v1", {})


def test_metrics_and_state_round_trip_continue_exactly():
    a = build(seed=3, n_steps=300)
    try:
        first = a.train_iteration()
        assert first["lagrange_multiplier"] > 0.0 and np.isfinite(first["loss_cost_value"]), first
        state = copy.deepcopy(a.get_state())  # get_state shares the live CPU tensors
        expected = a.train_iteration()
    finally:
        a.close()
    b = build(seed=99, n_steps=300)
    try:
        b.set_state(state)
        got = b.train_iteration()
    finally:
        b.close()
    timing = {k for k in expected if k.startswith("time_")}
    assert {k: v for k, v in got.items() if k not in timing} == {k: v for k, v in expected.items() if k not in timing}
