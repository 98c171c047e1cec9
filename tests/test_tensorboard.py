"""`trainfleet tensorboard RUN...`: the platform's metric names as TensorBoard scalars, several runs
side by side, served by a real TensorBoard and opened in headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from trainfleet.tensorboard import export_events

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HEADLESS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]
METRICS = {"episode_return_mean", "env_steps", "env_steps_per_s", "time_s"}


def trainfleet(*argv: str, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "trainfleet", *argv], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, **popen)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> list[Path]:
    """Two in-process Q-learning runs (different seeds): no Tune, so no event files of their own."""
    out = tmp_path_factory.mktemp("runs")
    dirs = []
    for seed in (0, 1):
        proc = trainfleet("run", str(ROOT / "jobs" / "rl" / "q_learning_frozenlake.yaml"), "--output", str(out),
                          "--set", "stop.iterations=3", "--set", f"seed={seed}", "--set", "hparams.episodes_per_iteration=50")
        text = proc.communicate(timeout=300)[0]
        assert proc.returncode == 0, text[-1000:]
        dirs.append(Path(text.strip().splitlines()[-1].removeprefix("run dir: ")))
    return dirs


def scalars(events_dir: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(events_dir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_events_hold_every_metric_at_its_iteration(two_runs):
    run_dir = two_runs[0]
    assert not list(run_dir.rglob("events.out.tfevents*"))  # an in-process run wrote none while training
    (trial,) = export_events(run_dir).iterdir()
    got = scalars(trial)
    assert METRICS <= set(got)
    rows = pq.read_table(run_dir / "metrics.parquet").to_pylist()
    steps, values = zip(*got["episode_return_mean"])
    assert list(steps) == [r["iteration"] for r in rows] == [1, 2, 3]
    assert list(values) == pytest.approx([r["episode_return_mean"] for r in rows], rel=1e-6)  # float32 in events


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_tensorboard_shows_both_runs_side_by_side(two_runs, tmp_path):
    port = free_port()
    server = trainfleet("tensorboard", *map(str, two_runs), "--port", str(port))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        runs: object = []
        while time.monotonic() < deadline:
            try:
                runs = get_json(f"{base}/data/runs")
                if isinstance(runs, list) and len(runs) == 2:
                    break
            except OSError:
                pass
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            time.sleep(1)
        assert sorted(r.split("/")[0] for r in runs) == sorted(d.name for d in two_runs), runs
        tags = get_json(f"{base}/data/plugin/scalars/tags")  # what TensorBoard's charts are drawn from
        assert isinstance(tags, dict) and all(METRICS <= set(t) for t in tags.values()), tags
        assert CHROMIUM, "needs Debian's chromium: `apt-get install chromium` (.ci/run does)"
        common = [CHROMIUM, *HEADLESS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000",
                  "--window-size=1400,1000"]
        shot = tmp_path / "tensorboard.png"
        subprocess.run([*common, f"--screenshot={shot}", f"{base}/#timeseries"], check=True, capture_output=True, timeout=120)
        assert shot.read_bytes()[:4] == b"\x89PNG" and shot.stat().st_size > 20_000
        dom = subprocess.run([*common, "--dump-dom", f"{base}/#timeseries"], check=True, capture_output=True,
                             text=True, timeout=120).stdout
        visible = re.sub(r"<[^>]+>", " ", dom)
        assert "episode_return_mean" in visible and all(d.name in visible for d in two_runs)
    finally:
        os.killpg(server.pid, signal.SIGINT)  # Ctrl-C: the command stops its TensorBoard too
        server.wait(timeout=60)


def test_a_missing_run_directory_is_one_line(tmp_path):
    proc = trainfleet("tensorboard", str(tmp_path / "nowhere"))
    text = proc.communicate(timeout=60)[0]
    assert proc.returncode == 2 and "no metrics.parquet" in text and "Traceback" not in text, text
