"""`trainfleet eval` wall time: a run trained with rollout workers vs one trained in-process.

    python benchmarks/eval_time.py [--reps 3] [--out benchmarks/results/eval_time.md]

Trains the main PPO CartPole job twice for two iterations (`resources.rollout_workers: 2`, and
`0`), then times `trainfleet eval RUN --episodes 3` on each as a fresh process (what a user
pays: Python, imports, rebuilding the policy, the episodes). eval rebuilds only the policy in
the calling process, so the two should cost the same; the target is at most 1.5x.

For scale, the way eval worked before (rebuild the trial's whole runner, worker actors included,
which starts a local Ray) is timed as well, on the rollout-worker run, in a fresh process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JOB = ROOT / "jobs" / "rl" / "ppo_cartpole.yaml"
EPISODES = 3
VARIANTS = {"rollout_workers: 2": ["--set", "resources.rollout_workers=2", "--set", "resources.cpus_per_worker=0.5",
                                   "--set", "env.num_envs=4"],
            "rollout_workers: 0": []}

WITH_RAY = """
import sys, time
t0 = time.perf_counter()
import ray
from trainfleet.launch.runner import build_runner
from trainfleet.results import read_trial_spec
from trainfleet.rl.core.evaluate import evaluate_policy
from trainfleet.results import final_checkpoint
ray.init(address="local", include_dashboard=False, logging_level="ERROR", log_to_driver=False)
ckpt = final_checkpoint(sys.argv[1])
spec = read_trial_spec(ckpt)
runner = build_runner(spec)
runner.restore(ckpt)
evaluate_policy(spec.env.id, spec.env.kwargs, runner.act, int(sys.argv[2]))
runner.close()
"""


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")
    return time.perf_counter() - t0


def train(out: Path, sets: list[str]) -> str:
    proc = subprocess.run([sys.executable, "-m", "trainfleet", "run", str(JOB), "--output", str(out),
                           "--set", "stop.iterations=2", "--set", "checkpoint.every=1", *sets],
                          capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise SystemExit(f"training failed:\n{proc.stdout[-1500:]}{proc.stderr[-1500:]}")
    return proc.stdout.strip().splitlines()[-1].removeprefix("run dir: ")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "eval_time.md"))
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        runs = {name: train(Path(tmp), sets) for name, sets in VARIANTS.items()}
        times: dict[str, list[float]] = {name: [] for name in runs}
        times["before: runner rebuilt with its workers (starts Ray), rollout_workers: 2"] = []
        for _ in range(args.reps):  # interleaved, so a load change hits every variant alike
            for name, run_dir in runs.items():
                times[name].append(timed([sys.executable, "-m", "trainfleet", "eval", run_dir, "--episodes", str(EPISODES)]))
            times["before: runner rebuilt with its workers (starts Ray), rollout_workers: 2"].append(
                timed([sys.executable, "-c", WITH_RAY, runs["rollout_workers: 2"], str(EPISODES)]))
    med = {name: statistics.median(t) for name, t in times.items()}
    base = med["rollout_workers: 0"]
    lines = [
        "# `trainfleet eval` time: a run trained with rollout workers vs one trained in-process",
        "",
        f"Job: `jobs/rl/ppo_cartpole.yaml`, 2 iterations, trained with `rollout_workers: 2` and `0`; "
        f"`trainfleet eval RUN --episodes {EPISODES}` as a fresh process. Median of {args.reps} (interleaved); "
        f"2 CPUs; load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after (a shared box: read the ratios).",
        "",
        "| eval of | seconds (median) | runs | / in-process run |",
        "|---|---:|---|---:|",
    ]
    for name, t in times.items():
        lines.append(f"| {name} | {med[name]:.2f} | {', '.join(f'{x:.2f}' for x in t)} | {med[name] / base:.2f}x |")
    ratio = med["rollout_workers: 2"] / base
    lines += ["", f"Rollout-worker run / in-process run: {ratio:.2f}x (target <= 1.5x). eval rebuilds only the policy "
              "and the env's preprocessing from the checkpoint's weights, in the calling process, without Ray, so "
              "how the run was trained no longer matters; the `before` row is what rebuilding the trial's runner "
              "cost (a local Ray start plus worker actors; started implicitly, as it was, it also followed a stale `ray_current_cluster` file)."]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
