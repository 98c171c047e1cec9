"""PPO on CartPole-v1: wall time and env steps to a mean training return >= 475.

One harness, same machine, same stop rule for every library: the mean return of the last 100
training episodes (Stable-Baselines3's `ep_info_buffer`; trainfleet's and trainfleet-RLlib's
`episode_return_mean` window) reaches 475. Timers start when training starts: after the
library has built its envs and networks, and after Ray has started for the Ray-based ones
(Ray start-up, ~10 s here, is excluded for both trainfleet-with-workers and RLlib).

- trainfleet native PPO: `jobs/rl/ppo_cartpole.yaml`'s hyperparameters, the algorithm class
  driven directly (what a Tune trial runs, without Tune's per-iteration reporting).
- Stable-Baselines3 PPO with RL-Zoo's CartPole hyperparameters (n_envs 8, n_steps 32, batch 256,
  gae 0.8, gamma 0.98, 20 epochs, ent 0, lr 1e-3 and clip 0.2 both linear over 1e5 steps).
- RLlib PPO through trainfleet's RLlib backend (`jobs/rl/ppo_cartpole_rllib.yaml`).
All with one torch thread (the fastest setting on this box for all three).

Then the rollout path alone: env steps/s of `WorkerPool.sample` with 0, 1 and 2 rollout
workers next to the raw vector env's steps/s (the ceiling), and where PPO's time goes.

    python benchmarks/ppo_cartpole.py [--seeds 0 1 2] [--rllib-seeds 0 1 2] [--max-s 600]

Writes benchmarks/results/ppo_cartpole.md. Peers come from the `bench` extra.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
JOB = ROOT / "jobs" / "rl" / "ppo_cartpole.yaml"
RLLIB_JOB = ROOT / "jobs" / "rl" / "ppo_cartpole_rllib.yaml"
OUT = ROOT / "benchmarks" / "results" / "ppo_cartpole.md"
TARGET = 475.0
WINDOW = 100


def trainfleet_ppo(seed: int, max_s: float, workers: int = 0) -> dict[str, Any]:
    from trainfleet.jobs import Resources
    from trainfleet.rl.core.algorithm import RunContext
    from trainfleet.rl.deep.ppo import PPO

    job = yaml.safe_load(JOB.read_text())
    hp = PPO.Hparams(**{**job["hparams"], "episode_window": WINDOW})
    res = Resources(rollout_workers=workers, cpus_per_worker=0.5)
    algo = PPO(RunContext("CartPole-v1", {}, job["env"]["num_envs"], hp, seed, res))
    t0 = time.perf_counter()
    try:
        while True:
            m = algo.train_iteration()
            wall = time.perf_counter() - t0
            if m["episode_return_mean"] >= TARGET or wall > max_s:
                break
    finally:
        algo.close()
    return {"wall_s": wall, "env_steps": m["env_steps"], "reached": m["episode_return_mean"] >= TARGET,
            "sample_s": m["time_sample_s"], "transfer_s": m["time_transfer_s"], "learn_s": m["time_learn_s"]}


def sb3_ppo(seed: int, max_s: float) -> dict[str, Any]:
    from stable_baselines3 import PPO as SB3PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    def linear(start: float):
        return lambda progress_remaining: progress_remaining * start

    class StopAt(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.t0 = time.perf_counter()
            self.reached = False

        def _on_step(self) -> bool:
            buf = self.model.ep_info_buffer
            if len(buf) >= 1 and np.mean([e["r"] for e in buf]) >= TARGET:
                self.reached = True
                return False
            return time.perf_counter() - self.t0 < max_s

    env = make_vec_env("CartPole-v1", n_envs=8, seed=seed)
    model = SB3PPO("MlpPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20,
                   ent_coef=0.0, learning_rate=linear(1e-3), clip_range=linear(0.2), seed=seed, device="cpu",
                   verbose=0)
    cb = StopAt()
    cb.t0 = time.perf_counter()
    model.learn(total_timesteps=100_000, callback=cb)
    wall = time.perf_counter() - cb.t0
    return {"wall_s": wall, "env_steps": model.num_timesteps, "reached": cb.reached}


def rllib_ppo(seed: int, max_s: float) -> dict[str, Any]:
    from trainfleet import jobs
    from trainfleet.launch.runner import build_runner

    spec, _ = jobs.load_job(RLLIB_JOB, {"seed": seed, "hparams.episode_window": WINDOW})
    runner = build_runner(spec)
    t0 = time.perf_counter()
    try:
        while True:
            m = runner.train_iteration()
            wall = time.perf_counter() - t0
            ret = m.get("episode_return_mean", float("nan"))
            if (ret == ret and ret >= TARGET) or wall > max_s:
                break
    finally:
        runner.close()
    return {"wall_s": wall, "env_steps": m["env_steps"], "reached": ret >= TARGET}


def raw_env_steps_per_s(num_envs: int, seconds: float = 2.0) -> float:
    import gymnasium as gym

    env = gym.make_vec("CartPole-v1", num_envs, vectorization_mode="vector_entry_point")
    env.reset(seed=0)
    actions = np.random.default_rng(0).integers(0, 2, size=(1000, num_envs))
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for a in actions[:100]:
            env.step(a)
        steps += 100 * num_envs
    return steps / (time.perf_counter() - t0)


def rollout_steps_per_s(workers: int, num_envs: int, n_steps: int = 64, rounds: int = 30) -> dict[str, float]:
    from trainfleet.rl.core.actor_critic import ActorCriticConfig
    from trainfleet.rl.core.workers import EnvConfig, WorkerPool

    pool = WorkerPool(EnvConfig("CartPole-v1", {}, num_envs), ActorCriticConfig(), workers, seed=0,
                      cpus_per_worker=0.5)
    model = ActorCriticConfig()(pool.observation_space, pool.action_space)
    try:
        for _ in range(3):  # warm-up: actor start, first weights
            pool.set_weights(model)
            pool.sample(n_steps)
        steps, sample_s, t0 = 0, 0.0, time.perf_counter()
        for _ in range(rounds):
            pool.set_weights(model)
            ro = pool.sample(n_steps)
            steps += ro.obs.shape[0] * ro.obs.shape[1]
            sample_s += ro.sample_s
        wall = time.perf_counter() - t0
    finally:
        pool.close()
    return {"steps_per_s": steps / wall, "sampling_share": sample_s / wall}


def summarise(rows: list[dict[str, Any]]) -> tuple[float, float, str]:
    walls = [r["wall_s"] for r in rows]
    steps = [r["env_steps"] for r in rows]
    reached = sum(r["reached"] for r in rows)
    return statistics.median(walls), statistics.median(steps), f"{reached}/{len(rows)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rllib-seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--max-s", type=float, default=600.0)
    args = parser.parse_args()
    torch.set_num_threads(1)

    load_start = os.getloadavg()[0]
    runs: dict[str, list[dict[str, Any]]] = {"trainfleet": [], "sb3": [], "rllib": []}
    for seed in args.seeds:  # interleaved, so background load hits both alike
        runs["trainfleet"].append(trainfleet_ppo(seed, args.max_s))
        print("trainfleet", seed, runs["trainfleet"][-1], flush=True)
        runs["sb3"].append(sb3_ppo(seed, args.max_s))
        print("sb3", seed, runs["sb3"][-1], flush=True)

    import ray

    t_ray = time.perf_counter()
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    ray_start_s = time.perf_counter() - t_ray
    try:
        for seed in args.rllib_seeds:
            runs["rllib"].append(rllib_ppo(seed, args.max_s))
            print("rllib", seed, runs["rllib"][-1], flush=True)
        raw = {n: raw_env_steps_per_s(n) for n in (8, 16)}
        rollout = {w: rollout_steps_per_s(w, 8) for w in (0, 1, 2)}
        print("rollout", rollout, raw, flush=True)
    finally:
        ray.shutdown()

    tf_wall, tf_steps, tf_ok = summarise(runs["trainfleet"])
    sb_wall, sb_steps, sb_ok = summarise(runs["sb3"])
    lines = [
        "# PPO on CartPole-v1: time to a mean training return >= 475",
        "",
        f"Machine: {platform.machine()}, 2 vCPU shared with other jobs, torch {torch.__version__} (1 thread), "
        f"Python {platform.python_version()}. Generated by `python benchmarks/ppo_cartpole.py`; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. 1-min load average {load_start:.0f} at the start and "
        f"{os.getloadavg()[0]:.0f} at the end (other jobs shared the 2 cores: absolute times are inflated "
        "and noisy; the runs are interleaved so the ratios are the comparison).",
        "",
        "Stop rule for all: mean return of the last 100 training episodes >= 475. Wall time from training",
        f"start (envs and networks built; Ray start-up, {ray_start_s:.1f} s in this run, excluded for RLlib).",
        "",
        "| library | config | seeds reached | median wall s | median env steps | wall vs trainfleet |",
        "|---|---|---|---|---|---|",
        f"| trainfleet PPO (native) | jobs/rl/ppo_cartpole.yaml, rollout_workers 0 | {tf_ok} | {tf_wall:.1f} | "
        f"{tf_steps:,.0f} | 1.0x |",
        f"| Stable-Baselines3 PPO | RL-Zoo CartPole hyperparameters | {sb_ok} | {sb_wall:.1f} | {sb_steps:,.0f} | "
        f"{sb_wall / tf_wall:.1f}x |",
    ]
    if runs["rllib"]:
        rl_wall, rl_steps, rl_ok = summarise(runs["rllib"])
        lines.append(f"| RLlib PPO (trainfleet rllib backend) | jobs/rl/ppo_cartpole_rllib.yaml | {rl_ok} | "
                     f"{rl_wall:.1f} | {rl_steps:,.0f} | {rl_wall / tf_wall:.1f}x |")
    lines += ["", "Per seed (wall s / env steps / reached):", ""]
    for name, rows in runs.items():
        if rows:
            cells = ", ".join(f"{r['wall_s']:.1f} / {r['env_steps']:,} / {'yes' if r['reached'] else 'no'}" for r in rows)
            lines.append(f"- {name}: {cells}")
    tf = runs["trainfleet"]
    share = {k: statistics.median(r[k] / r["wall_s"] for r in tf) for k in ("sample_s", "transfer_s", "learn_s")}
    lines += [
        "",
        "## Where trainfleet PPO's time goes (median share of wall time)",
        "",
        f"sampling (env + policy forward) {share['sample_s']:.0%}, transfer (weights out, rollout back) "
        f"{share['transfer_s']:.0%}, learning (GAE, minibatch epochs) {share['learn_s']:.0%}.",
        "",
        "## Rollout path throughput (CartPole-v1, random-init policy, 8 envs per worker, 64-step rollouts)",
        "",
        "| path | env steps/s | share of wall time spent stepping in workers |",
        "|---|---|---|",
        f"| raw native vector env, 8 envs, random actions (ceiling per process) | {raw[8]:,.0f} | - |",
        f"| raw native vector env, 16 envs | {raw[16]:,.0f} | - |",
    ]
    for w, r in rollout.items():
        label = "in the trial process (rollout_workers 0)" if w == 0 else f"{w} Ray actor worker(s)"
        lines.append(f"| WorkerPool.sample, {label} | {r['steps_per_s']:,.0f} | {r['sampling_share']:.0%} |")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
