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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[3]
JOBS = ROOT / "jobs"
TABULAR_JOB = JOBS / "rl" / "q_learning_frozenlake.yaml"

# Token authentication on, as on every trainfleet cluster (Ray's default token file). Ray reads
# the mode once, when it is imported: this must run before any `import ray`.
os.environ["RAY_AUTH_MODE"] = "token"
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    from ray.cluster_utils import Cluster

    head_args: dict[str, Any] = {"num_cpus": head_cpus, "include_dashboard": dashboard}
    if dashboard:
        head_args["dashboard_port"] = free_port()
        head_args["dashboard_host"] = "127.0.0.1"
        # Ray's fixed default (52365) may be held by another Ray on this machine; without its
        # agent the head's Jobs API answers "No available agent to submit job".
        head_args["dashboard_agent_listen_port"] = free_port()
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


def trainfleet(*args: str, env: dict[str, str] | None = None, drop: tuple[str, ...] = (), timeout: float = 240,
               **kw: Any) -> subprocess.CompletedProcess:
    """`trainfleet ARGS` in a child process (its own driver), output captured; `drop` unsets env vars."""
    child_env = {k: v for k, v in {**os.environ, **(env or {})}.items() if k not in drop}
    return subprocess.run(
        [sys.executable, "-m", "trainfleet", *args],
        capture_output=True, text=True, timeout=timeout, env=child_env, cwd=ROOT, **kw,
    )


def cli_result(proc: subprocess.CompletedProcess) -> dict[str, Any]:
    return {"rc": proc.returncode, "out": (proc.stdout + proc.stderr)[-2500:]}


def wait_for(predicate, timeout: float, interval: float = 0.5, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def run_dir_of(output: str) -> Path:
    """The run directory a `trainfleet run` printed last."""
    return Path([ln for ln in output.splitlines() if ln.startswith("run dir: ")][-1].removeprefix("run dir: ").strip())


def emit(result: dict[str, Any]) -> None:
    """The scenario's result: the last line of stdout, one JSON object."""
    print(json.dumps(result, default=str), flush=True)


class Proc:
    """A child process whose stdout is read line by line in the background (progress lines)."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        import threading

        self.lines: list[str] = []
        self.popen = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
            env={**os.environ, **(env or {})}, start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.popen.stdout:
            self.lines.append(line.rstrip("\n"))

    def iterations(self) -> int:
        """The highest `iter N` progress line printed so far."""
        its = [int(ln.split("|")[0].split()[-1]) for ln in self.lines if ln.startswith("iter ")]
        return max(its, default=0)

    def wait(self, timeout: float) -> int:
        rc = self.popen.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return rc

    def output(self) -> str:
        return "\n".join(self.lines)

    def kill_group(self) -> None:
        """SIGKILL the child and anything it started in its session (our own processes only)."""
        import signal

        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)


def trainfleet_proc(*args: str) -> Proc:
    return Proc([sys.executable, "-m", "trainfleet", *args])


# ---- fault injection ---------------------------------------------------------------------------
# The one place that reaches for Ray internals to cause faults; an upgrade touches only this.

@dataclass
class ActorInfo:
    name: str
    class_name: str
    node_id: str
    pid: int


def alive_actors(class_name: str | None = None, name_prefix: str = "") -> list[ActorInfo]:
    """Alive actors of the connected cluster, read from the GCS (no dashboard needed)."""
    from ray._private import state

    out = []
    for a in state.actors().values():
        if a["State"] != "ALIVE":
            continue
        info = ActorInfo(a["Name"] or "", a["ActorClassName"] or "", a["Address"]["NodeID"], a["Pid"])
        if (class_name is None or class_name in info.class_name) and info.name.startswith(name_prefix):
            out.append(info)
    return out


def sigkill_actor_process(actor: Any) -> None:
    """A crash, not a polite ray.kill: SIGKILL the actor's worker process (same machine)."""
    import signal

    os.kill(actor.pid, signal.SIGKILL)


def node_by_id(c: Any, node_id: str) -> Any:
    for node in [c.head_node, *c.worker_nodes]:
        if node.node_id == node_id:
            return node
    raise KeyError(node_id)


def remove_node(c: Any, node: Any) -> None:
    """Take a worker node away abruptly (its raylet and workers are killed)."""
    c.remove_node(node, allow_graceful=False)
