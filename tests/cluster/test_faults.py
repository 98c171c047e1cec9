"""Faults on a multi-node cluster lose nothing: every iteration recorded exactly once, policy evaluable.

One scenario process (tests/cluster/scenarios/faults.py) builds a head and two worker nodes,
removes the node under a running trial, and later SIGKILLs a `trainfleet run` driver and
resumes it with `trainfleet run --resume RUN_DIR`.
"""

from __future__ import annotations

import pytest

from scenario_runner import run_scenario


@pytest.fixture(scope="module")
def faults(tmp_path_factory):
    return run_scenario("faults", str(tmp_path_factory.mktemp("faults")), timeout=420)


def _exactly_once(result: dict, expected: int) -> None:
    its = result["metrics"]["iterations"]
    assert its == list(range(1, expected + 1)), f"gap or duplicate: {its}"
    assert len(result["metrics"]["trial_ids"]) == 1
    steps = result["metrics"]["env_steps"]
    assert all(b > a for a, b in zip(steps, steps[1:])), "env_steps must grow every iteration"


def test_worker_node_lost_mid_run_trial_restarts_from_checkpoint(faults):
    node = faults["node"]
    assert node["rc"] == 0, node["output_tail"]
    assert 0 < node["killed_at_iteration"] < faults["expected_iterations"]
    assert node["failures"], "the trial on the removed node must have failed and been restarted by Tune"
    assert node["summary"]["status"] == "completed" and node["summary"]["stop_reason"] == "iterations"
    _exactly_once(node, faults["expected_iterations"])
    # FrozenLake 4x4 (deterministic): the greedy policy reaches the goal; a random one rarely does
    assert node["eval"]["rc"] == 0 and node["eval"]["episode_return_mean"] == 1.0


def test_driver_killed_then_resumed(faults):
    drv = faults["driver"]
    assert 0 < drv["killed_at_iteration"] < faults["expected_iterations"]
    assert drv["resume_rc"] == 0, drv["resume_tail"]
    assert drv["summary"]["status"] == "completed"
    _exactly_once(drv, faults["expected_iterations"])
    assert drv["eval"]["rc"] == 0 and drv["eval"]["episode_return_mean"] == 1.0


def test_both_fault_runs_continue_the_same_trajectory(faults):
    """Resumed exactly: same seed, same env steps at every iteration as each other."""
    assert faults["node"]["metrics"]["env_steps"] == faults["driver"]["metrics"]["env_steps"]


def test_tensorboard_has_the_platform_metric_names(faults):
    from scenario_runner import tensorboard_tags

    for run in (faults["node"], faults["driver"]):
        tags = {t.removeprefix("ray/tune/") for t in tensorboard_tags(run["run_dir"])}
        assert {"episode_return_mean", "env_steps", "env_steps_per_s", "iteration", "time_s"} <= tags
