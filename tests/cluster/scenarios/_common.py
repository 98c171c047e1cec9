"""Shared plumbing for the multi-node scenario scripts (each runs in its own Python process).

A scenario builds a real multi-node Ray cluster on this machine (`ray.cluster_utils.Cluster`:
a head and worker nodes as separate raylets), does its work, prints ONE line of JSON as
the last line of stdout, and always shuts the cluster down. It never runs `ray stop`.

`RAY_TMPDIR` is set to a private directory by the test that starts the scenario, so the
cluster's address file (`ray_current_cluster`) and sessions never touch the default
/tmp/ray that other Ray instances on this machine use.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[3]
JOBS = ROOT / "jobs"
TABULAR_JOB = JOBS / "rl" / "q_learning_frozenlake.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def token_env() -> dict[str, str]:
    """Token authentication on, as on every trainfleet cluster (Ray's default token file)."""
    os.environ["RAY_AUTH_MODE"] = "token"
    return {"RAY_AUTH_MODE": "token"}


@contextlib.contextmanager
def cluster(
    head_cpus: float = 1,
    workers: list[float] = (1,),
    *,
    dashboard: bool = False,
    metrics_port: int | None = None,
    connect: bool = True,
    system_config: dict[str, Any] | None = None,
) -> Iterator[Any]:
    """A head plus one worker node per entry of `workers` (its CPU count); always shut down."""
    token_env()
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    from ray.cluster_utils import Cluster

    head_args: dict[str, Any] = {"num_cpus": head_cpus, "include_dashboard": dashboard}
    if dashboard:
        head_args["dashboard_port"] = free_port()
        head_args["dashboard_host"] = "127.0.0.1"
    if metrics_port:
        head_args["metrics_export_port"] = metrics_port
    if system_config:
        head_args["_system_config"] = system_config
    c = Cluster(initialize_head=True, head_node_args=head_args)
    try:
        for cpus in workers:
            c.add_node(num_cpus=cpus)
        c.wait_for_nodes()
        if connect:
            import ray

            ray.init(address=c.address, logging_level="WARNING", log_to_driver=False)
        yield c
    finally:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        c.shutdown()


def dashboard_url(c: Any) -> str:
    return "http://" + c.webui_url


def trainfleet(*args: str, env: dict[str, str] | None = None, timeout: float = 240, **kw: Any) -> subprocess.CompletedProcess:
    """`trainfleet ARGS` in a child process (its own driver), output captured."""
    return subprocess.run(
        [sys.executable, "-m", "trainfleet", *args],
        capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}, cwd=ROOT, **kw,
    )


def wait_for(predicate, timeout: float, interval: float = 0.5, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def emit(result: dict[str, Any]) -> None:
    """The scenario's result: the last line of stdout, one JSON object."""
    print(json.dumps(result, default=str), flush=True)
