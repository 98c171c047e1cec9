"""Work really spreads over Ray nodes: placement from the spec, rollout-worker replacement, DDP.

One scenario process (tests/cluster/scenarios/multinode.py) builds the clusters; see its
docstring for the steps.
"""

from __future__ import annotations

import json

import pytest

from scenario_runner import run_scenario


@pytest.fixture(scope="module")
def multinode(tmp_path_factory):
    return run_scenario("multinode", str(tmp_path_factory.mktemp("multinode")), "all", timeout=560)


def test_spec_placement_strategy_decides_where_bundles_land(multinode):
    nodes = set(multinode["worker_nodes"])
    spread, pack = multinode["spread_bundles"], multinode["pack_bundles"]
    assert set(spread) <= nodes and set(pack) <= nodes
    assert len(set(spread)) == 3, "SPREAD: learner and both rollout bundles on different nodes"
    assert len(set(pack)) == 2, "PACK: as few nodes as capacity allows"


def test_rollout_workers_on_different_nodes_and_a_killed_one_is_replaced(multinode):
    ppo = multinode["ppo"]
    assert ppo["rc"] == 0, ppo["output_tail"]
    assert len(set(ppo["rollout_nodes"])) == 2, "SPREAD put the two rollout workers on two nodes"
    assert set(ppo["rollout_nodes"]) <= set(multinode["worker_nodes"])
    m = ppo["metrics"]
    assert m["iteration"] == list(range(1, ppo["stop_iterations"] + 1)), "every iteration exactly once"
    assert ppo["killed_at_iteration"] < ppo["stop_iterations"], "the worker was killed mid-run"
    assert all(b > a for a, b in zip(m["env_steps"], m["env_steps"][1:]))
    assert m["worker_restarts"][-1] >= 1 and m["worker_restarts"][0] == 0
    assert ppo["summary"]["status"] == "completed"
    assert ppo["eval_rc"] == 0 and json.loads(ppo["eval"])["episodes"] == 3


def test_ddp_job_spans_two_nodes(multinode):
    ddp = multinode["ddp"]
    assert ddp["rc"] == 0, ddp["output_tail"]
    assert len(ddp["train_worker_nodes"]) == 2 and set(ddp["train_worker_nodes"]) <= set(multinode["ddp_nodes"])
    assert ddp["summary"]["status"] == "completed" and ddp["summary"]["kind"] == "dl"
    assert ddp["metrics"]["iteration"] == [1, 2]
    # two epochs of the digits MLP: far above chance (0.1)
    assert ddp["summary"]["final_metrics"]["val_accuracy"] > 0.5


def test_tensorboard_has_rl_and_dl_metrics_under_platform_names(multinode):
    from scenario_runner import tensorboard_tags

    rl = {t.removeprefix("ray/tune/") for t in tensorboard_tags(multinode["ppo"]["run_dir"])}
    assert {"episode_return_mean", "env_steps", "env_steps_per_s", "loss_policy", "loss_value", "loss_entropy",
            "worker_restarts"} <= rl
    dl = {t.removeprefix("ray/tune/") for t in tensorboard_tags(multinode["ddp"]["run_dir"])}
    assert {"epoch", "train_loss", "val_loss", "val_accuracy"} <= dl
