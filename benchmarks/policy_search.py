"""Policy search on Ray: time to a greedy 475 on CartPole-v1, throughput with rollout workers, bytes.

1. Wall time to a greedy return of 475 on CartPole-v1 (mean of 5 episodes of the deterministic
   policy): trainfleet `es`, `cem` and `cma_es` (their jobs/rl/*_cartpole.yaml settings, the
   algorithm class driven in this process, greedy episodes counted in their time and env steps)
   against sb3-contrib's ARS with RL-Zoo's CartPole-v1 settings (LinearPolicy, n_envs 2, defaults
   otherwise), one `learn` update at a time; ARS's greedy checks are NOT counted in its time.
2. Generation throughput (env steps/s of `evaluate_population`, a fixed balancing policy, 400
   members of 500 steps) with rollout_workers 0 (in process), 1 and 2 on this machine, then on a
   `ray.cluster_utils.Cluster` of 1, 2 and 4 single-CPU nodes, one worker per node. This box has 2
   cores: the 4-node figure measures overhead, not speed.
3. Bytes sent to the workers per generation (`WorkerPool.bytes_sent`) by population size.

    python benchmarks/policy_search.py [--seeds 0 1 2] [--max-s 120] [--skip-cluster]

Writes benchmarks/results/policy_search.md. ARS comes from the `bench` extra (sb3-contrib).
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
OUT = ROOT / "benchmarks" / "results" / "policy_search.md"
TARGET = 475.0
GREEDY_EPISODES = 5


def load_hparams(name: str) -> tuple[dict[str, Any], int]:
    job = yaml.safe_load((ROOT / "jobs" / "rl" / f"{name}_cartpole.yaml").read_text())
    return job["hparams"], job["env"]["num_envs"]


def trainfleet_to_target(name: str, seed: int, max_s: float) -> dict[str, Any]:
    from trainfleet import registry
    from trainfleet.jobs import Resources
    from trainfleet.rl.core.algorithm import RunContext

    cls = registry.algorithm(name).load()
    hparams, num_envs = load_hparams(name)
    algo = cls(RunContext("CartPole-v1", {}, num_envs, cls.Hparams(**hparams), seed, Resources()))
    t0 = time.perf_counter()
    try:
        while True:
            m = algo.train_iteration()
            wall = time.perf_counter() - t0
            if m["episode_return_mean"] >= TARGET or wall > max_s:
                return {"wall_s": wall, "env_steps": m["env_steps"], "reached": m["episode_return_mean"] >= TARGET}
    finally:
        algo.close()


def ars_to_target(seed: int, max_s: float) -> dict[str, Any]:
    from sb3_contrib import ARS
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    env = make_vec_env("CartPole-v1", n_envs=2, seed=seed)
    model = ARS("LinearPolicy", env, seed=seed, verbose=0)
    eval_env = make_vec_env("CartPole-v1", n_envs=1, seed=seed + 10_000)
    wall = 0.0
    while wall <= max_s:
        t0 = time.perf_counter()
        model.learn(total_timesteps=1, reset_num_timesteps=False)  # exactly one ARS update
        wall += time.perf_counter() - t0
        greedy, _ = evaluate_policy(model, eval_env, n_eval_episodes=GREEDY_EPISODES, deterministic=True)
        if greedy >= TARGET:
            return {"wall_s": wall, "env_steps": model.num_timesteps, "reached": True}
    return {"wall_s": wall, "env_steps": model.num_timesteps, "reached": False}


# ---- throughput ----------------------------------------------------------------------------------
def balancing_payload(policy: Any) -> dict[str, np.ndarray]:
    """A linear policy that balances the pole (push towards where it leans and turns): 500-step episodes."""
    flat = np.zeros(policy.dim, np.float32)
    flat[4:8] = [0.0, 0.0, 1.0, 0.5]  # logit of "push right" = angle + 0.5 angular velocity
    return {"center": flat, "std": np.float32(0.01), "obs_mean": np.zeros(4, np.float32),
            "obs_var": np.ones(4, np.float32)}


def throughput(workers: int, members: int = 400, generations: int = 3, num_envs: int = 16) -> dict[str, float]:
    """env steps/s of whole generations (after one warm-up generation) on a fresh ES worker pool."""
    from trainfleet.jobs import Resources
    from trainfleet.rl.core.algorithm import RunContext
    from trainfleet.rl.search.es import ES
    from trainfleet.rl.search.population import Population, evaluate_population

    hp = ES.Hparams(population_size=members, hidden=[], normalize_obs=False, noise_table_size=2**20)
    algo = ES(RunContext("CartPole-v1", {}, num_envs, hp, 0, Resources(rollout_workers=workers)))
    try:
        payload = balancing_payload(algo.policy)
        evaluate_population(algo.pool, Population(members, 0, seed=0, antithetic=True), payload)
        steps, busy, cpu, t0 = 0, 0.0, 0.0, time.perf_counter()
        for g in range(generations):
            done = evaluate_population(algo.pool, Population(members, 0, seed=g + 1, antithetic=True), payload)
            steps, busy, cpu = steps + int(done.lengths.sum()), busy + done.worker_s, cpu + done.worker_cpu_s
        wall = time.perf_counter() - t0
        # outside = learner + Ray per generation; core share = CPU a busy worker got per second of its share
        return {"steps_per_s": steps / wall, "steps": steps, "outside_ms": 1000 * (wall - busy) / generations,
                "core_share": cpu / (max(workers, 1) * busy)}
    finally:
        algo.close()


def bytes_per_generation(name: str, population: int) -> int:
    from trainfleet import registry
    from trainfleet.jobs import Resources
    from trainfleet.rl.core.algorithm import RunContext

    cls = registry.algorithm(name).load()
    hp = cls.Hparams(population_size=population, hidden=[16], eval_episodes=1,
                     **({"noise_table_size": 2**20} if name != "cma_es" else {}))
    algo = cls(RunContext("CartPole-v1", {}, 16, hp, 0, Resources(rollout_workers=2, cpus_per_worker=0.5)))
    try:
        algo.train_iteration()
        return int(algo.train_iteration()["bytes_to_workers"])
    finally:
        algo.close()


def cluster_throughput(nodes: int) -> dict[str, float]:
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    try:
        for _ in range(nodes):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, logging_level="WARNING", log_to_driver=False)
        return throughput(nodes)
    finally:
        ray.shutdown()
        cluster.shutdown()


# ---- report ---------------------------------------------------------------------------------------
def median(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-s", type=float, default=120.0)
    parser.add_argument("--skip-cluster", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    load_start = os.getloadavg()[0]

    # 1. to target, runs interleaved by seed so a burst of load hits every library alike
    names = ["es", "cem", "cma_es", "ars"]
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for seed in args.seeds:
        for n in names:
            r = ars_to_target(seed, args.max_s) if n == "ars" else trainfleet_to_target(n, seed, args.max_s)
            runs[n].append(r)
            print(n, seed, r, flush=True)

    import ray

    local: dict[int, dict[str, float]] = {}
    sent: dict[tuple[str, int], int] = {}
    cluster: dict[int, dict[str, float]] = {}
    failed: list[str] = []
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False, address="local")
    try:
        for w in (0, 1, 2):
            local[w] = throughput(w)
            print("throughput", w, local[w], flush=True)
        sizes = {"es": [20, 200, 2000], "cem": [20, 200, 2000], "cma_es": [20, 200]}
        for n, ps in sizes.items():
            for p in ps:
                sent[(n, p)] = bytes_per_generation(n, p)
                print("bytes", n, p, sent[(n, p)], flush=True)
    except (ray.exceptions.RayError, RuntimeError) as err:  # e.g. the shared box's memory monitor killing a worker
        failed.append(f"local Ray part stopped: {str(err).splitlines()[0]}")
    finally:
        ray.shutdown()
    if not args.skip_cluster:
        try:
            for n in (1, 2, 4):
                cluster[n] = cluster_throughput(n)
                print("cluster", n, cluster[n], flush=True)
        except (ray.exceptions.RayError, RuntimeError) as err:
            failed.append(f"cluster part stopped: {str(err).splitlines()[0]}")
    write_report(args, runs, local, cluster, sent, failed, load_start, os.getloadavg()[0])


def write_report(args: argparse.Namespace, runs: dict[str, list[dict[str, Any]]], local: dict[int, dict[str, float]],
                 cluster: dict[int, dict[str, float]], sent: dict[tuple[str, int], int], failed: list[str],
                 load_start: float, load_end: float) -> None:
    ars = median(runs["ars"], "wall_s")
    ars_reached = sum(r["reached"] for r in runs["ars"])
    labels = {"es": "trainfleet es (jobs/rl/es_cartpole.yaml)", "cem": "trainfleet cem (jobs/rl/cem_cartpole.yaml)",
              "cma_es": "trainfleet cma_es (jobs/rl/cma_es_cartpole.yaml)",
              "ars": "sb3-contrib ARS, RL-Zoo CartPole-v1 (LinearPolicy, n_envs 2)"}
    lines = [
        "# Policy search on CartPole-v1: time to a greedy 475, throughput with workers, bytes per generation",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} vCPU shared with other jobs, torch {torch.__version__} "
        f"(1 thread), Python {platform.python_version()}. Generated by `python benchmarks/policy_search.py`; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. 1-min load average {load_start:.1f} at the start and "
        f"{load_end:.1f} at the end: other engineers' jobs shared the 2 cores, so absolute times are inflated "
        "and noisy; runs are interleaved by seed, and the ratios are the comparison.",
        "",
        "## 1. Wall time to a greedy return of 475 (mean of 5 episodes of the deterministic policy)",
        "",
        f"Seeds {args.seeds}, cap {args.max_s:.0f} s. trainfleet's greedy episodes are part of each generation "
        "(counted in its time and env steps); ARS's greedy checks run between its updates, off the clock.",
        "",
        "| algorithm | seeds reached | median wall s | median env steps | wall vs ARS |",
        "|---|---|---|---|---|",
    ]
    for n in ("es", "cem", "cma_es", "ars"):
        rows = runs[n]
        ratio = median(rows, "wall_s") / ars
        bound = "" if ars_reached == len(runs["ars"]) else " (ARS capped: an upper bound)"
        lines.append(f"| {labels[n]} | {sum(r['reached'] for r in rows)}/{len(rows)} | {median(rows, 'wall_s'):.1f} | "
                     f"{median(rows, 'env_steps'):,.0f} | {ratio:.2f}x{bound if n != 'ars' else ''} |")
    lines += ["", "Per seed (wall s / env steps / reached):", ""]
    for n, rows in runs.items():
        lines.append(f"- {n}: " + ", ".join(f"{r['wall_s']:.1f} / {r['env_steps']:,} / {'yes' if r['reached'] else 'no'}"
                                            for r in rows))
    base = local[1]["steps_per_s"] if 1 in local else float("nan")
    lines += [
        "",
        "## 2. Generation throughput (env steps/s), 400 members x 500 steps, 16 envs per worker",
        "",
        "| where | rollout workers | env steps/s | vs 1 worker | outside the workers, ms per generation | "
        "CPU per busy worker-second |",
        "|---|---|---|---|---|---|",
    ]
    for w, r in local.items():
        where = "this machine, in the trial process" if w == 0 else "this machine, Ray actors"
        lines.append(f"| {where} | {w} | {r['steps_per_s']:,.0f} | {r['steps_per_s'] / base:.2f}x | "
                     f"{r['outside_ms']:.0f} | {r['core_share']:.2f} |")
    if cluster:
        c1 = cluster[1]["steps_per_s"]
        for n, r in cluster.items():
            lines.append(f"| ray.cluster_utils.Cluster, {n} single-CPU node(s), one worker each | {n} | "
                         f"{r['steps_per_s']:,.0f} | {r['steps_per_s'] / c1:.2f}x (vs 1 node) | {r['outside_ms']:.0f} | "
                         f"{r['core_share']:.2f} |")
    lines += [
        "",
        "'Outside the workers' is a generation's wall time minus its slowest share's time inside "
        "`evaluate_share` (the learner's put, calls and gathering plus Ray's dispatch): the serial part. "
        "'CPU per busy worker-second' is the workers' CPU seconds over their busy seconds: below 1 a worker "
        "waited for a core (other processes, Ray's own) while it had work.",
        "",
        "The learner waits while a generation is evaluated, so the workers have the cores. On this "
        "2-vCPU box shared with other engineers the rows run minutes apart under different load (see "
        "the load averages above), so the ratios mix scaling with load changes: 2 workers can only gain "
        "what the other jobs leave free, and 4 single-CPU nodes share the same 2 cores, so a 4-node "
        "figure above the 2-node one is the box getting quieter, not speed. The cluster rows show the "
        "path (each node maps one copy of the noise table, one payload per generation); the gain "
        "needs real cores per node.",
        "",
        "## 3. Bytes sent to the workers per generation (2 workers, policy MLP [16])",
        "",
        "| algorithm | population | bytes per generation |",
        "|---|---|---|",
    ]
    for (n, p), b in sent.items():
        lines.append(f"| {n} | {p} | {b:,} |")
    lines += [
        "",
        "ES and CEM send the centre (and CEM its per-parameter std) once per generation plus a few scalars "
        "per worker: the bytes do not grow with the population. CMA-ES ships the explicit population that "
        "cma's `ask()` returns (population x parameters x 4 bytes).",
        "",
    ]
    lines += [f"Not measured in this run: {f}" for f in failed]
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
