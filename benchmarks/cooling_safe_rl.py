"""Issue 14's evidence: the safe agent's cooling energy against the rule-based baseline on held-out days
and physics, with its inlet-limit violations and those of unconstrained PPO beside it.

Agents train from the shipped jobs (`jobs/rl/ppo_lagrangian_cooling.yaml`, `jobs/rl/ppo_cooling.yaml`:
one-day episodes, physics drawn per episode from the training ranges, seeds 0..) for `--env-steps`,
the algorithm classes driven directly (what a trial runs). Then every controller runs the same
`--days` held-out days (env seeds from 20,000, never used in training) greedily, twice:
- held-out days, training physics ranges;
- held-out days and held-out physics outside the training ranges: thermal mass 10,000 kJ/K per zone
  (trained 12,000-18,000), chiller efficiency 0.36 (0.40-0.50), IT load x1.10 (0.85-1.05).
"PPO-Lagrangian + shield" is the same trained agent with `env.kwargs.shield: true` at evaluation.

    python benchmarks/cooling_safe_rl.py [--seeds 0 1 2] [--env-steps 300000] [--days 14] [--procs 2]

Writes benchmarks/results/cooling_safe_rl.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch

from trainfleet import jobs, registry
from trainfleet.rl.cooling_assess import assess
from trainfleet.rl.cooling_baselines import PID, FixedSetpoints, RuleBased
from trainfleet.rl.core.algorithm import RunContext

ROOT = Path(__file__).resolve().parents[1]
ENV_ID = "trainfleet/DataCentreCooling-v0"
AGENTS = {"PPO-Lagrangian": "ppo_lagrangian_cooling.yaml", "PPO (unconstrained)": "ppo_cooling.yaml"}
TRAINING = {"thermal_mass": [12000.0, 18000.0], "chiller_efficiency": [0.40, 0.50], "load_scale": [0.85, 1.05]}
CONDITIONS = {
    "held-out days, training physics ranges": TRAINING,
    "held-out days and physics (outside the training ranges)": {"thermal_mass": 10000.0, "chiller_efficiency": 0.36,
                                                                "load_scale": 1.10},
}
EVAL_SEED = 20_000


def evaluate(act: Any, days: int, shield: bool = False, new_episode: Any = None) -> dict[str, dict[str, float]]:
    out = {}
    for condition, physics in CONDITIONS.items():
        t0 = time.perf_counter()
        report = assess(ENV_ID, {"days": 1, **physics, "shield": shield}, act, range(EVAL_SEED, EVAL_SEED + days),
                        new_episode)
        out[condition] = {**report.as_dict(), "wall_s": time.perf_counter() - t0}
    return out


def train_and_evaluate(agent: str, seed: int, env_steps: int, days: int) -> dict[str, Any]:
    torch.set_num_threads(1)
    spec, _ = jobs.load_job(str(ROOT / "jobs" / "rl" / AGENTS[agent]), {"seed": seed})
    algo = registry.algorithm(spec.algorithm, spec.backend).load()(RunContext.from_spec(spec))
    t0 = time.perf_counter()
    try:
        while True:
            m = algo.train_iteration()
            if m["env_steps"] >= env_steps:
                break
        train_s = time.perf_counter() - t0
        results = {agent: evaluate(algo.act, days)}
        if agent == "PPO-Lagrangian":
            results[f"{agent} + shield"] = evaluate(algo.act, days, shield=True)
    finally:
        algo.close()
    return {"seed": seed, "train_s": train_s, "train_cost": m.get("episode_cost_mean"),
            "lambda": m.get("lagrange_multiplier"), "results": results}


def baselines(days: int) -> dict[str, dict[str, dict[str, float]]]:
    out = {}
    for name, cls in (("rule-based", RuleBased), ("PID", PID), ("fixed setpoints", FixedSetpoints)):
        controller = cls(RunContext(ENV_ID, {"days": 1}, 1, cls.Hparams(), 0))
        out[name] = evaluate(controller.act, days, new_episode=controller.reset_controller)
        controller.close()
    return out


def row(name: str, seed: str, r: dict[str, float], rule: dict[str, float]) -> str:
    saved = 100.0 * (1.0 - r["cooling_kwh"] / rule["cooling_kwh"])
    return (f"| {name} | {seed} | {r['cooling_kwh']:,.0f} | {saved:+.1f} % | {r['pue']:.3f} | "
            f"{r['violation_minutes']:,.0f} | {r['violation_degree_minutes']:,.0f} | {r['max_inlet_c']:.1f} | "
            f"{r['shielded_steps']} | {r['wall_s']:.1f} |")


def write(path: Path, runs: list[dict[str, Any]], base: dict[str, Any], args: argparse.Namespace, load: str) -> None:
    lines = [
        "# Safe RL on the data-centre cooling plant: energy against the rule, violations beside it",
        "",
        f"`python benchmarks/cooling_safe_rl.py --seeds {' '.join(map(str, args.seeds))} --env-steps {args.env_steps} "
        f"--days {args.days}`; load average at the start {load} (2 vCPU shared with other work). Agents trained "
        f"{args.env_steps:,} env steps each (one-day episodes, training physics ranges {TRAINING}), then every "
        f"controller ran the same {args.days} held-out days (env seeds {EVAL_SEED}-{EVAL_SEED + args.days - 1}, not "
        "used in training) greedily. Violation minutes: 5-minute steps with any zone inlet above 27 C, x5. "
        "Saved: cooling kWh saved against the rule-based controller on the same days.",
        "",
    ]
    for condition in CONDITIONS:
        rule = base["rule-based"][condition]
        lines += [f"## {condition}", "", "| controller | seed | cooling kWh | saved vs rule | PUE | violation minutes | "
                  "degree-minutes over 27 C | hottest inlet C | shield overrides | eval wall s |", "|---|---|---|---|---|---|---|---|---|---|"]
        for name, res in base.items():
            lines.append(row(name, "-", res[condition], rule))
        for name in dict.fromkeys(n for run in runs for n in run["results"]):
            per_seed = [(run["seed"], run["results"][name][condition]) for run in runs if name in run["results"]]
            for seed, r in per_seed:
                lines.append(row(name, str(seed), r, rule))
            saved = [100.0 * (1.0 - r["cooling_kwh"] / rule["cooling_kwh"]) for _, r in per_seed]
            minutes = [r["violation_minutes"] for _, r in per_seed]
            lines.append(f"| **{name}**, mean of {len(per_seed)} seeds | | | **{statistics.mean(saved):+.1f} %** "
                         f"(min {min(saved):+.1f}, max {max(saved):+.1f}) | | **{statistics.mean(minutes):,.0f}** "
                         f"(max {max(minutes):,.0f}) | | | | |")
        lines.append("")
    lines += ["## Training", "", "| agent | seed | train s | last training episode cost (degree-minutes/day) | lambda |",
              "|---|---|---|---|---|"]
    for run in runs:
        agent = next(iter(run["results"]))
        lam = "-" if run["lambda"] is None else f"{run['lambda']:.3f}"
        lines.append(f"| {agent} | {run['seed']} | {run['train_s']:.0f} | {run['train_cost']:,.1f} | {lam} |")
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--env-steps", type=int, default=300_000)
    p.add_argument("--days", type=int, default=14)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "cooling_safe_rl.md"))
    args = p.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    with ProcessPoolExecutor(args.procs) as pool:
        futures = [pool.submit(train_and_evaluate, agent, seed, args.env_steps, args.days)
                   for seed in args.seeds for agent in AGENTS]
        base = baselines(args.days)
        runs = [f.result() for f in futures]
    runs.sort(key=lambda r: (list(AGENTS).index(next(iter(r["results"]))), r["seed"]))
    Path(args.out).with_suffix(".json").write_text(json.dumps({"runs": runs, "baselines": base}, indent=1))
    write(Path(args.out), runs, base, args, load)
    print(Path(args.out).read_text())


if __name__ == "__main__":
    main()
