"""What `launch.telemetry.record` hands to Ray's metrics API (Ray's metric classes replaced by fakes).

The end-to-end path — the values on a node's Prometheus endpoint while a job runs — is
tests/cluster/test_jobs_api.py.
"""

from __future__ import annotations

import pytest

from trainfleet.launch import telemetry


class FakeMetric:
    def __init__(self, name, description="", tag_keys=()):
        self.name, self.tag_keys, self.calls = name, tag_keys, []

    def set(self, value, tags=None):
        assert set(tags) == set(self.tag_keys)
        self.calls.append((value, tags))

    inc = set


@pytest.fixture
def exporter(monkeypatch):
    import ray.util.metrics

    monkeypatch.setattr(ray.util.metrics, "Gauge", FakeMetric)
    monkeypatch.setattr(ray.util.metrics, "Counter", FakeMetric)
    monkeypatch.setattr(telemetry, "_exporter", None)
    telemetry.record("job-a", "t1", {})
    return telemetry._exporter


def test_rl_iteration_metrics(exporter):
    tags = {"job": "job-a", "trial_id": "t1"}
    telemetry.record("job-a", "t1", {"iteration": 1, "env_steps": 100, "episode_return_mean": float("nan"),
                                     "env_steps_per_s": 50.0, "loss_policy": -0.1, "loss_value": 2.0, "note": "x"})
    telemetry.record("job-a", "t1", {"iteration": 2, "env_steps": 250, "episode_return_mean": 9.5,
                                     "env_steps_per_s": 75.0, "loss_policy": -0.2, "loss_value": 1.0})
    g = exporter.gauges
    assert g["iteration"].calls == [(1.0, tags), (2.0, tags)]
    assert g["episode_return_mean"].calls == [(9.5, tags)], "NaN (no episode yet) is not exported"
    assert exporter.env_steps.calls == [(100, tags), (150, tags)], "the counter grows by each iteration's steps"
    assert [c for c in exporter.loss.calls if c[1]["term"] == "value"] == [
        (2.0, {**tags, "term": "value"}), (1.0, {**tags, "term": "value"})]
    util = g["learner_utilization"].calls
    assert util and all(0.0 <= v <= 1.0 for v, _ in util)


def test_dl_epoch_metrics(exporter):
    tags = {"job": "job-a", "trial_id": "t2"}
    telemetry.record("job-a", "t2", {"epoch": 3, "train_loss": 0.5, "val_loss": 0.7, "val_accuracy": 0.9})
    assert exporter.gauges["iteration"].calls == [(3.0, tags)], "DL epochs chart as iterations"
    assert exporter.gauges["val_loss"].calls == [(0.7, tags)]
    assert exporter.val.calls == [(0.9, {**tags, "name": "accuracy"})]
    assert exporter.gauges["learner_utilization"].calls == [], "a DL trial only waits: no utilisation"


def test_algorithm_reported_utilization_wins(exporter):
    telemetry.record("job-a", "t3", {"env_steps": 1, "learner_utilization": 0.25})
    assert exporter.gauges["learner_utilization"].calls == [(0.25, {"job": "job-a", "trial_id": "t3"})]


def test_export_failure_never_stops_training(exporter, monkeypatch, caplog):
    def broken(*a, **k):
        raise RuntimeError("metrics agent gone")

    monkeypatch.setattr(exporter.gauges["iteration"], "set", broken)
    telemetry.record("job-a", "t1", {"iteration": 1})  # no exception
    assert "metrics agent gone" in caplog.text
