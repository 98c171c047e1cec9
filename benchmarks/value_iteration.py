"""Value iteration: trainfleet's sparse-matrix sweeps vs the notes' per-state Python loop.

The notes give value iteration as V(s) <- max_a sum_s' P(s'|s,a)[R + gamma V(s')] (L1159,
L1929); written literally that is a loop over states, actions and outcomes. trainfleet does
each sweep as one sparse matrix-vector product (rl/tabular/model.py). Both run synchronous
sweeps from V = 0 to the same threshold on the notes' slippery grid (gamma 0.9, slip 0.2,
10% obstacles) at 10^4..10^6 states; the loop runs only on the sizes it finishes in
reasonable time. Time covers the sweeps (model building is listed apart); peak memory
(tracemalloc, measured in a separate run because tracing slows Python loops) covers the
model in the form each method uses plus one sweep. Both must give the same V.

    python benchmarks/value_iteration.py                 # full table -> benchmarks/results/value_iteration.md
    python benchmarks/value_iteration.py --sizes 50 100 --loop-max 100
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import tracemalloc
from pathlib import Path

import numpy as np

from trainfleet.rl.envs.slippery_grid import GAMMA, SlipperyGridEnv
from trainfleet.rl.tabular.planning import value_iteration_sweep
from trainfleet.rl.tabular.model import TabularModel

THETA = 1e-6
RESULTS = Path(__file__).parent / "results" / "value_iteration.md"


def peak_mib(fn) -> float:
    """Peak traced memory of fn() in MiB (run apart from the timings: tracing slows Python loops ~20x)."""
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return peak


def vectorised(env: SlipperyGridEnv) -> tuple[np.ndarray, int, float, float, float]:
    """(V, sweeps, seconds of model build, seconds of sweeps, MiB the model keeps)."""
    t0 = time.perf_counter()
    model = TabularModel.from_env(env)
    build = time.perf_counter() - t0
    v = np.zeros(model.n_states)
    t0 = time.perf_counter()
    sweeps = 0
    while True:
        v_new, _ = value_iteration_sweep(model, v, GAMMA)
        sweeps += 1
        delta = np.abs(v_new - v).max()
        v = v_new
        if delta < THETA:
            break
    kept = (model.P.data.nbytes + model.P.indices.nbytes + model.P.indptr.nbytes + model.R.nbytes) / 2**20
    return v, sweeps, build, time.perf_counter() - t0, kept


def vectorised_memory(env: SlipperyGridEnv) -> float:
    """Model + one sweep (later sweeps reuse the same amount)."""
    return peak_mib(lambda: value_iteration_sweep(TabularModel.from_env(env), np.zeros(env.grid.size), GAMMA))


def loop_sweep(P: dict, V: list[float]) -> tuple[list[float], float]:
    """One sweep of the notes' pseudocode, literally: every state, every action, every outcome."""
    new_v = [0.0] * len(V)
    delta = 0.0
    actions = range(len(P[0]))
    for s in range(len(V)):
        best = -float("inf")
        for a in actions:
            total = 0.0
            for prob, nxt, reward, terminated in P[s][a]:
                total += prob * (reward + (0.0 if terminated else GAMMA * V[nxt]))
            best = max(best, total)
        new_v[s] = best
        delta = max(delta, abs(best - V[s]))
    return new_v, delta


def python_loop(env: SlipperyGridEnv) -> tuple[np.ndarray, int, float]:
    """(V, sweeps, seconds of sweeps) over the FrozenLake-style dict P[s][a] = [(prob, s', r, terminated)]."""
    P = env.P  # built (and cached) before the clock starts
    V = [0.0] * len(P)
    t0 = time.perf_counter()
    sweeps = 0
    while True:
        V, delta = loop_sweep(P, V)
        sweeps += 1
        if delta < THETA:
            break
    return np.array(V), sweeps, time.perf_counter() - t0


def loop_memory(env: SlipperyGridEnv) -> float:
    """The P dict + one sweep (env.P is built inside the trace, then cached for the timed run)."""
    return peak_mib(lambda: loop_sweep(env.P, [0.0] * env.grid.size))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 100, 316, 1000], help="grid side lengths")
    parser.add_argument("--loop-max", type=int, default=100, help="largest side the Python loop runs on")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    load = os.getloadavg()[0]

    header = (
        "| grid | states | model build s | vectorised s | sweeps | ns / state-sweep | model MiB | peak MiB | "
        "loop s | loop sweeps | loop peak MiB | speed-up | max abs(dV) |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    rows = []
    print(header)
    for side in args.sizes:
        env = SlipperyGridEnv(size=side, slip=0.2)
        peak = vectorised_memory(env)
        v, sweeps, build, seconds, kept = vectorised(env)
        per = seconds / (sweeps * env.grid.size) * 1e9
        loop = ["—"] * 5
        if side <= args.loop_max:
            loop_peak = loop_memory(env)
            v_loop, loop_sweeps, loop_s = python_loop(env)
            diff = np.abs(v_loop - v).max()
            loop = [f"{loop_s:.2f}", str(loop_sweeps), f"{loop_peak:.1f}", f"{loop_s / seconds:.0f}x", f"{diff:.1e}"]
        row = f"| {side}x{side} | {env.grid.size:,} | {build:.2f} | {seconds:.3f} | {sweeps} | {per:.1f} | {kept:.1f} | {peak:.1f} | " + " | ".join(loop) + " |"
        print(row, flush=True)
        rows.append(row)

    machine = f"{os.cpu_count()} CPUs (load average {load:.1f} at start), Python {platform.python_version()}, numpy {np.__version__}"
    import scipy

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        "# Value iteration: sparse-matrix sweeps vs the notes' per-state Python loop\n\n"
        f"Slippery grid (gamma {GAMMA}, slip 0.2, 10% obstacles), synchronous sweeps from V = 0 to "
        f"max |dV| < {THETA:g}. `python benchmarks/value_iteration.py` on {machine}, scipy "
        f"{scipy.__version__}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n"
        "Speed-up = loop seconds / vectorised seconds on the same grid (same number of sweeps, same V). "
        "Model MiB = the sparse P and R kept for the sweeps; peak MiB = building the model as each "
        "method holds it plus one sweep (tracemalloc).\n\n"
        + header + "\n" + "\n".join(rows) + "\n"
    )
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
