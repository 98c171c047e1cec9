"""Work spread over nodes: rollout workers (SPREAD), a rollout worker killed mid-run, and 2-node DDP.

Cluster: a head without CPUs and three worker nodes (then a fresh one-CPU-per-node cluster for DDP).
1. placement: the trial's placement group built by the platform (`launch.run.trial_resources`)
   lands its bundles on different nodes under SPREAD (and on one node under PACK).
2. rollouts: a PPO job with two rollout workers and `placement_strategy: SPREAD`; while it runs
   the scenario records which node each rollout actor is on, then SIGKILLs one of them. The
   pool replaces it; the run completes with every iteration recorded once.
3. DDP: the DL job `jobs/dl/mlp_digits.yaml` with `num_workers: 2` (Ray Train, DDP) on nodes of
   one CPU each, so its two Train workers run on two different nodes.

Usage: multinode.py OUT_DIR [ppo|ddp|all]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from _common import (
    JOBS, alive_actors, cluster, emit, run_dir_of, sigkill_actor_process, trainfleet, trainfleet_proc, wait_for,
)

PPO_ITERATIONS = 150
PPO_JOB = {
    "name": "spread-ppo",
    "algorithm": "ppo",
    "env": {"id": "CartPole-v1", "num_envs": 2},
    "resources": {"rollout_workers": 2, "cpus_per_worker": 1, "learner_cpus": 1, "placement_strategy": "SPREAD"},
    "hparams": {"n_steps": 64, "epochs": 2, "minibatch_size": 64},
    # Long enough that the run is still going when a worker is killed, even on an idle machine.
    "stop": {"iterations": PPO_ITERATIONS},
    "checkpoint": {"every": 2, "keep": 2},
    "seed": 0,
}


def bundle_nodes(strategy: str) -> list[str]:
    """Where the platform's placement group for a 2-rollout-worker trial puts its bundles."""
    import ray
    from ray.util.placement_group import placement_group_table, remove_placement_group

    from trainfleet import jobs
    from trainfleet.launch.run import trial_resources

    spec = jobs.JobSpec.model_validate({**PPO_JOB, "resources": {**PPO_JOB["resources"], "placement_strategy": strategy}})
    factory = trial_resources(spec)
    pg = factory()  # PlacementGroupFactory -> the placement group Tune would create
    ray.get(pg.ready(), timeout=60)
    try:
        table = placement_group_table(pg)
        return [table["bundles_to_node_id"][i] for i in range(len(factory.bundles))]
    finally:
        remove_placement_group(pg)
        # removal is asynchronous: the next placement group must see every CPU free again
        wait_for(lambda: ray.available_resources().get("CPU", 0) >= ray.cluster_resources()["CPU"], timeout=60,
                 what="the placement group's CPUs back")


def metrics_of(run_dir: Path) -> dict:
    import pyarrow.parquet as pq

    t = pq.read_table(run_dir / "metrics.parquet").to_pydict()
    return {k: t[k] for k in ("iteration", "env_steps", "worker_restarts", "episode_return_mean") if k in t}


def ppo_with_a_killed_worker(c, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    job = out / "spread_ppo.yaml"
    job.write_text(yaml.safe_dump(PPO_JOB))
    proc = trainfleet_proc("run", str(job), "--address", c.address, "--output", str(out))
    try:
        rollouts = wait_for(lambda: len(alive_actors(name_prefix="trainfleet-rollout-")) >= 2 and proc.iterations() >= 3
                            and alive_actors(name_prefix="trainfleet-rollout-"), timeout=240,
                            what="two rollout workers and 3 iterations")
        trial = alive_actors("ImplicitFunc")
        placed = {"rollout_nodes": sorted(a.node_id for a in rollouts), "learner_node": trial[0].node_id if trial else None}
        killed_at = proc.iterations()
        sigkill_actor_process(rollouts[0])
        rc = proc.wait(timeout=300)
    finally:
        proc.kill_group()
    run_dir = run_dir_of(proc.output())
    ev = trainfleet("eval", str(run_dir), "--episodes", "3", "--json", timeout=120)
    return {
        "rc": rc, **placed, "killed_at_iteration": killed_at, "stop_iterations": PPO_ITERATIONS, "output_tail": proc.output()[-2000:],
        "run_dir": str(run_dir), "metrics": metrics_of(run_dir),
        "summary": json.loads((run_dir / "summary.json").read_text()),
        "eval_rc": ev.returncode, "eval": ev.stdout.strip().splitlines()[-1] if ev.stdout.strip() else ev.stderr[-800:],
    }


def ddp(c, out: Path) -> dict:
    proc = trainfleet_proc("run", str(JOBS / "dl" / "mlp_digits.yaml"), "--address", c.address, "--output", str(out),
                           "--set", "resources.num_workers=2", "--set", "stop.epochs=2", "--set", "hparams.epochs=2",
                           "--set", "resources.use_gpu=false", "--set", "data.batch_size=128", "--set", "hparams.lr=0.01")
    seen: set[str] = set()

    def train_workers() -> bool:
        seen.update(a.node_id for a in alive_actors("TrainWorker"))
        return len(seen) >= 2 or proc.popen.poll() is not None

    try:
        wait_for(train_workers, timeout=300, interval=0.5, what="two Train workers")
        rc = proc.wait(timeout=300)
    finally:
        proc.kill_group()
    run_dir = run_dir_of(proc.output()) if "run dir: " in proc.output() else None
    return {
        "rc": rc, "train_worker_nodes": sorted(seen), "output_tail": proc.output()[-2500:],
        "run_dir": str(run_dir) if run_dir else None,
        "metrics": metrics_of(run_dir) if run_dir and (run_dir / "metrics.parquet").exists() else None,
        "summary": json.loads((run_dir / "summary.json").read_text()) if run_dir else None,
    }


def main(out: Path, which: str) -> None:
    result: dict = {}
    # Three nodes of two CPUs: PACK fits the 3 one-CPU bundles on two nodes, SPREAD uses all three.
    with cluster(head_cpus=0, workers=[2, 2, 2]) as c:
        result["worker_nodes"] = sorted(n.node_id for n in c.worker_nodes)
        result["pack_bundles"] = bundle_nodes("PACK")
        result["spread_bundles"] = bundle_nodes("SPREAD")
        if which in ("ppo", "all"):
            result["ppo"] = ppo_with_a_killed_worker(c, out / "ppo")
    if which in ("ddp", "all"):
        # One CPU per worker node and none on the head: Train's two workers (one CPU each)
        # cannot share a node.
        with cluster(head_cpus=0, workers=[1, 1]) as c:
            result["ddp_nodes"] = sorted(n.node_id for n in [c.head_node, *c.worker_nodes])
            result["ddp"] = ddp(c, out / "ddp")
    emit(result)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "all")
