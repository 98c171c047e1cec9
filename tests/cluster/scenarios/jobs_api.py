"""A head (dashboard + Jobs API, token auth on) and a worker node; jobs submitted to the head.

Shows: a request without the token is refused; a trainfleet job submitted through the Jobs
API runs on the cluster while its live metrics appear on the nodes' Prometheus endpoints;
a burst of small jobs all end SUCCEEDED or FAILED-with-reason, none lost or duplicated.

Usage: jobs_api.py OUT_DIR [BURST]
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import requests

from _common import TABULAR_JOB, cli_result, cluster, dashboard_url, emit, free_port, trainfleet, wait_for

TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}
LIVE_METRICS = {
    "ray_trainfleet_episode_return_mean", "ray_trainfleet_env_steps_per_s", "ray_trainfleet_env_steps_total",
    "ray_trainfleet_iteration", "ray_trainfleet_learner_utilization",
}
# Burst job i gets the mistake of key i % 4 (none for 0 and 2: those train).
BURST_MISTAKES = {1: "--set hparams.alpah=0.5", 3: "--set env.id=FrozenLak-v1"}


def scrape_all_nodes() -> str:
    """What Prometheus scrapes: every alive node's metrics_export_port."""
    import ray

    text = []
    for node in ray.nodes():
        if node["Alive"]:
            try:
                text.append(requests.get(f"http://{node['NodeManagerAddress']}:{node['MetricsExportPort']}/metrics", timeout=5).text)
            except requests.RequestException:
                pass
    return "\n".join(text)


def main(out: Path, burst: int) -> None:
    from ray.job_submission import JobSubmissionClient

    result: dict = {}
    metrics_port = free_port()
    with cluster(head_cpus=2, workers=[2], dashboard=True, metrics_port=metrics_port,
                 system_config={"metrics_report_interval_ms": 1000}) as c:
        url = dashboard_url(c)
        result["dashboard_url"] = url
        # 1. no token, no entry: plain HTTP to the Jobs API and to the dashboard's node list
        bare = requests.get(f"{url}/api/jobs/", timeout=10)
        result["no_token_status"] = bare.status_code
        result["no_token_body"] = bare.text[:200]
        wrong = requests.get(f"{url}/api/jobs/", headers={"Authorization": "Bearer not-the-token"}, timeout=10)
        result["wrong_token_status"] = wrong.status_code

        client = JobSubmissionClient(url)  # RAY_AUTH_MODE=token + ~/.ray/auth_token
        # 2. a trainfleet job that trains long enough to be scraped while it runs
        entry = (
            f"trainfleet run {TABULAR_JOB} --output {out} --set stop.iterations=100000 --set stop.time_s=12 "
            "--set checkpoint.every=1000 --set name=live-metrics"
        )
        job_id = client.submit_job(entrypoint=entry, submission_id="live-metrics")
        found: dict[str, str] = {}

        def metrics_seen() -> bool:
            text = scrape_all_nodes()
            for line in text.splitlines():
                m = re.match(r"^(ray_trainfleet_\w+)\{([^}]*)\}", line)
                if m and 'job="live-metrics"' in m.group(2):
                    found[m.group(1)] = line
            return LIVE_METRICS <= set(found)

        try:
            wait_for(metrics_seen, timeout=90, interval=1.0, what="trainfleet metrics on the Prometheus endpoints")
            result["scraped_while"] = client.get_job_status(job_id).value
        except TimeoutError:
            result["scraped_while"] = None
        result["metrics_found"] = sorted(found)
        result["metric_lines"] = list(found.values())[:12]
        wait_for(lambda: client.get_job_status(job_id).value in TERMINAL, timeout=120, what="live job end")
        info = client.get_job_info(job_id)
        result["live_job"] = {"status": info.status.value, "driver_node_id": info.driver_node_id,
                              "logs_tail": client.get_job_logs(job_id)[-600:]}
        result["head_node_id"] = c.head_node.node_id
        # `trainfleet status` of that job; then without / with a wrong token (no token anywhere:
        # an empty HOME hides ~/.ray/auth_token)
        no_home = str(out / "empty-home")
        Path(no_home).mkdir(parents=True, exist_ok=True)
        result["status_ok"] = cli_result(trainfleet("status", job_id, "--address", url))
        result["status_wrong_token"] = cli_result(
            trainfleet("status", job_id, "--address", url, env={"RAY_AUTH_TOKEN": "not-the-token"}))
        result["status_no_token"] = cli_result(
            trainfleet("status", job_id, "--address", url, env={"HOME": no_home}, drop=("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")))
        result["submit_no_token"] = cli_result(
            trainfleet("submit", str(TABULAR_JOB), "--address", url, "--no-wait", env={"HOME": no_home},
                       drop=("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")))

        # 3. a burst of small jobs at one head: every one must end, with a reason when it fails.
        # Half train (tiny tabular runs); half carry a user mistake and fail before Ray starts.
        t0 = time.monotonic()
        submitted = []
        for i in range(burst):
            mistake = BURST_MISTAKES.get(i % 4, "")
            entry = (
                f"trainfleet run {TABULAR_JOB} --output {out} --set stop.iterations=1 "
                f"--set hparams.episodes_per_iteration=20 --set name=burst-{i} {mistake}"
            )
            submitted.append(client.submit_job(entrypoint=entry, submission_id=f"burst-{i:02d}", entrypoint_num_cpus=0.25))
        wait_for(lambda: all(client.get_job_status(j).value in TERMINAL for j in submitted), timeout=480,
                 interval=2.0, what="burst jobs")
        result["burst_s"] = round(time.monotonic() - t0, 1)
        listed = [j for j in client.list_jobs() if (j.submission_id or "").startswith("burst-")]
        result["burst_listed"] = sorted(j.submission_id for j in listed)
        result["burst"] = {
            j.submission_id: {"status": j.status.value, "message": j.message,
                              "logs_tail": client.get_job_logs(j.submission_id)[-400:] if j.status.value != "SUCCEEDED" else ""}
            for j in listed
        }
        result["submitted"] = submitted
        # a failed job's reason, as `trainfleet status` shows it
        result["status_failed"] = cli_result(trainfleet("status", "burst-01", "--address", url))
    emit(result)


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 20)
