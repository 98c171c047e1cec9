"""One Ray instance per test session (2 CPUs), shared by every test that needs Ray."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
JOBS = ROOT / "jobs"
PLUGINS = ROOT / "tests" / "plugins"  # test-only algorithms, named by import path in jobs


@pytest.fixture(scope="session", autouse=True)
def signing_secret(tmp_path_factory):
    """Runs sign their Tune files (trainfleet/trust.py) with a test secret, never the user's own."""
    os.environ["TRAINFLEET_SECRET_FILE"] = str(tmp_path_factory.mktemp("trainfleet-config") / "secret")
    yield


@pytest.fixture(scope="session")
def ray_session():
    import ray

    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # Ray workers inherit the environment at ray.init: they can then import the test plugins.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PLUGINS), os.environ.get("PYTHONPATH")]))
    if not ray.is_initialized():
        # address="local": never join whatever cluster a stale /tmp/ray/ray_current_cluster names
        ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """An output root for run directories, removed with the test's tmp dir."""
    out = tmp_path / "runs"
    out.mkdir()
    return out
