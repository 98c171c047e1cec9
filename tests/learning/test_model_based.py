"""Model-based RL learns from few env steps: PETS swings Pendulum-v1 up, the notes' SimpleMBRL
balances CartPole-v1. Both run the shipped job files' settings (jobs/rl/*.yaml).

PETS plans with Pendulum's reward as known (as in Chua et al. 2018) and a learned ensemble;
SimpleMBRL learns the reward and is given CartPole's termination rule (jobs/rl/simple_mbrl_cartpole.yaml).
Spreads over seeds (2026-12-02, load 3-5 from other engineers' jobs) are in each measure's docstring.
"""

from __future__ import annotations

import math

import numpy as np
import yaml
from conftest import JOBS
from margins import Bar, check, describe, learned
from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.core.evaluate import evaluate_policy
from trainfleet.rl.model_based.mbpo import MBPO
from trainfleet.rl.model_based.mpc import MPC


def mpc_until(job: str, level: float, max_steps: int, max_episodes: int, seed: int) -> dict[str, float]:
    """Run the job's settings until the 5-episode mean return reaches `level`; env steps and episodes it took."""
    spec = yaml.safe_load((JOBS / "rl" / job).read_text())
    algo = MPC(RunContext(spec["env"]["id"], {}, 1, MPC.Hparams.model_validate(spec["hparams"]), seed=seed))
    reached = False
    try:
        while algo.env_steps < max_steps and algo.window.episodes < max_episodes:
            m = algo.train_iteration()
            reached = len(algo.window.returns) == 5 and algo.window.return_mean() >= level
            if reached:
                break
    finally:
        algo.close()
    return {"env_steps_to_bar": float(algo.env_steps) if reached else math.nan,
            "episodes_to_bar": float(algo.window.episodes) if reached else math.nan,
            "last_mean": algo.window.return_mean(), "model_error_1": m.get("model_error_1", math.nan),
            "model_error_5": m.get("model_error_5", math.nan)}


def pets_pendulum(seed: int) -> dict[str, float]:
    """The 5-episode mean of PETS's own (planned) episodes: seeds 0-2 reached -250 after 1,400-1,600 env
    steps (7-8 episodes, 1 random), 40-100 ms an env step under load 3-7: the 5,000 bar is the issue's target."""
    return mpc_until("pets_pendulum.yaml", -250.0, 5000, 25, seed)


def simple_mbrl_cartpole(seed: int) -> dict[str, float]:
    """The 5-episode mean of the planned episodes: seeds 0-3 reached 195 after 7-10 episodes
    (1,300-1,500 env steps); the bar is the issue's 30 episodes."""
    return mpc_until("simple_mbrl_cartpole.yaml", 195.0, 20_000, 30, seed)


PETS = learned("mpc_pets_pendulum", pets_pendulum, Bar("env_steps_to_bar", "<=", 5000))
SIMPLE_MBRL = learned("mpc_simple_mbrl_cartpole", simple_mbrl_cartpole, Bar("episodes_to_bar", "<=", 30))


def test_pets_swings_pendulum_up_within_5000_env_steps():
    result = check(PETS)
    assert result["model_error_1"] < result["model_error_5"], f"k-step error should exceed one-step: {result!r}"


def test_simple_mbrl_balances_cartpole_within_30_episodes():
    check(SIMPLE_MBRL)


def mbpo_pendulum(seed: int) -> dict[str, float]:
    """The shipped MBPO job until its 3-episode training mean reaches -250 (at most 5,000 env steps);
    then the greedy policy over 5 episodes. Seeds 0-1 reached it after 2,000 and 3,000 env steps
    (greedy -123, -122); about 2 minutes under load 12, 5 SAC updates per env step."""
    spec = yaml.safe_load((JOBS / "rl" / "mbpo_pendulum.yaml").read_text())
    algo = MBPO(RunContext("Pendulum-v1", {}, 1, MBPO.Hparams.model_validate(spec["hparams"]), seed=seed))
    reached = math.nan
    try:
        while algo.env_steps < 5000:
            m = algo.train_iteration()
            if len(algo.tracker.window.returns) == 3 and m["episode_return_mean"] >= -250:
                reached = float(m["env_steps"])
                break
        greedy, _ = evaluate_policy("Pendulum-v1", {}, algo.act, episodes=5)
    finally:
        algo.close()
    return {"env_steps_to_bar": reached, "greedy_mean": float(np.mean(greedy)),
            "model_buffer_size": float(m["model_buffer_size"])}


MBPO_PENDULUM = learned("mbpo_pendulum", mbpo_pendulum, Bar("env_steps_to_bar", "<=", 5000), Bar("greedy_mean", ">=", -250))


def test_mbpo_swings_pendulum_up_from_imagined_data():
    result = check(MBPO_PENDULUM)
    # SAC learned mostly from the model: far more imagined transitions than real env steps
    assert result["model_buffer_size"] > 2 * result["env_steps_to_bar"], describe(result)
