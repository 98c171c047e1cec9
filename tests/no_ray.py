"""The trainfleet CLI in a process where `import ray` fails: proof that a command never needs Ray.

`python tests/no_ray.py ARGS...` runs `trainfleet ARGS...` with a meta-path finder in front of
every other that raises on `ray` and its submodules; `trainfleet_without_ray(...)` runs that in a
subprocess (Ray may already be imported in the test process itself), and
`commands_without_ray([...])` runs several commands in one such process (one start-up).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import io
import json
import os
import subprocess
import sys
from pathlib import Path

BLOCKED = "ray"


class RayBlocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == BLOCKED or name.startswith(BLOCKED + "."):
            raise ImportError(f"{name} imported in a process that must not use Ray")
        return None


def trainfleet_without_ray(*argv: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, __file__, *argv], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})}, cwd=Path(__file__).resolve().parents[1],
    )


def commands_without_ray(commands: list[list[str]], timeout: float = 300) -> list[dict]:
    """[{rc, out, err}] of each command, all run in one process without Ray."""
    proc = trainfleet_without_ray("--many", json.dumps(commands), timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _ray_leaked() -> list[str]:
    """Ray modules loaded although the import failed (a module that swallowed the ImportError)."""
    return [m for m in sys.modules if m == BLOCKED or m.startswith(BLOCKED + ".")]


def _run_many(commands: list[list[str]]) -> list[dict]:
    from trainfleet.cli import main

    outcomes = []
    for argv in commands:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(argv)
        outcomes.append({"rc": 3 if _ray_leaked() else rc, "out": out.getvalue(), "err": err.getvalue()})
    return outcomes


if __name__ == "__main__":
    sys.meta_path.insert(0, RayBlocker())
    if sys.argv[1] == "--many":
        print(json.dumps(_run_many(json.loads(sys.argv[2]))))
        sys.exit(0)
    from trainfleet.cli import main

    code = main(sys.argv[1:])
    if _ray_leaked():
        print(f"ray modules present: {_ray_leaked()[:3]}", file=sys.stderr)
        code = 3
    sys.exit(code)
