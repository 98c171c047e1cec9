"""The head's Jobs API on a two-node cluster: token required, live metrics, a burst of 20 jobs.

One scenario process (tests/cluster/scenarios/jobs_api.py) builds the cluster with the
dashboard (Jobs API) on the head's localhost and token authentication on.
"""

from __future__ import annotations

import pytest
from scenario_runner import run_scenario

BURST = 20


@pytest.fixture(scope="module")
def jobs_api(tmp_path_factory):
    return run_scenario("jobs_api", str(tmp_path_factory.mktemp("jobs_api")), str(BURST), timeout=540)


def test_request_without_or_with_wrong_token_is_refused(jobs_api):
    assert jobs_api["dashboard_url"].startswith("http://127.0.0.1:")
    assert jobs_api["no_token_status"] == 401, jobs_api["no_token_body"]
    assert jobs_api["wrong_token_status"] in (401, 403)


def test_submitted_job_runs_and_its_metrics_reach_prometheus(jobs_api):
    live = jobs_api["live_job"]
    assert live["status"] == "SUCCEEDED", live["logs_tail"]
    assert live["driver_node_id"] == jobs_api["head_node_id"], "a Jobs API driver runs on the head"
    assert "stopped: time_s" in live["logs_tail"]
    assert set(jobs_api["live_jobs"].values()) == {"SUCCEEDED"}, jobs_api["live_jobs"]
    assert jobs_api["prometheus_installed"], "needs Debian's prometheus: `apt-get install prometheus` (.ci/run does)"
    # scraped by a real Prometheus (`trainfleet prometheus`) while the job was still running
    assert jobs_api["scraped_while"] == "RUNNING", jobs_api["prometheus_out"]
    assert jobs_api["prometheus_rc"] == 0, jobs_api["prometheus_out"]
    found = set(jobs_api["metrics_found"])
    assert {
        "ray_trainfleet_episode_return_mean", "ray_trainfleet_env_steps_per_s", "ray_trainfleet_env_steps_total",
        "ray_trainfleet_iteration", "ray_trainfleet_learner_utilization",
    } <= found
    ret = next(ln for ln in jobs_api["metric_lines"] if ln.startswith("ray_trainfleet_episode_return_mean{"))
    assert 'job="live-metrics"' in ret and "trial_id=" in ret and 0.0 <= float(ret.rsplit(" ", 1)[1]) <= 1.0


def test_every_grafana_panel_query_returns_data_from_prometheus(jobs_api):
    """cluster/grafana/trainfleet-dashboard.json's PromQL, run against the real Prometheus while a
    tabular, a DQN and a DL job trained: no panel of the dashboard stays empty."""
    assert jobs_api["prometheus_installed"], "needs Debian's prometheus: `apt-get install prometheus` (.ci/run does)"
    assert jobs_api["panels_without_data"] == [], jobs_api["panels_without_data"]
    assert len(jobs_api["panels_with_data"]) >= 9


def test_watch_follows_a_submitted_job_with_a_local_runs_progress_lines(jobs_api):
    watch = jobs_api["watch"]
    assert watch["rc"] == 0, (watch["lines"][-10:], watch["stderr"])
    lines = watch["lines"]
    iters = [ln for ln in lines if ln.startswith("iter ")]
    assert len(iters) >= 2 and all(" | env_steps " in ln and " | return " in ln for ln in iters), lines[-10:]
    assert any(ln.startswith("stopped: time_s") for ln in lines) and lines[-1] == "job live-dqn: SUCCEEDED", lines[-5:]
    others = [ln for ln in lines if not ln.startswith(("iter ", "stopped:", "run dir:", "job live-dqn:"))]
    assert others == [], (others[:5], watch["stderr"])  # Ray's and Tune's own log lines are left out


def test_burst_of_jobs_none_lost_none_twice_failures_explained(jobs_api):
    listed = jobs_api["burst_listed"]
    assert listed == sorted(jobs_api["submitted"]) and len(listed) == BURST == len(set(listed))
    for sid, job in jobs_api["burst"].items():
        kind = int(sid.split("-")[1]) % 4
        if kind == 1:
            assert job["status"] == "FAILED", job
            assert "hparams.alpah: unknown field; did you mean 'alpha'?" in job["message"]
        elif kind == 3:
            assert job["status"] == "FAILED", job
            assert "env.id" in job["message"] and "FrozenLake-v1" in job["message"], job["message"]
        else:
            assert job["status"] == "SUCCEEDED", job


def test_trainfleet_status_shows_state_progress_and_dashboard(jobs_api):
    st = jobs_api["status_ok"]
    assert st["rc"] == 0, st["out"]
    assert "SUCCEEDED" in st["out"] and jobs_api["dashboard_url"] in st["out"]
    assert "iter" in st["out"] and "Traceback" not in st["out"]


def test_trainfleet_status_shows_why_a_job_failed(jobs_api):
    st = jobs_api["status_failed"]
    assert "FAILED" in st["out"] and "hparams.alpah" in st["out"], st["out"]


@pytest.mark.parametrize("case", ["status_wrong_token", "status_no_token", "submit_no_token"])
def test_missing_or_wrong_token_is_a_clear_error_not_a_traceback(jobs_api, case):
    res = jobs_api[case]
    assert res["rc"] != 0
    assert "Traceback" not in res["out"], res["out"]
    assert "token" in res["out"].lower(), res["out"]
