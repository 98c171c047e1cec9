"""PPO-Lagrangian learns to keep the cooling plant's inlets under 27 C (issue 14's safe RL).

The untrained Gaussian policy overheats the zones by ~10,000 degree-minutes a day. Within 15
iterations (35k env steps, days of randomised IT load and weather) the multiplier rises to ~0.34 and
the training episodes' cost falls >350-fold; the greedy policy then runs a held-out day without a
minute over the limit. Measured on seeds 0-4 (loaded 2-core box, 25-50 s each):
  first/last training cost 11125/27.5, 9797/26.0, 10630/25.6, 10521/14.9, 10367/16.4 (ratio <= 0.0028);
  lambda 0.334-0.342; greedy violation minutes 0 on all five; cooling vs the rule on that day
  +13.1, +1.1, -3.0, +11.4, +2.4 % saved (too early to assert: the energy case is in
  benchmarks/results/cooling_safe_rl.md).
Unconstrained PPO (jobs/rl/ppo_cooling.yaml) is at ~47,000 degree-minutes a day after 16 iterations.
"""

from __future__ import annotations

import math

import torch
from margins import Bar, check, learned

from trainfleet.rl.cooling_assess import assess
from trainfleet.rl.cooling_baselines import RuleHparams, rule_setpoints
from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.deep.ppo_lagrangian import PPOLagrangian
from trainfleet.rl.envs.data_centre import to_action

ENV_ID = "trainfleet/DataCentreCooling-v0"
HPARAMS = {"n_steps": 288, "minibatch_size": 576, "epochs": 10, "lr": 1.0e-3, "gamma": 0.95, "gae_lambda": 0.9,
           "normalize_obs": True, "normalize_reward": True, "value_clip": None, "episode_window": 8}


def constrained_cooling(seed: int) -> dict[str, float]:
    torch.manual_seed(seed)
    algo = PPOLagrangian(RunContext(ENV_ID, {"days": 1}, 8, PPOLagrangian.Hparams(**HPARAMS), seed))
    try:
        costs = [algo.train_iteration() for _ in range(15)]
        held_out = [10_000 + seed]
        agent = assess(ENV_ID, {"days": 1}, algo.act, held_out)
    finally:
        algo.close()
    rule = assess(ENV_ID, {"days": 1}, lambda obs: to_action(*rule_setpoints(obs, RuleHparams())), held_out)
    first, last = costs[1]["episode_cost_mean"], costs[-1]["episode_cost_mean"]
    return {"first_cost": first, "last_cost": last, "cost_ratio": last / first if first > 0 else math.nan,
            "lagrange_multiplier": costs[-1]["lagrange_multiplier"],
            "greedy_violation_minutes": agent.violation_minutes, "saving_vs_rule_pct": agent.saving_vs(rule)}


CONSTRAINED = learned("safe_cooling[ppo_lagrangian]", constrained_cooling,
                      Bar("first_cost", ">", 2000.0), Bar("cost_ratio", "<", 0.02),
                      Bar("lagrange_multiplier", ">", 0.1), Bar("greedy_violation_minutes", "<=", 60.0))


def test_ppo_lagrangian_learns_to_stop_overheating_the_zones():
    check(CONSTRAINED)
