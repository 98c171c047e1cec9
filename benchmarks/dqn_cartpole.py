"""DQN on CartPole-v1: trainfleet's native DQN vs Stable-Baselines3's, same hyperparameters.

Both use RL-Zoo's tuned CartPole-v1 DQN settings (rl-baselines3-zoo hyperparams/dqn.yml):
lr 2.3e-3, batch 64, buffer 100000, learning_starts 1000, gamma 0.99, target update every
10 env steps, train_freq 256 with 128 gradient steps, epsilon 1 -> 0.04 over the first 16%
of 5e4 steps, a [256, 256] ReLU MLP, Huber loss, gradient-norm clip 10. Both run in this
process, one torch thread, one env, interleaved seed by seed (so load from other processes
hits both alike).

Measured per run, from the start of training (construction excluded): the env steps and
wall seconds until the mean return of the last 100 training episodes first reaches 475,
or, when a run never does within 5e4 steps, the best such mean it reached and the time
the whole budget took. A run stops at the threshold. trainfleet checks it after every
train_freq steps (each iteration is one collect + train phase), SB3 after every env step,
which can only make trainfleet's times look longer.

    pip install -e '.[bench]'
    python benchmarks/dqn_cartpole.py                  # 5 seeds -> benchmarks/results/dqn_cartpole.md
    python benchmarks/dqn_cartpole.py --seeds 0 1 --budget 20000
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections import deque
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).parent / "results" / "dqn_cartpole.md"
ENV_ID = "CartPole-v1"
THRESHOLD = 475.0
WINDOW = 100
ZOO = dict(lr=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000, gamma=0.99,
           target_update_interval=10, train_freq=256, gradient_steps=128, exploration_fraction=0.16,
           exploration_final_eps=0.04, net_arch=[256, 256])


class Run:
    """One run's outcome: steps/seconds at the threshold, else the best windowed mean."""

    def __init__(self) -> None:
        self.returns: deque[float] = deque(maxlen=WINDOW)
        self.best_mean = -np.inf
        self.hit_steps: int | None = None
        self.hit_s: float | None = None
        self.total_s = 0.0
        self.cpu_s = 0.0  # process CPU seconds: robust to other load on a shared box
        self.hit_cpu_s: float | None = None
        self.steps = 0
        self.t0 = time.perf_counter()
        self.c0 = time.process_time()

    def episodes(self, returns: list[float], steps: int) -> bool:
        """Record finished episodes; True once the windowed mean reaches the threshold."""
        self.returns.extend(returns)
        if len(self.returns) == WINDOW:
            mean = float(np.mean(self.returns))
            self.best_mean = max(self.best_mean, mean)
            if mean >= THRESHOLD and self.hit_steps is None:
                self.hit_steps, self.hit_s = steps, time.perf_counter() - self.t0
                self.hit_cpu_s = time.process_time() - self.c0
        return self.hit_steps is not None

    def finish(self, steps: int) -> Run:
        self.total_s, self.steps = time.perf_counter() - self.t0, steps
        self.cpu_s = time.process_time() - self.c0
        return self


def run_trainfleet(seed: int, budget: int) -> Run:
    from trainfleet.rl.core.algorithm import RunContext
    from trainfleet.rl.deep.dqn import DQN

    z = ZOO
    hp = DQN.Hparams(
        lr=z["lr"], batch_size=z["batch_size"], buffer_size=z["buffer_size"], learning_starts=z["learning_starts"],
        gamma=z["gamma"], target_update_interval=z["target_update_interval"], train_freq=z["train_freq"],
        gradient_steps=z["gradient_steps"], hidden=z["net_arch"], max_grad_norm=10.0,
        epsilon={"schedule": "linear", "start": 1.0, "end": z["exploration_final_eps"],
                 "steps": int(z["exploration_fraction"] * budget)},
        steps_per_iteration=z["train_freq"], episode_window=WINDOW,
    )
    algo = DQN(RunContext(ENV_ID, {}, 1, hp, seed))
    run, seen = Run(), 0
    while algo.env_steps < budget:
        algo.train_iteration()
        new = algo.tracker.episodes - seen
        seen = algo.tracker.episodes
        if run.episodes(list(algo.tracker.returns)[len(algo.tracker.returns) - new:] if new else [], algo.env_steps):
            break
    algo.close()
    return run.finish(algo.env_steps)


def run_sb3(seed: int, budget: int) -> Run:
    import gymnasium as gym
    from stable_baselines3 import DQN
    from stable_baselines3.common.callbacks import BaseCallback

    z = ZOO
    model = DQN(
        "MlpPolicy", gym.make(ENV_ID), learning_rate=z["lr"], batch_size=z["batch_size"],
        buffer_size=z["buffer_size"], learning_starts=z["learning_starts"], gamma=z["gamma"],
        target_update_interval=z["target_update_interval"], train_freq=z["train_freq"],
        gradient_steps=z["gradient_steps"], exploration_fraction=z["exploration_fraction"],
        exploration_final_eps=z["exploration_final_eps"], policy_kwargs={"net_arch": z["net_arch"]},
        seed=seed, device="cpu", verbose=0,
    )

    class Watch(BaseCallback):
        def _on_training_start(self) -> None:
            self.run = Run()

        def _on_step(self) -> bool:
            returns = [info["episode"]["r"] for info in self.locals["infos"] if "episode" in info]
            return not self.run.episodes(returns, self.num_timesteps)

    watch = Watch()
    model.learn(budget, callback=watch)
    model.env.close()
    return watch.run.finish(model.num_timesteps)


def describe(r: Run) -> tuple[str, str, str]:
    if r.hit_steps is not None:
        return f"{r.hit_steps}", f"{r.hit_s:.1f} / {r.hit_cpu_s:.1f}", "yes"
    return f"> {r.steps}", f"({r.total_s:.1f} / {r.cpu_s:.1f} for all)", f"no (best {r.best_mean:.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--budget", type=int, default=50_000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(1)

    rows: list[str] = []
    tf_runs: list[Run] = []
    sb_runs: list[Run] = []
    for seed in args.seeds:
        for name, fn, bucket in (("trainfleet", run_trainfleet, tf_runs), ("SB3", run_sb3, sb_runs)):
            r = fn(seed, args.budget)
            bucket.append(r)
            steps, secs, hit = describe(r)
            rows.append(f"| {seed} | {name} | {hit} | {steps} | {secs} | {r.steps / r.cpu_s:,.0f} |")
            print(rows[-1], flush=True)
            write_report(args, rows, tf_runs, sb_runs)  # after every run, so a cut-short benchmark keeps its rows
    print(args.out.read_text())


def median_of(runs: list[Run], attr: str) -> float | None:
    vals = [getattr(r, attr) for r in runs if getattr(r, attr) is not None]
    return statistics.median(vals) if vals else None


def write_report(args: argparse.Namespace, rows: list[str], tf_runs: list[Run], sb_runs: list[Run]) -> None:
    lines = [
        "# DQN on CartPole-v1: trainfleet vs Stable-Baselines3 (RL-Zoo hyperparameters)",
        "",
        "Generated by `python benchmarks/dqn_cartpole.py`. Same process, one torch thread, same",
        f"hyperparameters (RL-Zoo: {', '.join(f'{k}={v}' for k, v in ZOO.items())}), {args.budget} env steps at most.",
        f"Threshold: mean return of the last {WINDOW} training episodes >= {THRESHOLD:g}; a run stops there.",
        "",
        f"Machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, python {platform.python_version()}."
        " Shared 2-vCPU box: absolute seconds vary with load; both libraries ran interleaved, seed by seed.",
        "",
        "| seed | library | reached 475 | env steps to 475 | wall / CPU seconds to 475 | env steps per CPU second |",
        "| --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        "## Medians",
        "",
        "| library | runs reaching 475 | median env steps to 475 | median wall s to 475 | median wall s for the run | median CPU s for the run |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, runs in (("trainfleet", tf_runs), ("SB3", sb_runs)):
        if not runs:
            continue
        hits = [r for r in runs if r.hit_steps is not None]
        s, t = median_of(hits, "hit_steps"), median_of(hits, "hit_s")
        lines.append(f"| {name} | {len(hits)}/{len(runs)} | {s if s is not None else '-'} | "
                     f"{f'{t:.1f}' if t is not None else '-'} | {median_of(runs, 'total_s'):.1f} | "
                     f"{median_of(runs, 'cpu_s'):.1f} |")
    if tf_runs and sb_runs:
        tf_t, sb_t = median_of([r for r in tf_runs if r.hit_s], "hit_s"), median_of([r for r in sb_runs if r.hit_s], "hit_s")
        lines += ["", "## Ratios (SB3 / trainfleet; > 1 means trainfleet is faster)", ""]
        if tf_t and sb_t:
            lines.append(f"- median seconds to 475: {sb_t / tf_t:.2f}x")
        lines.append(f"- median seconds per run (either stopped at 475 or ran the full budget): "
                     f"{median_of(sb_runs, 'total_s') / median_of(tf_runs, 'total_s'):.2f}x")
        lines.append(f"- median CPU seconds per run: {median_of(sb_runs, 'cpu_s') / median_of(tf_runs, 'cpu_s'):.2f}x")
        tf_rate = statistics.median(r.steps / r.cpu_s for r in tf_runs)
        sb_rate = statistics.median(r.steps / r.cpu_s for r in sb_runs)
        lines.append(f"- median env steps per CPU second (collection + 0.5 gradient steps per env step): "
                     f"{tf_rate / sb_rate:.2f}x ({tf_rate:,.0f} vs {sb_rate:,.0f})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
