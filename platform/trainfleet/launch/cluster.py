"""Starting or joining Ray: an embedded single-node instance, or a cluster by address."""

from __future__ import annotations

import glob
import logging
import os
import time

from trainfleet import jobs
from trainfleet.errors import UserError


def target_address(address: str | None) -> str | None:
    """The cluster to join: --address, else RAY_ADDRESS (set by `ray job submit`), else None."""
    source = "--address" if address else "RAY_ADDRESS"
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address and address.startswith(("http://", "https://")):
        raise UserError(
            f"{source}={address} is a dashboard (Jobs API) address: `trainfleet submit JOB --address {address}` "
            "sends the job there; `trainfleet run --address` joins a cluster by its GCS address (HOST:6379)"
        )
    return address


def local_capacity() -> tuple[float, float]:
    """(cpus, gpus) an embedded Ray would have on this machine, without importing torch or Ray.

    GPUs are counted from the NVIDIA driver's /proc entries (what Ray's own detection sees),
    limited by CUDA_VISIBLE_DEVICES when that is set.
    """
    cpus = float(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    gpus = len(glob.glob("/proc/driver/nvidia/gpus/*"))
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        gpus = min(gpus, len([d for d in visible.split(",") if d.strip()]))
    return cpus, float(gpus)


def connect(address: str | None, *, dashboard: bool = False) -> float:
    """Start or join Ray; returns the seconds it took, `import ray` included (what every run pays).

    An embedded Ray starts without the dashboard (its web server and agents are most of the
    optional start-up work; `--dashboard` brings it back) and without usage-stats reporting,
    which on a machine without network only waits on timeouts. Both stay user-overridable.
    """
    t0 = time.perf_counter()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    if ray.is_initialized():
        return 0.0
    common = dict(logging_level=logging.WARNING, log_to_driver=False)
    if address:
        ray.init(address=address, **common)
    else:
        ray.init(address="local", include_dashboard=dashboard, **common)
    return time.perf_counter() - t0


def cluster_capacity() -> tuple[float, float]:
    import ray

    res = ray.cluster_resources()
    return float(res.get("CPU", 0)), float(res.get("GPU", 0))


def check_fits(spec: jobs.JobSpec, file: str | None, address: str | None) -> None:
    """Before starting Ray locally (or right after joining a cluster), refuse impossible requests."""
    if address:
        cpus, gpus = cluster_capacity()
        jobs.check_capacity(spec, cpus, gpus, file=file, where="the cluster")
    else:
        cpus, gpus = local_capacity()
        jobs.check_capacity(spec, cpus, gpus, file=file)
