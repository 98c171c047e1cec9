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
    env = {**os.environ, "RAY_TMPDIR": tmp, "PYTHONUNBUFFERED": "1", "RAY_AUTH_MODE": "token"}
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


def tensorboard_tags(run_dir: str | Path) -> set[str]:
    """Scalar tags in a run directory's TensorBoard event files (read with tensorboardX's protobufs)."""
    import struct

    from tensorboardX.proto import event_pb2

    tags: set[str] = set()
    for path in Path(run_dir).glob("tune/**/events.out.tfevents*"):
        data = path.read_bytes()
        pos = 0
        while pos + 12 <= len(data):  # TFRecord: u64 length, u32 crc, payload, u32 crc
            (n,) = struct.unpack("<Q", data[pos:pos + 8])
            event = event_pb2.Event()
            event.ParseFromString(data[pos + 12:pos + 12 + n])
            tags.update(v.tag for v in event.summary.value)
            pos += 12 + n + 4
    return tags
