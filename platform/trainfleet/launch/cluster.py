"""Starting or joining Ray: an embedded single-node instance, or a cluster by address."""

from __future__ import annotations

import glob
import logging
import os
import socket
import time
from typing import Any

from trainfleet import jobs
from trainfleet.errors import UserError

ANSWER_TIMEOUT_S = 5.0  # a cluster that does not accept a connection by then is not there
CLUSTER_FILE = "ray_current_cluster"  # where `ray start` records the address `auto` means


def target_address(address: str | None) -> str | None:
    """The cluster to join: --address, else RAY_ADDRESS (set by `ray job submit`), else None (a
    fresh local Ray). Checked to answer first, so a dead cluster is one line, not minutes of retries."""
    source = "--address" if address else "RAY_ADDRESS"
    address = address or os.environ.get("RAY_ADDRESS") or None
    if not address or address == "local":
        return None
    if address.startswith(("http://", "https://")):
        raise UserError(
            f"{source}={address} is a dashboard (Jobs API) address: `trainfleet submit JOB --address {address}` "
            "sends the job there; `trainfleet run --address` joins a cluster by its GCS address (HOST:6379)"
        )
    if address == "auto":
        address = _recorded_cluster(source)
    _check_answers(address, source)
    return address


def _recorded_cluster(source: str) -> str:
    """What `auto` means to Ray: the address the last `ray start` on this machine wrote down."""
    path = os.path.join(os.environ.get("RAY_TMPDIR") or "/tmp/ray", CLUSTER_FILE)
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        raise UserError(f"{source}=auto: no Ray cluster recorded on this machine ({path} is missing); "
                        "give the cluster's HOST:PORT, or leave the address out for a local Ray") from None


def _check_answers(address: str, source: str) -> None:
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"{source}={address}: expected HOST:PORT (the cluster's GCS address, e.g. 10.0.0.5:6379)")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=ANSWER_TIMEOUT_S).close()
    except OSError as err:
        raise UserError(f"{source}={address}: no Ray cluster answers there ({err.strerror or err}); "
                        "start it, fix the address, or leave it out to run on a local Ray") from None


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
    common: dict[str, Any] = dict(logging_level=logging.WARNING, log_to_driver=False)
    # Always an explicit address: Ray's own default follows ray_current_cluster, which a crashed
    # cluster leaves behind, and then hangs on a dead GCS.
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
