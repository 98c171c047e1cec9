"""The cluster files in cluster/ are what Ray and KubeRay accept, with the shape the guide promises."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

CLUSTER = Path(__file__).resolve().parents[2] / "cluster"
LAUNCHER_YAMLS = ["local.yaml", "aws.yaml", "gcp.yaml"]


def _load(name: str):
    return yaml.safe_load((CLUSTER / name).read_text())


@pytest.mark.parametrize("name", LAUNCHER_YAMLS)
def test_ray_accepts_cluster_launcher_yaml(name):
    """What `ray up` does before touching a cloud: fill defaults, then validate against Ray's schema."""
    from ray.autoscaler._private.util import prepare_config, validate_config

    raw = _load(name)
    prepared = prepare_config(copy.deepcopy(raw))
    validate_config(prepared)  # raises jsonschema.ValidationError / ValueError when wrong
    # Token auth stays on and the dashboard stays on the head's localhost.
    head = " ".join(prepared["head_start_ray_commands"])
    assert "RAY_AUTH_MODE=token" in head and "--dashboard-host=127.0.0.1" in head
    assert "0.0.0.0" not in head
    assert all("RAY_AUTH_MODE=token" in c for c in prepared["worker_start_ray_commands"] if "ray start" in c)
    assert "~/.ray/auth_token" in prepared["file_mounts"]
    setup = prepared["setup_commands"]
    torch_at = next(i for i, c in enumerate(setup) if "install torch" in c)
    project_at = next(i for i, c in enumerate(setup) if "install -e ~/trainfleet" in c)
    assert torch_at < project_at, "torch goes first (the project does not pin it)"


def test_validation_rejects_a_broken_yaml():
    """The check above has teeth: an unknown top-level field fails Ray's schema."""
    import jsonschema
    from ray.autoscaler._private.util import prepare_config, validate_config

    raw = _load("aws.yaml")
    raw["max_wrokers"] = 3
    with pytest.raises(jsonschema.ValidationError):
        validate_config(prepare_config(raw))


@pytest.mark.parametrize("name", ["aws.yaml", "gcp.yaml"])
def test_cloud_yaml_node_types(name):
    raw = _load(name)
    types = raw["available_node_types"]
    head = types[raw["head_node_type"]]
    assert head["resources"].get("GPU", 0) == 0
    rollout, learner = types["rollout_cpu"], types["learner_gpu"]
    assert rollout["resources"].get("GPU", 0) == 0 and rollout["max_workers"] > rollout["min_workers"]
    assert learner["resources"]["GPU"] >= 1 and learner["max_workers"] > learner["min_workers"]
    assert raw["idle_timeout_minutes"] > 0
    config = json.dumps(rollout["node_config"]).lower()
    assert "spot" in config or "preemptible" in config


def test_local_yaml_names_head_and_workers():
    provider = _load("local.yaml")["provider"]
    assert provider["type"] == "local" and provider["head_ip"] and len(provider["worker_ips"]) >= 1


def _manifests(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((CLUSTER / "kuberay" / name).read_text()) if d]


def _ray_cluster_spec(doc: dict) -> dict:
    return doc["spec"] if doc["kind"] == "RayCluster" else doc["spec"]["rayClusterSpec"]


@pytest.mark.parametrize("name,kind", [("raycluster.yaml", "RayCluster"), ("rayjob.yaml", "RayJob")])
def test_kuberay_manifests(name, kind):
    docs = _manifests(name)
    ray_docs = [d for d in docs if d["apiVersion"] == "ray.io/v1"]
    assert [d["kind"] for d in ray_docs] == [kind]
    spec = _ray_cluster_spec(ray_docs[0])
    assert spec["rayVersion"] == "2.60.0"
    assert spec["authOptions"]["mode"] == "token"
    assert spec["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
    groups = {g["groupName"]: g for g in spec["workerGroupSpecs"]}
    assert set(groups) == {"rollout-cpu", "learner-gpu"}
    for g in groups.values():
        assert g["minReplicas"] <= g["replicas"] <= g["maxReplicas"]
    cpu = groups["rollout-cpu"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    gpu = groups["learner-gpu"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert "nvidia.com/gpu" not in cpu and int(gpu["nvidia.com/gpu"]) == 1
    if kind == "RayJob":
        entry = ray_docs[0]["spec"]["entrypoint"]
        assert entry.startswith("trainfleet run ") and "--output /mnt/runs" in entry
        job_file = entry.split()[2].replace("/home/ray/trainfleet/", "")
        assert (CLUSTER.parent / job_file).is_file()
        assert ray_docs[0]["spec"]["shutdownAfterJobFinishes"] is True
