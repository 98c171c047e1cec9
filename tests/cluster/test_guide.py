"""docs/cluster.md's "Try it on one machine" works as written: `ray start` head + worker, submit,
status, logs, stop (scenario: tests/cluster/scenarios/guide.py)."""

from __future__ import annotations

from scenario_runner import run_scenario


def test_guide_runs_as_written():
    result = run_scenario("guide", timeout=540)
    steps = result["steps"]
    failed = [s for s in steps if s["rc"] != 0]
    assert not failed, "\n\n".join(f"$ {s['ran']}  (exit {s['rc']})\n{s.get('out', '')}" for s in failed)
    ran = [s["command"].split()[:2] for s in steps]
    assert ["ray", "start"] in ran and ["ray", "stop"] in ran and ["trainfleet", "submit"] in ran
    status = next(s for s in steps if s["command"].startswith("trainfleet status"))
    assert "SUCCEEDED" in status["final_status"] and "iteration" in status["final_status"]
    assert "Dashboard" in status["final_status"] or "dashboard" in status["final_status"]
    logs = next(s for s in steps if s["command"].startswith("trainfleet logs"))
    assert "stopped: iterations" in logs["out"]
