"""Running the multi-node scenario scripts: each in its own Python process, own Ray temp dir."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

SCENARIOS = Path(__file__).parent / "scenarios"


def run_scenario(name: str, *args: str, timeout: float = 240) -> dict[str, Any]:
    """Run scenarios/NAME.py; its last stdout line is a JSON result. Fails with its output."""
    # A private, short RAY_TMPDIR: the scenario's cluster never becomes the "current" Ray
    # cluster that a plain ray.init() elsewhere on this machine would join, and socket
    # paths stay under the kernel's length limit.
    tmp = tempfile.mkdtemp(prefix="tfg", dir="/tmp")
    env = {**os.environ, "RAY_TMPDIR": tmp, "PYTHONUNBUFFERED": "1"}
    env.pop("RAY_ADDRESS", None)
    try:
        proc = subprocess.run(
            [sys.executable, str(SCENARIOS / f"{name}.py"), *args],
            capture_output=True, text=True, timeout=timeout, env=env,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        pytest.fail(
            f"scenario {name} exited {proc.returncode}\n--- stdout ---\n{proc.stdout[-6000:]}"
            f"\n--- stderr ---\n{proc.stderr[-6000:]}"
        )
    return json.loads(lines[-1])
