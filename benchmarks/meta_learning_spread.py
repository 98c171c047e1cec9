"""The spread over seeds behind the meta-RL learning tests' budgets and margins.

    python benchmarks/meta_learning_spread.py [--seeds 0 1 2 3 4] [--part maml|rl2|both]

Runs exactly the settings of tests/learning/test_meta.py for each seed (one process, one seed at a
time) and writes benchmarks/results/meta_learning_spread.md: per seed, the held-out returns the
tests assert on, and the worst margin over seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "learning"))
from test_meta import (  # noqa: E402  (the tests' own settings: one source of truth)
    MAML_HP, MAML_ITERATIONS, NAV, RL2_ITERATIONS, rl2_against_ucb1, trained,
)

from trainfleet.rl.meta.maml import MAML  # noqa: E402

OUT = ROOT / "benchmarks" / "results"


def maml_row(seed: int) -> dict[str, float]:
    t0 = time.perf_counter()
    maml = trained(MAML, NAV, MAML_HP, MAML_ITERATIONS, seed)
    pretrained = trained(MAML, NAV, {**MAML_HP, "inner_steps": 0}, MAML_ITERATIONS, seed)
    scratch = trained(MAML, NAV, MAML_HP, 0, seed)
    one = "episode_return_mean_adapt_1"
    return {"seed": seed, "pre": maml["episode_return_mean"], "maml_1": maml[one],
            "maml_5": maml["episode_return_mean_adapt_5"], "pretrained_1": pretrained[one], "scratch_1": scratch[one],
            "seconds": time.perf_counter() - t0}


def rl2_row(seed: int) -> dict[str, float]:
    t0 = time.perf_counter()
    return {"seed": seed, **rl2_against_ucb1(seed), "seconds": time.perf_counter() - t0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--part", choices=["maml", "rl2", "both"], default="both")
    args = parser.parse_args()
    rows_file = OUT / "meta_learning_spread.json"
    rows = json.loads(rows_file.read_text()) if rows_file.exists() else {"maml": [], "rl2": []}
    for part, fn in (("maml", maml_row), ("rl2", rl2_row)):
        if args.part not in (part, "both"):
            continue
        rows[part] = [r for r in rows[part] if r["seed"] not in args.seeds]
        for seed in args.seeds:
            rows[part].append(fn(seed))
            print(part, rows[part][-1], flush=True)
        rows[part].sort(key=lambda r: r["seed"])
    rows_file.write_text(json.dumps(rows, indent=1))
    write_report(rows)


def write_report(rows: dict[str, list[dict[str, float]]]) -> None:
    lines = ["# Meta-RL learning tests: spread over seeds", "",
             f"Settings of `tests/learning/test_meta.py`, one seed at a time on the shared 2-core box "
             f"(load average {os.getloadavg()[0]:.1f} at the end; seconds are wall time under that load).", ""]
    if rows["maml"]:
        lines += [f"## MAML, 2D navigation ({MAML_ITERATIONS} meta-iterations; held-out goals, mean return of 20-step episodes)", "",
                  "| seed | before | MAML 1 step | MAML 5 steps | pretrained 1 step | scratch 1 step | s |",
                  "|---:|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['seed']} | {r['pre']:.2f} | {r['maml_1']:.2f} | {r['maml_5']:.2f} | {r['pretrained_1']:.2f} | "
                  f"{r['scratch_1']:.2f} | {r['seconds']:.0f} |" for r in rows["maml"]]
        m = rows["maml"]
        lines += ["", "An earlier spread with alpha 0.2 gave larger one-step margins but five steps improved on one by "
                  "only 0.08..1.19 (the fixed-length inner step overshoots once the policy is close); alpha 0.1 is the "
                  "tested setting. Normalised advantages (`norm_adv: true`) made steps 2-5 worse than step 1.",
                  "", "Smallest margins over seeds: 1 step over before "
                  f"{min(r['maml_1'] - r['pre'] for r in m):.2f}, over pretrained {min(r['maml_1'] - r['pretrained_1'] for r in m):.2f}, "
                  f"over scratch {min(r['maml_1'] - r['scratch_1'] for r in m):.2f}; 5 steps over 1 step "
                  f"{min(r['maml_5'] - r['maml_1'] for r in m):.2f}.", ""]
    if rows["rl2"]:
        lines += [f"## RL², 5-armed Bernoulli bandits, 100 pulls ({RL2_ITERATIONS} iterations of 64 trials; held-out bandits)", "",
                  "| seed | RL² | UCB1 | RL² / UCB1 | random | s |", "|---:|---:|---:|---:|---:|---:|"]
        lines += [f"| {r['seed']} | {r['rl2']:.1f} | {r['ucb1']:.1f} | {r['rl2'] / r['ucb1']:.3f} | {r['random']:.1f} | "
                  f"{r['seconds']:.0f} |" for r in rows["rl2"]]
        lines += ["", f"Smallest RL²/UCB1 over seeds: {min(r['rl2'] / r['ucb1'] for r in rows['rl2']):.3f}; smallest margin over "
                  f"random: {min(r['rl2'] - r['random'] for r in rows['rl2']):.1f}.", ""]
    (OUT / "meta_learning_spread.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()
