"""The Grafana dashboard charts exactly the metrics trainfleet exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from trainfleet.launch import telemetry

DASHBOARD = Path(__file__).resolve().parents[2] / "cluster" / "grafana" / "trainfleet-dashboard.json"


def exported_names() -> set[str]:
    """Prometheus names of telemetry's metrics: Ray adds `ray_`, counters get `_total`."""
    gauges = [*telemetry.GAUGES, telemetry.LOSS_GAUGE, telemetry.VAL_GAUGE]
    names = {f"ray_{telemetry.PREFIX}{g}" for g in gauges}
    names.add(f"ray_{telemetry.PREFIX}{telemetry.ENV_STEPS_COUNTER}_total")
    return names


def test_every_panel_queries_an_exported_metric_and_every_metric_is_charted():
    dash = json.loads(DASHBOARD.read_text())
    queried = set()
    for panel in dash["panels"]:
        for target in panel["targets"]:
            names = set(re.findall(r"ray_trainfleet_\w+", target["expr"]))
            assert names, panel["title"]
            queried |= names
    assert queried <= exported_names(), queried - exported_names()
    assert exported_names() <= queried, exported_names() - queried
