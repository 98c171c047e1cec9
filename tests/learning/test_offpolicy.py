"""Off-policy learning: plain DQN learns CartPole-v1 (a 20-episode mean of 150), double + dueling + PER
solves it to the classic 195 bar, the shipped DQN job's 100-episode training mean passes 200; DDPG
and TD3 swing Pendulum-v1 up (random torques score about -1200).

Each test calls the algorithm class directly and stops as soon as the running mean return of the
recent episodes crosses the bar; budgets come from the spread over seeds in
benchmarks/results/learning_margins.md (tests/margins.py).
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest
import yaml

from conftest import JOBS
from margins import Bar, check, describe, learned
from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.core.evaluate import evaluate_policy
from trainfleet.rl.deep.ddpg import DDPG
from trainfleet.rl.deep.dqn import DQN
from trainfleet.rl.deep.td3 import TD3


def steps_to(algo, threshold: float, max_iterations: int) -> dict[str, float]:
    """Iterate until episode_return_mean >= threshold (at most `max_iterations`): the env steps it took
    (NaN when it never did) and the best mean seen."""
    best = -math.inf
    for _ in range(max_iterations):
        m = algo.train_iteration()
        best = max(best, m["episode_return_mean"]) if not math.isnan(m["episode_return_mean"]) else best
        if m["episode_return_mean"] >= threshold:
            break
    return {"env_steps_to_bar": float(m["env_steps"]) if best >= threshold else math.nan, "best_mean": best}


# A small net updated every 4 env steps, constant learning rate. Plain DQN's 20-episode mean reaches 150
# after 12k-33k env steps on every seed, but 195 only on 3 of 5 within 50k (107k on one, never on another:
# best 168 in 200k, the unlearning the DQN job's decaying rate prevents); with all three switches (wider
# net for the two dueling streams) every seed reaches 195 after 11k-32k. Budgets are about twice the
# slowest seed of benchmarks/results/learning_margins.md.
CARTPOLE = dict(lr=1e-3, batch_size=64, buffer_size=50_000, learning_starts=1000, train_freq=4, gradient_steps=1,
                target_update_interval=250, epsilon={"start": 1.0, "end": 0.05, "steps": 10_000}, hidden=[64, 64],
                steps_per_iteration=1000, episode_window=20)
ALL_SWITCHES = dict(hidden=[128, 128], double=True, dueling=True, prioritized=True,
                    per_beta={"start": 0.4, "end": 1.0, "steps": 20_000})


def dqn_cartpole(level: float, budget: int, switches: dict, seed: int) -> dict[str, float]:
    algo = DQN(RunContext("CartPole-v1", {}, 1, DQN.Hparams.model_validate({**CARTPOLE, **switches}), seed=seed))
    try:
        result = steps_to(algo, level, 2 * budget // CARTPOLE["steps_per_iteration"])
    finally:
        algo.close()
    return {**result, "max_priority": float(algo.replay.max_priority) if switches.get("prioritized") else math.nan}


DQN_PLAIN = learned("offpolicy_dqn_cartpole", partial(dqn_cartpole, 150.0, 70_000, {}),
                    Bar("env_steps_to_bar", "<=", 70_000))
DQN_ALL = learned("offpolicy_double_dueling_per_dqn_cartpole", partial(dqn_cartpole, 195.0, 60_000, ALL_SWITCHES),
                  Bar("env_steps_to_bar", "<=", 60_000))


def test_dqn_learns_cartpole():
    check(DQN_PLAIN)


def test_double_dueling_prioritized_dqn_solves_cartpole():
    result = check(DQN_ALL)
    assert result["max_priority"] > 1.0, describe(result)  # priorities came from TD errors, not the initial 1


JOB = yaml.safe_load((JOBS / "rl" / "dqn_cartpole.yaml").read_text())
JOB_LEVEL, JOB_BUDGET = 200.0, 200_000  # seeds reach 200 after 68k-103k env steps


def dqn_job_learns(seed: int) -> dict[str, float]:
    """The shipped job (the one benchmarks/dqn_cartpole.py times) until its 100-episode training mean,
    epsilon-greedy included, first reaches 200 (at most twice the budget); then its greedy policy.

    Not the job's own stop rule (a 100-episode mean of 475): that took 111k-220k env steps on five
    seeds here, never came on a sixth, and stopped at 370 on another CPU, so it is a benchmark claim
    with its spread (benchmarks/results/dqn_cartpole.md), not a test that must hold on every CPU."""
    hp = DQN.Hparams.model_validate(JOB["hparams"])
    algo = DQN(RunContext("CartPole-v1", {}, JOB["env"]["num_envs"], hp, seed=seed))
    window = algo.tracker.window

    def reached() -> bool:
        return len(window.returns) == 100 and window.return_mean() >= JOB_LEVEL

    try:
        while algo.env_steps < 2 * JOB_BUDGET and not reached():
            algo.train_iteration()
        greedy, _ = evaluate_policy("CartPole-v1", {}, algo.act, episodes=5)
    finally:
        algo.close()
    return {"env_steps_to_200": float(algo.env_steps) if reached() else math.nan,
            "last_mean": window.return_mean(), "greedy_mean": float(np.mean(greedy))}


DQN_JOB = learned("offpolicy_dqn_cartpole_job", dqn_job_learns, Bar("env_steps_to_200", "<=", JOB_BUDGET))


def test_dqn_cartpole_job_learns_cartpole():
    check(DQN_JOB)


PENDULUM = dict(lr=1e-3, gamma=0.98, batch_size=128, buffer_size=20_000, learning_starts=1000, hidden=[128, 128],
                steps_per_iteration=1000, episode_window=10)
PENDULUM_BUDGET = 15_000
SWING_UP = {"ddpg": (DDPG, {"noise": {"kind": "ou", "sigma": 0.2}}), "td3": (TD3, {})}


def swing_up(name: str, seed: int) -> dict[str, float]:
    """Env steps until the 10-episode mean reaches -400 (random torques score about -1200), then, after
    3 more iterations, the deterministic policy (what `trainfleet eval` runs) over 5 episodes. Right at
    the crossing it still failed to swing up from 3 of 5 starts on one seed (mean -773); 3k env steps
    later every start of the two worst seeds scored about -120."""
    cls, extra = SWING_UP[name]
    algo = cls(RunContext("Pendulum-v1", {}, 1, cls.Hparams.model_validate({**PENDULUM, **extra}), seed=seed))
    try:
        result = steps_to(algo, -400.0, 2 * PENDULUM_BUDGET // PENDULUM["steps_per_iteration"])
        for _ in range(3):
            algo.train_iteration()
        greedy, _ = evaluate_policy("Pendulum-v1", {}, algo.act, episodes=5)
    finally:
        algo.close()
    return {**result, "greedy_mean": float(np.mean(greedy))}


PENDULUM_CASES = {name: learned(f"offpolicy_swing_up[{name}]", partial(swing_up, name),
                                Bar("env_steps_to_bar", "<=", PENDULUM_BUDGET), Bar("greedy_mean", ">=", -400))
                  for name in SWING_UP}


@pytest.mark.parametrize("name", list(SWING_UP))
def test_actor_critic_swings_pendulum_up(name):
    check(PENDULUM_CASES[name])
