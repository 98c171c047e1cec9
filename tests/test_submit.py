"""`trainfleet submit | status | logs | stop` against a real `ray start --head` on loopback,
token authentication on (Ray 2.60's default), plus plain `ray job submit`.

The head is a child process group this module owns and kills; its temp dir is private so no
other `ray.init()` on the machine ever mistakes it for "the current cluster".
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from trainfleet.cli import main

ROOT = Path(__file__).resolve().parents[1]
QL = "jobs/rl/q_learning_frozenlake.yaml"
QUICK = ["--set", "stop.iterations=3", "--set", "hparams.episodes_per_iteration=50"]


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def wait_for_dashboard(url: str, proc: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "ray start --head exited"
        try:
            urllib.request.urlopen(f"{url}/api/version", timeout=2)
            return
        except urllib.error.HTTPError:  # 401: up, and asking for the token
            return
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"no dashboard at {url}")


@pytest.fixture(scope="module")
def head():
    gcs, dash, client, agent = free_ports(4)
    temp_dir = tempfile.mkdtemp(prefix="tfh", dir="/tmp")  # short: Ray's socket paths have a length limit
    proc = subprocess.Popen(
        ["ray", "start", "--head", "--block", "--port", str(gcs), "--dashboard-host", "127.0.0.1",
         "--dashboard-port", str(dash), "--ray-client-server-port", str(client),
         "--dashboard-agent-listen-port", str(agent), "--num-cpus", "2", "--temp-dir", temp_dir,
         "--disable-usage-stats"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"http://127.0.0.1:{dash}"
    try:
        wait_for_dashboard(url, proc)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        # Ray's daemons may outlive `ray start` itself: take the whole process group down.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)
        shutil.rmtree(temp_dir, ignore_errors=True)


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_submit_waits_streams_logs_and_reports(head, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    rc, out, err = cli(capsys, "submit", QL, "--address", head, *QUICK)
    assert rc == 0, out[-2000:] + err[-2000:]
    ids = [ln.split()[1] for ln in out.splitlines() if ln.startswith("submitted: ")]
    assert len(ids) == 1 and ids[0].startswith("raysubmit_")
    assert "iter     3 | env_steps" in out and "run dir: " in out  # streamed from the cluster
    assert f"job {ids[0]}: SUCCEEDED" in out

    rc, out, _ = cli(capsys, "status", ids[0], "--address", head)
    assert rc == 0
    assert "status:     SUCCEEDED" in out
    assert "progress:   iteration 3, env steps " in out
    assert f"dashboard:  {head}/#/jobs/{ids[0]}" in out

    rc, out, _ = cli(capsys, "logs", ids[0], "--address", head)
    assert rc == 0 and "stopped: iterations" in out and "run dir: " in out


def test_no_wait_then_stop(head, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    rc, out, _ = cli(capsys, "submit", QL, "--address", head, "--no-wait", "--set", "stop.iterations=100000")
    assert rc == 0
    job_id = out.split("submitted: ")[1].split()[0]
    rc, out, _ = cli(capsys, "stop", job_id, "--address", head)
    assert rc == 0 and "stop requested" in out
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rc, out, _ = cli(capsys, "status", job_id, "--address", head)
        if "status:     STOPPED" in out:
            break
        time.sleep(1)
    assert "status:     STOPPED" in out


def test_plain_ray_job_submit(head):
    env = {**os.environ, "RAY_ADDRESS": head, "RAY_AUTH_MODE": "token"}
    out = subprocess.run(
        ["ray", "job", "submit", "--working-dir", ".", "--", "trainfleet", "run", QL, *QUICK],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "iter     3 | env_steps" in out.stdout and "succeeded" in out.stdout


def test_wrong_token_is_a_clear_error(head, capsys, monkeypatch):
    monkeypatch.setenv("RAY_AUTH_TOKEN", "not-the-token")
    rc, _, err = cli(capsys, "status", "raysubmit_x", "--address", head)
    assert rc == 2 and "rejected the token" in err and "Traceback" not in err


def test_missing_token_is_a_clear_error(head, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    env["HOME"] = str(tmp_path)  # no ~/.ray/auth_token here
    out = subprocess.run([sys.executable, "-m", "trainfleet", "status", "raysubmit_x", "--address", head],
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2, out.stderr[-2000:]
    assert "requires a token and none was found" in out.stderr and "Traceback" not in out.stderr


def test_submit_rejects_a_bad_spec_before_uploading(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    rc, _, err = cli(capsys, "submit", QL, "--address", "http://127.0.0.1:1", "--set", "hparams.alpah=1")
    assert rc == 2 and "hparams.alpah" in err
