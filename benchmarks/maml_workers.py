"""MAML meta-iteration wall time with the meta-batch on 1 and on 2 rollout-worker actors.

    python benchmarks/maml_workers.py [--iterations 6] [--out benchmarks/results/maml_workers.md]

Each worker takes a task, rolls out, adapts its own policy copy and rolls out again
(`rl/meta/adaptation.py: adapt_and_sample`), so the tasks of a meta-batch run in parallel on
separate actors while the learner waits; the learner's second-order update is the same in both.
Median of the iterations after a warm-up one; the ratio 1-worker / 2-worker is what to read
(the box is shared: absolute seconds move with its load).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import ray

from trainfleet.jobs import Resources
from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.meta.maml import MAML

ROOT = Path(__file__).resolve().parents[1]
ENV = ("trainfleet/Navigation2D-v0", {"horizon": 100}, 20)  # Finn et al.'s 2D navigation: 20 trajectories of 100 steps
HPARAMS = {"meta_batch": 20, "n_steps": 100, "eval_every": 1000}


def iteration_times(workers: int, iterations: int) -> tuple[list[float], list[float]]:
    """(wall time, learner update time) of each meta-iteration after the warm-up."""
    env_id, kwargs, envs = ENV
    algo = MAML(RunContext(env_id, kwargs, envs, MAML.Hparams(**HPARAMS), seed=0,
                           resources=Resources(rollout_workers=workers)))
    try:
        algo.train_iteration()
        walls, learns = [], []
        for _ in range(iterations):
            t0 = time.perf_counter()
            metrics = algo.train_iteration()
            walls.append(time.perf_counter() - t0)
            learns.append(metrics["time_learn_s"])
        return walls, learns
    finally:
        algo.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=6)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "maml_workers.md"))
    args = parser.parse_args()
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    load_before = os.getloadavg()[0]
    rows = {w: iteration_times(w, args.iterations) for w in (1, 2)}
    load_after = os.getloadavg()[0]
    ray.shutdown()
    median = {w: (statistics.median(walls), statistics.median(learns)) for w, (walls, learns) in rows.items()}
    lines = [
        "# MAML meta-iteration wall time: 1 vs 2 rollout workers",
        "",
        f"`benchmarks/maml_workers.py`: {ENV[0]} {ENV[1]}, {ENV[2]} trajectories per task, meta-batch "
        f"{HPARAMS['meta_batch']}, one inner step, second order, Adam outer step. Median of {args.iterations} "
        f"meta-iterations after a warm-up one; the learner in this process, actors of 1 CPU each, on a 2-core box; "
        f"load average {load_before:.1f} before, {load_after:.1f} after (shared box: read the ratio).",
        "",
        "| rollout workers | meta-iteration (s) | of which learner update (s) |",
        "|---:|---:|---:|",
        *(f"| {w} | {wall:.2f} | {learn:.2f} |" for w, (wall, learn) in median.items()),
        "",
        f"1 worker / 2 workers: **{median[1][0] / median[2][0]:.2f}x** (the rollouts alone: "
        f"{(median[1][0] - median[1][1]) / (median[2][0] - median[2][1]):.2f}x).",
        "",
    ]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
