"""DQN on CartPole-v1: wall time and env steps to a mean training return >= 475.

One harness, same machine, same stop rule as `benchmarks/ppo_cartpole.py`: the mean return of
the last 100 training episodes (epsilon-greedy behaviour included) reaches 475. Timers start
when training starts (envs and networks built). Every run stops at the threshold, at
`--budget` env steps or after `--max-s` seconds, whichever comes first.

- trainfleet native DQN: `jobs/rl/dqn_cartpole.yaml`'s hyperparameters, the algorithm class
  driven directly (what a Tune trial runs, without Tune's per-iteration reporting).
- Stable-Baselines3 DQN with RL-Zoo's CartPole-v1 hyperparameters (rl-baselines3-zoo
  hyperparams/dqn.yml: lr 2.3e-3, batch 64, buffer 1e5, learning_starts 1000, target update
  every 10 steps, train_freq 256 with 128 gradient steps, a [256, 256] MLP, epsilon 1 -> 0.04
  over 16% of the zoo's 5e4 steps, i.e. 8,000 steps, kept at 8,000 here for longer budgets).
- Stable-Baselines3 DQN with trainfleet's job hyperparameters (8 envs, same net, replay,
  update ratio, target interval and lr schedule, through SB3's own callable learning rate):
  the same algorithm and settings, so the ratio is the implementation's cost alone.
All in this process with one torch thread, interleaved seed by seed so background load hits
every library alike.

    pip install -e '.[bench]'
    python benchmarks/dqn_cartpole.py [--seeds 0 1 2] [--budget 300000] [--max-s 300]

Writes benchmarks/results/dqn_cartpole.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
JOB = ROOT / "jobs" / "rl" / "dqn_cartpole.yaml"
OUT = ROOT / "benchmarks" / "results" / "dqn_cartpole.md"
TARGET = 475.0
WINDOW = 100
ZOO = dict(learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000, gamma=0.99,
           target_update_interval=10, train_freq=256, gradient_steps=128, exploration_final_eps=0.04,
           policy_kwargs={"net_arch": [256, 256]})
ZOO_EPSILON_STEPS = 8000


def job_hparams() -> tuple[dict[str, Any], int]:
    job = yaml.safe_load(JOB.read_text())
    return {**job["hparams"], "episode_window": WINDOW}, int(job["env"].get("num_envs", 1))


def trainfleet_dqn(seed: int, budget: int, max_s: float) -> dict[str, Any]:
    from trainfleet.rl.core.algorithm import RunContext
    from trainfleet.rl.deep.dqn import DQN

    hparams, num_envs = job_hparams()
    algo = DQN(RunContext("CartPole-v1", {}, num_envs, DQN.Hparams.model_validate(hparams), seed))
    timed = {"collect": 0.0, "learn": 0.0}

    def timer(name: str, fn: Callable[..., None]) -> Callable[..., None]:
        def wrapped(*args: Any) -> None:
            t = time.perf_counter()
            fn(*args)
            timed[name] += time.perf_counter() - t
        return wrapped

    algo.collect_step, algo.train = timer("collect", algo.collect_step), timer("learn", algo.train)
    t0 = time.perf_counter()
    try:
        while True:
            m = algo.train_iteration()
            wall = time.perf_counter() - t0
            window = algo.tracker.window
            reached = len(window.returns) == WINDOW and window.return_mean() >= TARGET
            if reached or algo.env_steps >= budget or wall > max_s:
                break
    finally:
        algo.close()
    return {"wall_s": wall, "env_steps": algo.env_steps, "reached": reached, "best": m["episode_return_mean"],
            "gradient_steps": m["gradient_steps"], "collect_s": timed["collect"], "learn_s": timed["learn"]}


def sb3_dqn(seed: int, budget: int, max_s: float, same_as_job: bool) -> dict[str, Any]:
    import gymnasium as gym
    from stable_baselines3 import DQN as SB3DQN
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    from trainfleet.rl.core.schedules import Schedule, constant

    if same_as_job:
        hp, num_envs = job_hparams()
        lr = Schedule.model_validate(hp["lr"]) if isinstance(hp["lr"], dict) else constant(hp["lr"])

        def learning_rate(progress_remaining: float) -> float:  # SB3 passes 1 - steps/budget
            return lr.value((1.0 - progress_remaining) * budget)

        eps = hp["epsilon"]
        kwargs = dict(learning_rate=learning_rate, batch_size=hp["batch_size"], buffer_size=hp["buffer_size"],
                      learning_starts=hp["learning_starts"], gamma=hp["gamma"],
                      target_update_interval=hp["target_update_interval"], train_freq=hp["train_freq"] // num_envs,
                      gradient_steps=hp["gradient_steps"], exploration_initial_eps=eps["start"],
                      exploration_final_eps=eps["end"], exploration_fraction=eps["steps"] / budget,
                      max_grad_norm=hp["max_grad_norm"], policy_kwargs={"net_arch": hp["hidden"]})
        env = make_vec_env("CartPole-v1", n_envs=num_envs, seed=seed)
    else:
        kwargs = dict(ZOO, exploration_fraction=ZOO_EPSILON_STEPS / budget)
        env = gym.make("CartPole-v1")

    class StopAt(BaseCallback):
        def _on_training_start(self) -> None:
            self.t0 = time.perf_counter()
            self.reached, self.best = False, float("-inf")

        def _on_step(self) -> bool:
            buf = self.model.ep_info_buffer
            if len(buf) == WINDOW:
                mean = float(np.mean([e["r"] for e in buf]))
                self.best = max(self.best, mean)
                self.reached = mean >= TARGET
            return not self.reached and time.perf_counter() - self.t0 < max_s

    model = SB3DQN("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **kwargs)
    cb = StopAt()
    model.learn(total_timesteps=budget, callback=cb)
    wall = time.perf_counter() - cb.t0
    model.env.close()
    return {"wall_s": wall, "env_steps": model.num_timesteps, "reached": cb.reached, "best": cb.best,
            "gradient_steps": model._n_updates}


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    hits = [r for r in rows if r["reached"]]
    return {
        "reached": f"{len(hits)}/{len(rows)}",
        "wall": statistics.median(r["wall_s"] for r in hits) if hits else None,
        "steps": statistics.median(r["env_steps"] for r in hits) if hits else None,
        "rate": statistics.median(r["env_steps"] / r["wall_s"] for r in rows),
        "update_rate": statistics.median(r["gradient_steps"] / r["wall_s"] for r in rows),
        "longest": max(r["wall_s"] for r in rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--budget", type=int, default=300_000, help="env steps per run at most")
    parser.add_argument("--max-s", type=float, default=300.0, help="wall seconds per run at most")
    args = parser.parse_args()
    torch.set_num_threads(1)

    load_start = os.getloadavg()[0]
    runners = {
        "trainfleet": lambda s: trainfleet_dqn(s, args.budget, args.max_s),
        "sb3_same": lambda s: sb3_dqn(s, args.budget, args.max_s, same_as_job=True),
        "sb3_zoo": lambda s: sb3_dqn(s, args.budget, args.max_s, same_as_job=False),
    }
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in runners}
    for seed in args.seeds:
        for name, run in runners.items():
            runs[name].append(run(seed))
            print(name, seed, runs[name][-1], flush=True)

    summary = {k: summarise(v) for k, v in runs.items()}
    tf = summary["trainfleet"]

    def vs_trainfleet(s: dict[str, Any]) -> str:
        if s["wall"] is not None and tf["wall"] is not None:
            return f"{s['wall'] / tf['wall']:.1f}x"
        if tf["wall"] is not None:  # the peer never got there: its longest run bounds the ratio below
            return f"> {s['longest'] / tf['wall']:.1f}x (not reached)"
        return "-"

    def cell(value: float | None, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    labels = {
        "trainfleet": ("trainfleet DQN (native)", "jobs/rl/dqn_cartpole.yaml, rollout_workers 0"),
        "sb3_same": ("Stable-Baselines3 DQN", "the same hyperparameters as the trainfleet job"),
        "sb3_zoo": ("Stable-Baselines3 DQN", "RL-Zoo CartPole hyperparameters"),
    }
    lines = [
        "# DQN on CartPole-v1: time to a mean training return >= 475",
        "",
        f"Machine: {platform.machine()}, 2 vCPU shared with other jobs, torch {torch.__version__} (1 thread), "
        f"Python {platform.python_version()}. Generated by `python benchmarks/dqn_cartpole.py`; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. 1-min load average {load_start:.1f} at the start "
        f"and {os.getloadavg()[0]:.1f} at the end; the libraries ran interleaved, seed by seed.",
        "",
        f"Stop rule for all: mean return of the last {WINDOW} training episodes >= {TARGET:g}, or "
        f"{args.budget:,} env steps, or {args.max_s:.0f} s. Wall time from training start.",
        "",
        "| library | config | seeds reached | median wall s to 475 | median env steps to 475 | wall vs trainfleet |"
        " env steps/s | gradient steps/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in summary.items():
        lib, config = labels[name]
        ratio = "1.0x" if name == "trainfleet" else vs_trainfleet(s)
        lines.append(f"| {lib} | {config} | {s['reached']} | {cell(s['wall'], '.1f')} | {cell(s['steps'], ',.0f')} | "
                     f"{ratio} | {s['rate']:,.0f} | {s['update_rate']:,.0f} |")
    lines += ["", "Per seed (wall s / env steps / reached, or the best 100-episode mean when not):", ""]
    for name, rows in runs.items():
        cells = ", ".join(f"{r['wall_s']:.1f} / {r['env_steps']:,} / "
                          f"{'yes' if r['reached'] else 'no, best %.0f' % r['best']}" for r in rows)
        lines.append(f"- {name}: {cells}")
    share = {k: statistics.median(r[k] / r["wall_s"] for r in runs["trainfleet"]) for k in ("collect_s", "learn_s")}
    lines += [
        "",
        "## Where trainfleet DQN's time goes (median share of wall time)",
        "",
        f"collection (env steps, epsilon-greedy forward, replay writes) {share['collect_s']:.0%}, learning "
        f"(replay sampling, gradient steps, target updates) {share['learn_s']:.0%}, the rest iteration bookkeeping.",
    ]
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
