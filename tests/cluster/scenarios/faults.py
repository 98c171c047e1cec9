"""Faults on a three-node cluster, nothing lost: a worker node dies mid-run, then the driver does.

1. node: `trainfleet run --address` with `checkpoint.max_failures`; once it is a few iterations
   in, the node that hosts its trial is removed. Tune restarts the trial from its last
   checkpoint on the surviving node and the run completes.
2. driver: a second run's `trainfleet run` process is SIGKILLed mid-run; `trainfleet run
   --resume RUN_DIR` continues it from its last checkpoint and completes.

For both, the scenario reports metrics.parquet's iterations and `trainfleet eval` of the result.

Usage: faults.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from _common import (
    TABULAR_JOB, alive_actors, cluster, emit, node_by_id, remove_node, run_dir_of, trainfleet, trainfleet_proc,
    wait_for,
)

ITERATIONS = 24


def run_args(c, out: Path, name: str, *extra: str) -> list[str]:
    return [
        "run", str(TABULAR_JOB), "--address", c.address, "--output", str(out), "--set", f"name={name}",
        "--set", f"stop.iterations={ITERATIONS}", "--set", "hparams.episodes_per_iteration=1500",
        "--set", "checkpoint.every=2", "--set", "checkpoint.keep=2", *extra,
    ]


def table(run_dir: Path) -> dict:
    import pyarrow.parquet as pq

    t = pq.read_table(run_dir / "metrics.parquet").to_pydict()
    return {"iterations": t["iteration"], "trial_ids": sorted(set(t["trial_id"])), "env_steps": t["env_steps"]}


def trial_failures(run_dir: Path) -> list[str]:
    """Tune's record of each trial failure it recovered from (first line of each)."""
    return [ln for f in run_dir.glob("tune/trial_*/error.txt") for ln in f.read_text().splitlines()
            if ln.startswith("Failure #")]


def evaluate(run_dir: Path) -> dict:
    proc = trainfleet("eval", str(run_dir), "--episodes", "5", "--json", timeout=120)
    if proc.returncode != 0:
        return {"rc": proc.returncode, "stderr": proc.stderr[-1500:]}
    return {"rc": 0, **json.loads(proc.stdout.strip().splitlines()[-1])}


def node_fault(c, out: Path) -> dict:
    proc = trainfleet_proc(*run_args(c, out, "node-fault", "--set", "checkpoint.max_failures=3"))
    try:
        wait_for(lambda: proc.iterations() >= 5 or proc.popen.poll() is not None, timeout=180, what="5 iterations")
        trials = wait_for(lambda: alive_actors("ImplicitFunc"), timeout=30, what="the trial actor")
        victim_node = trials[0].node_id
        killed_at = proc.iterations()
        remove_node(c, node_by_id(c, victim_node))
        c.add_node(num_cpus=1)  # the autoscaler's part: capacity comes back
        rc = proc.wait(timeout=240)
    finally:
        proc.kill_group()
    survivors = alive_actors("ImplicitFunc")
    run_dir = run_dir_of(proc.output())
    return {
        "rc": rc, "killed_at_iteration": killed_at, "victim_node": victim_node,
        "output_tail": proc.output()[-2500:], "run_dir": str(run_dir),
        "summary": json.loads((run_dir / "summary.json").read_text()), "metrics": table(run_dir),
        "eval": evaluate(run_dir), "trials_alive_after": len(survivors), "failures": trial_failures(run_dir),
    }


def driver_fault(c, out: Path) -> dict:
    proc = trainfleet_proc(*run_args(c, out, "driver-fault"))
    try:
        wait_for(lambda: proc.iterations() >= 7 or proc.popen.poll() is not None, timeout=180, what="7 iterations")
        killed_at = proc.iterations()
    finally:
        proc.kill_group()  # SIGKILL: no chance to save anything
    first_output = proc.output()
    run_dir = next(out.glob("driver-fault-*"))
    ckpt_before = json.loads((run_dir / "checkpoints" / "latest" / "progress.json").read_text())["iteration"] \
        if (run_dir / "checkpoints" / "latest" / "progress.json").exists() else None
    resumed = trainfleet("run", "--resume", str(run_dir), "--address", c.address, timeout=300)
    return {
        "killed_at_iteration": killed_at, "checkpoint_before_resume": ckpt_before,
        "first_tail": first_output[-800:], "resume_rc": resumed.returncode,
        "resume_tail": (resumed.stdout + resumed.stderr)[-2500:], "run_dir": str(run_dir),
        "summary": json.loads((run_dir / "summary.json").read_text()) if (run_dir / "summary.json").exists() else None,
        "metrics": table(run_dir), "eval": evaluate(run_dir),
    }


def main(out: Path) -> None:
    result = {"expected_iterations": ITERATIONS}
    # Head without CPUs: trials run on the two worker nodes, as on a real cluster.
    with cluster(head_cpus=0, workers=[1, 1]) as c:
        result["node"] = node_fault(c, out / "node")
        result["driver"] = driver_fault(c, out / "driver")
    emit(result)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
