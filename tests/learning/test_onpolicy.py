"""On-policy algorithms learn CartPole-v1, called directly (no Ray); PPO resumes bit-for-bit.

A random policy averages ~22 on CartPole-v1; every algorithm here must reach a mean of 195
over its last 20 episodes within a modest env-step budget. Budgets and bars come from the spread
over seeds in benchmarks/results/learning_margins.md (tests/margins.py).
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest
import torch

from margins import Bar, check, describe, learned

from trainfleet.jobs import Resources
from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.core.checkpoint import load_state, save_state
from trainfleet.rl.deep.a2c import A2C
from trainfleet.rl.deep.a3c import A3C
from trainfleet.rl.deep.ppo import PPO
from trainfleet.rl.deep.reinforce import Reinforce
from trainfleet.rl.deep.trpo import TRPO

PPO_FAST = {"n_steps": 32, "minibatch_size": 512, "epochs": 5, "lr": 4.0e-3, "gamma": 0.98, "gae_lambda": 0.9}

CASES = {
    "reinforce": (Reinforce, 16, {"n_steps": 128, "lr": 5.0e-3, "value_lr": 5.0e-3}, 120_000),
    "a2c": (A2C, 8, {"n_steps": 8, "lr": 1.0e-3, "optimizer": "adam"}, 80_000),
    "a3c-in-process": (A3C, 8, {"n_steps": 8, "lr": 1.0e-3, "optimizer": "adam"}, 80_000),
    "ppo": (PPO, 16, PPO_FAST, 80_000),
    "trpo": (TRPO, 8, {"n_steps": 256, "max_kl": 0.02}, 80_000),
}


def build(cls, num_envs, hparams, seed=0, env_id="CartPole-v1"):
    hp = cls.Hparams(**{"episode_window": 20, **hparams})
    return cls(RunContext(env_id, {}, num_envs, hp, seed, Resources()))


def steps_to_195(name: str, seed: int) -> dict[str, float]:
    """Env steps until the 20-episode mean first reaches 195 (NaN if not within twice the budget)."""
    cls, num_envs, hparams, budget = CASES[name]
    torch.manual_seed(seed)
    algo = build(cls, num_envs, hparams, seed)
    best = -np.inf
    try:
        while True:
            m = algo.train_iteration()
            if not np.isnan(m["episode_return_mean"]):
                best = max(best, m["episode_return_mean"])
            if best >= 195 or m["env_steps"] >= 2 * budget:
                break
    finally:
        algo.close()
    return {"env_steps_to_195": float(m["env_steps"]) if best >= 195 else math.nan, "best_mean": best, "loss_policy": m.get("loss_policy", math.nan),
            "episodes": m.get("episodes", math.nan)}


CARTPOLE = {name: learned(f"onpolicy_cartpole[{name}]", partial(steps_to_195, name),
                          Bar("env_steps_to_195", "<=", budget)) for name, (*_, budget) in CASES.items()}


@pytest.mark.parametrize("name", list(CASES))
def test_learns_cartpole(name):
    result = check(CARTPOLE[name])
    assert np.isfinite(result["loss_policy"]) and result["episodes"] > 0, describe(result)


def pendulum_improvement(seed: int) -> dict[str, float]:
    """Diagonal Gaussian policy on Pendulum: first vs last training mean over 50 iterations of 1024 env
    steps (after 25 the improvement was still 165-273 across seeds and CPUs: learning had just begun)."""
    algo = build(PPO, 4, {"n_steps": 256, "minibatch_size": 256, "epochs": 10, "lr": 1.0e-3, "gamma": 0.9,
                          "normalize_obs": True, "normalize_reward": True, "value_clip": None},
                 seed, env_id="Pendulum-v1")
    try:
        first = math.nan
        for _ in range(50):
            m = algo.train_iteration()
            if math.isnan(first):
                first = m["episode_return_mean"]
        action = algo.act(np.zeros(3, np.float32))
    finally:
        algo.close()
    return {"improvement": m["episode_return_mean"] - first, "last_mean": m["episode_return_mean"],
            "action_dims": float(action.shape[0]), "action": float(action[0])}


PENDULUM = learned("onpolicy_ppo_pendulum", pendulum_improvement, Bar("improvement", ">", 400))


def test_ppo_learns_a_box_action_space():
    """The return improves well beyond a random policy's; actions stay in Pendulum's torque range."""
    result = check(PENDULUM)
    assert result["action_dims"] == 1 and -2.0 <= result["action"] <= 2.0, describe(result)


def test_ppo_resume_gives_the_same_next_iteration(tmp_path):
    hp = {**PPO_FAST, "normalize_obs": True, "normalize_reward": True}
    a = build(PPO, 4, hp, seed=7)
    for _ in range(3):
        a.train_iteration()
    save_state(tmp_path, a.get_state())
    expected = a.train_iteration()
    expected_weights = {k: v.clone() for k, v in a.model.state_dict().items()}
    a.close()

    b = build(PPO, 4, hp, seed=123)  # a different seed: everything must come from the checkpoint
    b.set_state(load_state(tmp_path))
    got = b.train_iteration()
    b.close()
    for key, value in expected.items():
        if not key.startswith("time_"):
            assert got[key] == pytest.approx(value, rel=0, abs=0, nan_ok=True), key
    for k, v in b.model.state_dict().items():
        torch.testing.assert_close(v, expected_weights[k], rtol=0, atol=0)
