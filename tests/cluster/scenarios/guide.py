"""docs/cluster.md, "Try it on one machine", run as written (on free ports).

The shell commands of the guide's first code block are executed in order, with changes
that keep this machine's other Ray instances safe: the well-known ports become free ones
(also Ray's fixed default agent and client-server ports, which another Ray on this machine
may hold), the second node's temp dir moves into this run's RAY_TMPDIR, each `ray start`
also gets `--block` so this script owns the node's processes, and `ray stop` (which would
stop every Ray on the machine) becomes stopping exactly the nodes started here. `SUBMISSION_ID` becomes the id `trainfleet submit` printed. (Plain
`ray job submit` of a trainfleet job is covered by the tests of `trainfleet submit`.)

Usage: guide.py   (prints the commands run, their exit codes and output tails as JSON)
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from _common import ROOT, emit, free_port, wait_for

GUIDE = ROOT / "docs" / "cluster.md"


def code_blocks(section: str) -> list[list[str]]:
    text = GUIDE.read_text()
    body = text.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", body, flags=re.S)
    return [[ln.split("  #")[0].strip() for ln in b.splitlines() if ln.strip()] for b in blocks]


def main() -> None:
    ports = {p: str(free_port()) for p in ("6379", "8265", "8080", "52365", "52366")}
    blocks = code_blocks("Try it on one machine")
    commands = blocks[0]
    env = dict(os.environ)
    env.pop("RAY_ADDRESS", None)
    nodes: list[subprocess.Popen] = []
    steps = []
    submission_id = "SUBMISSION_ID"  # what `trainfleet submit` prints replaces the guide's placeholder
    token = os.path.expanduser("~/.ray/auth_token")
    try:
        for raw in commands:
            cmd = raw.replace("SUBMISSION_ID", submission_id).replace("/tmp/ray-node2", f"{os.environ['RAY_TMPDIR']}/node2")
            for old, new in ports.items():
                cmd = re.sub(rf"\b{old}\b", new, cmd)
            argv = shlex.split(cmd)
            step = {"command": raw, "ran": cmd}
            steps.append(step)
            if argv[0] == "export":
                key, value = argv[1].split("=", 1)
                env[key] = value
                step["rc"] = 0
            elif argv[:2] == ["ray", "start"]:
                if not any(a.startswith("--dashboard-agent-listen-port") for a in argv):  # Ray's default 52365
                    argv.append(f"--dashboard-agent-listen-port={ports['52365']}")
                if "--head" in argv:
                    argv.append(f"--ray-client-server-port={free_port()}")  # Ray's default 10001
                step["ran"] = shlex.join(argv)
                log = open(Path(tempfile.mkdtemp()) / "node.log", "w")
                node = subprocess.Popen(argv + ["--block"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
                node.log_path = log.name
                nodes.append(node)
                url = f"http://127.0.0.1:{ports['8265']}"
                headers = {"Authorization": "Bearer " + open(token).read().strip()}

                def alive_nodes() -> int:
                    try:
                        r = requests.get(f"{url}/nodes?view=summary", headers=headers, timeout=5)
                        return len([n for n in r.json()["data"]["summary"] if n["raylet"]["state"] == "ALIVE"])
                    except (requests.RequestException, ValueError, KeyError):
                        return 0

                try:
                    wait_for(lambda: alive_nodes() >= len(nodes) or node.poll() is not None, timeout=240, interval=1.0,
                             what=f"node {len(nodes)}")
                    step["rc"] = 0 if node.poll() is None else node.returncode
                except TimeoutError:
                    step["rc"] = "timeout"
                if step["rc"] != 0:
                    step["out"] = Path(node.log_path).read_text()[-1500:]
            elif argv[:2] == ["ray", "stop"]:
                step["rc"] = stop(nodes)
                nodes = []
            else:
                t0 = time.monotonic()
                proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
                for _ in range(10):  # as a reader would: Ray says "try again later" while the head's agent starts
                    if "No available agent to submit job" not in proc.stdout + proc.stderr:
                        break
                    step["retried"] = step.get("retried", 0) + 1
                    time.sleep(3)
                    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
                step.update(rc=proc.returncode, s=round(time.monotonic() - t0, 1),
                            out=proc.stdout[-1500:] + "\n--- stderr ---\n" + proc.stderr[-600:])
                printed = re.search(r"^submitted: (\S+)", proc.stdout, flags=re.M)
                if argv[:2] == ["trainfleet", "submit"] and printed:
                    submission_id = printed.group(1)
            if step["rc"] != 0:
                break
            if argv[:2] == ["trainfleet", "status"]:
                # the guide's status line, repeated until the job is done, must end SUCCEEDED
                def finished() -> str | None:
                    p = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
                    return p.stdout if re.search(r"SUCCEEDED|FAILED|STOPPED", p.stdout) else None

                step["final_status"] = wait_for(finished, timeout=240, interval=3.0, what="the job to finish")
    finally:
        stop(nodes)
    emit({"ports": ports, "steps": steps})


def stop(nodes: list[subprocess.Popen]) -> int:
    """Stop the Ray nodes this script started — and nothing else."""
    for node in reversed(nodes):
        if node.poll() is None:
            node.send_signal(signal.SIGTERM)  # `ray start --block` then stops its node's processes
            try:
                node.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(node.pid, signal.SIGKILL)
                node.wait(timeout=10)
        try:
            os.killpg(node.pid, signal.SIGKILL)  # anything of that node left in its session
        except ProcessLookupError:
            pass
    return 0


if __name__ == "__main__":
    main()
