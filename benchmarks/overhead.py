"""The framework tax: `trainfleet run jobs/rl/ppo_cartpole.yaml` against a Stable-Baselines3 script, as whole processes.

A user pays the whole command, not the training loop: Python and trainfleet imports, Ray's
start-up, Tune's trial set-up, the iterations with their reporting and checkpoints, and Ray's
shutdown. Both sides run as fresh processes to the same stop rule (a mean training return >=
475 on CartPole-v1), interleaved pair by pair so that background load hits both alike:

- trainfleet: `python -m trainfleet run jobs/rl/ppo_cartpole.yaml --set seed=S` (the main job);
- Stable-Baselines3: a whole script, `import stable_baselines3` included, with RL-Zoo's PPO
  settings for CartPole-v1 (benchmarks/ppo_cartpole.py's `sb3_ppo`), one torch thread (its fastest
  setting here).

Targets (issue 10): trainfleet's whole command <= 0.5x SB3's, and the job's `train_s / time_s`
(Tune's trial time over the training iterations' own time) <= 1.15. Then the parts a run pays
before its first env step, each measured in fresh processes: the CLI's imports and validation,
`import ray` + `ray.init`, and Tune's trial set-up around building the job's runner (env and
network).

    pip install -e '.[bench]'
    python benchmarks/overhead.py [--pairs 3]

Writes benchmarks/results/overhead.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
JOB = ROOT / "jobs" / "rl" / "ppo_cartpole.yaml"
OUT = ROOT / "benchmarks" / "results" / "overhead.md"
SB3_SCRIPT = """
import json, sys
import torch
torch.set_num_threads(1)
sys.path.insert(0, {bench!r})
from ppo_cartpole import sb3_ppo
print(json.dumps(sb3_ppo(int(sys.argv[1]), max_s=600.0)))
"""
TRIAL_PROBE = """
import json, sys, tempfile, time
from trainfleet import jobs
from trainfleet.launch import cluster
from trainfleet.launch.run import trial_resources

spec, _ = jobs.load_job(sys.argv[1])
ray_s = cluster.connect(None)
from ray import tune

def trainable(config):
    t0 = time.perf_counter()
    from trainfleet.launch.runner import build_runner  # what rl_trial imports, then builds
    imported = time.perf_counter()
    runner = build_runner(spec)
    tune.report({"imports_s": imported - t0, "build_s": time.perf_counter() - imported})
    runner.close()

t0 = time.perf_counter()
with tempfile.TemporaryDirectory() as d:
    grid = tune.Tuner(tune.with_resources(trainable, trial_resources(spec)),
                      run_config=tune.RunConfig(storage_path=d, verbose=0)).fit()
fit_s = time.perf_counter() - t0
print(json.dumps({"ray_s": ray_s, "fit_s": fit_s, **{k: grid[0].metrics[k] for k in ("imports_s", "build_s")}}))
"""


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """(wall s, CPU s of the process tree as reaped, stdout) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def trainfleet_run(seed: int, out_root: Path) -> dict[str, Any]:
    wall, cpu, out = timed([sys.executable, "-m", "trainfleet", "run", str(JOB), "--output", str(out_root),
                            "--set", f"seed={seed}"])
    run_dir = Path(out.strip().splitlines()[-1].removeprefix("run dir: "))
    s = json.loads((run_dir / "summary.json").read_text())
    m = s["final_metrics"]
    return {"wall_s": wall, "cpu_s": cpu, "startup_s": s["startup_s"], "train_s": s["train_s"],
            "time_s": m["time_s"], "iterations": m["iteration"], "env_steps": m["env_steps"],
            "reached": s["stop_reason"] == "episode_return_mean"}


def sb3_run(seed: int) -> dict[str, Any]:
    wall, cpu, out = timed([sys.executable, "-c", SB3_SCRIPT.format(bench=str(ROOT / "benchmarks")), str(seed)])
    r = json.loads(out.strip().splitlines()[-1])
    return {"wall_s": wall, "cpu_s": cpu, "time_s": r["wall_s"], "env_steps": r["env_steps"], "reached": r["reached"]}


def parts() -> dict[str, float]:
    """What a run pays before its first env step, each part in a fresh process."""
    validate, _, _ = timed([sys.executable, "-m", "trainfleet", "validate", str(JOB)])
    bare, _, _ = timed([sys.executable, "-c", "pass"])
    _, _, out = timed([sys.executable, "-c", TRIAL_PROBE, str(JOB)])
    probe = json.loads(out.strip().splitlines()[-1])
    return {"python start": bare, "trainfleet imports + validation": validate - bare,
            "import ray + ray.init": probe["ray_s"],
            "Tune experiment + trial actor start": probe["fit_s"] - probe["imports_s"] - probe["build_s"],
            "trial imports (trainfleet, torch, gymnasium)": probe["imports_s"],
            "env + network construction": probe["build_s"]}


def med(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def write_report(tf: list[dict[str, Any]], sb3: list[dict[str, Any]], before: dict[str, float],
                 loads: tuple[float, float]) -> None:
    ratio = med(tf, "wall_s") / med(sb3, "wall_s")
    tax = [r["train_s"] / r["time_s"] for r in tf]
    lines = [
        "# The framework tax: whole `trainfleet run` vs a whole Stable-Baselines3 script (PPO, CartPole-v1 to 475)",
        "",
        f"{len(tf)} pairs of fresh processes, interleaved; {os.cpu_count()} vCPU shared with other jobs; 1-min load "
        f"average {loads[0]:.1f} at the start, {loads[1]:.1f} at the end; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Generated by `python benchmarks/overhead.py`.",
        "",
        "| | trainfleet `run jobs/rl/ppo_cartpole.yaml` | SB3 script (RL-Zoo PPO) | trainfleet / SB3 |",
        "|---|---|---|---|",
        f"| whole command, wall s (median) | {med(tf, 'wall_s'):.1f} | {med(sb3, 'wall_s'):.1f} | **{ratio:.2f}x** "
        f"(target <= 0.5x) |",
        f"| CPU s of the process tree (median) | {med(tf, 'cpu_s'):.1f} | {med(sb3, 'cpu_s'):.1f} | "
        f"{med(tf, 'cpu_s') / med(sb3, 'cpu_s'):.2f}x |",
        f"| training loop, s (median) | {med(tf, 'time_s'):.1f} | {med(sb3, 'time_s'):.1f} | "
        f"{med(tf, 'time_s') / med(sb3, 'time_s'):.2f}x |",
        f"| env steps to 475 (median) | {med(tf, 'env_steps'):,.0f} | {med(sb3, 'env_steps'):,.0f} | |",
        f"| reached 475 | {sum(r['reached'] for r in tf)}/{len(tf)} | {sum(r['reached'] for r in sb3)}/{len(sb3)} | |",
        "",
        f"trainfleet's `train_s / time_s` (Tune's trial time over the iterations' own time): median "
        f"**{statistics.median(tax):.2f}** (per pair: {', '.join(f'{t:.2f}' for t in tax)}; target <= 1.15); "
        f"start-up (`import ray` + `ray.init`) median {med(tf, 'startup_s'):.1f} s, "
        f"{med(tf, 'iterations'):.0f} iterations.",
        "",
        "Per pair (trainfleet wall / SB3 wall, s): "
        + ", ".join(f"{a['wall_s']:.1f} / {b['wall_s']:.1f}" for a, b in zip(tf, sb3)),
        "",
        "## What a run pays before its first env step (fresh processes, after the pairs)",
        "",
        "| part | seconds |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {value:.2f} |" for name, value in before.items()]
    lines += [f"| sum | {sum(before.values()):.2f} |", ""]
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    load_start = os.getloadavg()[0]
    tf, sb3 = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.pairs):
            tf.append(trainfleet_run(seed, Path(tmp)))
            print("trainfleet", seed, tf[-1], flush=True)
            sb3.append(sb3_run(seed))
            print("sb3", seed, sb3[-1], flush=True)
    before = parts()
    write_report(tf, sb3, before, (load_start, os.getloadavg()[0]))


if __name__ == "__main__":
    main()
