"""Which executor runs a job: this process itself (`in_process`), or a Ray Tune trial (`ray`).

Most curriculum jobs are one trial that trains for seconds: starting Ray, a Tune experiment and a
trial actor costs more than their training. A job that needs nothing from Ray runs its trial
loop in the driver (`in_process.py`) and never imports Ray. `resources.executor` chooses:

- `auto` (default): in this process when the job is one trial (no `tune:`, no trial restarts:
  `checkpoint.max_failures: 0`), joins no cluster (no `--address`, no RAY_ADDRESS), and is native
  RL (or `backend: sb3`) with `rollout_workers: 0`, or a DL engine job on one worker without a GPU (not
  `trainer: ray_train`, not a text model); else `ray`.
- `in_process`: always in this process; a job that needs Ray is a spec error naming why.
- `ray`: always a Tune trial (sweeps, clusters, rollout actors, Ray Train, RLlib need it anyway).

The run directory records the executor that ran (spec.yaml), so `--resume` continues the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from trainfleet.errors import SpecError, UserError

if TYPE_CHECKING:
    from trainfleet.jobs import JobSpec

EXECUTORS = ("auto", "in_process", "ray")


def needs_ray(spec: JobSpec) -> str | None:
    """Why this job can only run on Ray, or None when this process can run it."""
    r = spec.resources
    if spec.tune is not None:
        return "a `tune:` sweep runs its trials on Ray Tune"
    if spec.checkpoint.max_failures > 0:
        return "checkpoint.max_failures restarts a failed trial through Ray Tune"
    if spec.is_rl:
        if spec.backend == "rllib":
            return "the rllib backend trains on Ray"
        if r.rollout_workers > 0:
            return f"rollout_workers: {r.rollout_workers} are Ray actors (0 steps the envs in this process)"
        return None
    from trainfleet.dl.text import TEXT_TASKS

    if spec.task in TEXT_TASKS:
        return f"{spec.task} models train on Ray Train workers or Ray tasks"
    if r.trainer == "ray_train":
        return "trainer: ray_train is a Ray Train TorchTrainer"
    if r.num_workers > 1:
        return f"num_workers: {r.num_workers} is data-parallel training on Ray Train"
    if r.use_gpu is True:
        return "use_gpu: true trains on Ray Train's GPU workers"
    return None


def check(spec: JobSpec, *, file: str | None) -> None:
    """Validation: `executor: in_process` on a job that needs Ray is a spec error that says why."""
    reason = needs_ray(spec) if spec.resources.executor == "in_process" else None
    if reason:
        raise SpecError(f"in_process cannot run this job: {reason}; use executor: ray (or auto)",
                        file=file, path="resources.executor")


def resolve(spec: JobSpec, address: str | None, resume_dir: str | Path | None = None) -> JobSpec:
    """The spec with `resources.executor` pinned to the executor that runs it (what spec.yaml records).

    `address` is the cluster to join (already resolved from --address / RAY_ADDRESS). A resumed run
    keeps the executor its spec.yaml records; one that says `auto` predates the in-process executor
    and ran on Tune.
    """
    chosen = spec.resources.executor
    if chosen == "auto":
        chosen = "ray" if resume_dir is not None or address or needs_ray(spec) or _local_gpu_wanted(spec) else "in_process"
    if chosen == "in_process" and address:
        what = "this run ran in this process" if resume_dir is not None else "resources.executor is in_process"
        raise UserError(f"{what}, but {address} names a Ray cluster to join; leave out --address "
                        "(and RAY_ADDRESS), or run the job with resources.executor: ray")
    return spec.model_copy(update={"resources": spec.resources.model_copy(update={"executor": chosen})})


def _local_gpu_wanted(spec: JobSpec) -> bool:
    """A DL job with `use_gpu: auto` on a machine with a GPU: Ray Train's GPU worker uses it."""
    if spec.is_rl or spec.resources.use_gpu != "auto":
        return False
    from trainfleet.launch.cluster import local_capacity

    return local_capacity()[1] >= 1
