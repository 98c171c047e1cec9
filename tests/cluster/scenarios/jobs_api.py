"""A head (dashboard + Jobs API, token auth on) and a worker node; jobs submitted to the head.

Shows: a request without the token is refused; trainfleet jobs submitted through the Jobs API
(tabular, DQN, a DL model) run on the cluster while a real Prometheus (`trainfleet prometheus`)
scrapes their live metrics, and every panel query of cluster/grafana/trainfleet-dashboard.json
returns data from it; a burst of small jobs all end SUCCEEDED or FAILED-with-reason, none lost
or duplicated.

Usage: jobs_api.py OUT_DIR [BURST]
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from _common import JOBS, ROOT, TABULAR_JOB, cli_result, cluster, dashboard_url, emit, free_port, trainfleet, wait_for

TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}
LIVE_METRICS = {
    "ray_trainfleet_episode_return_mean", "ray_trainfleet_env_steps_per_s", "ray_trainfleet_env_steps_total",
    "ray_trainfleet_iteration", "ray_trainfleet_learner_utilization",
}
# Burst job i gets the mistake of key i % 4 (none for 0 and 2: those train).
BURST_MISTAKES = {1: "--set hparams.alpah=0.5", 3: "--set env.id=FrozenLak-v1"}


# Jobs that train long enough to be scraped while they run: between them, every dashboard panel has data.
LIVE_JOBS = {
    "live-metrics": f"{TABULAR_JOB} --set stop.iterations=100000 --set checkpoint.every=1000",
    "live-dqn": f"{JOBS / 'rl' / 'dqn_cartpole.yaml'} --set env.num_envs=1 --set checkpoint.every=1000",
    "live-dl": f"{JOBS / 'dl' / 'mlp_xor.yaml'} --set stop.epochs=100000 --set stop.val_accuracy=null",
}
DASHBOARD = ROOT / "cluster" / "grafana" / "trainfleet-dashboard.json"


def promql(base: str, query: str) -> list[dict]:
    """The query's series, or none while Prometheus is still starting."""
    try:
        answer = requests.get(f"{base}/api/v1/query", params={"query": query}, timeout=10).json()
    except (requests.RequestException, ValueError):
        return []
    return answer["data"]["result"] if answer.get("status") == "success" else []


def panel_queries() -> dict[str, str]:
    """Each panel's PromQL with the dashboard's $job variable set to the live jobs."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return {f"{p['title']} [{i}]": t["expr"].replace("$job", "live-.*")
            for p in panels for i, t in enumerate(p.get("targets", []))}


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
        # 2. a real Prometheus on the cluster's discovery file, then jobs that train while it scrapes
        prom_port = free_port()
        prom_base = f"http://127.0.0.1:{prom_port}"
        prom = subprocess.Popen([sys.executable, "-m", "trainfleet", "prometheus", "--port", str(prom_port),
                                 "--scrape-s", "1", "--dir", str(out / "prometheus")],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        job_ids = [client.submit_job(entrypoint=f"trainfleet run {args} --output {out} --set stop.time_s=25 --set name={name}",
                                     submission_id=name) for name, args in LIVE_JOBS.items()]
        job_id = job_ids[0]
        watching = subprocess.Popen([sys.executable, "-m", "trainfleet", "watch", "live-dqn", "--address", url],
                                    cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        result["prometheus_installed"] = shutil.which("prometheus") is not None
        if result["prometheus_installed"]:
            queries = panel_queries()
            answered: dict[str, list[dict]] = {}

            def every_panel_has_data() -> bool:
                for title, query in queries.items():
                    if not answered.get(title):
                        answered[title] = promql(prom_base, query)
                return all(answered.values())

            try:
                wait_for(every_panel_has_data, timeout=240, interval=1.0, what="every dashboard panel's data in Prometheus")
                result["scraped_while"] = client.get_job_status(job_id).value
            except TimeoutError:
                result["scraped_while"] = None
            result["prometheus_targets"] = [(r["metric"].get("instance"), r["value"][1]) for r in promql(prom_base, "up")]
            result["panels_with_data"] = sorted(t for t, r in answered.items() if r)
            result["panels_without_data"] = sorted(t for t, r in answered.items() if not r)
            series = promql(prom_base, '{__name__=~"ray_trainfleet_.*", job="live-metrics"}')
            result["metrics_found"] = sorted({r["metric"]["__name__"] for r in series})
            result["metric_lines"] = [
                r["metric"]["__name__"] + "{" + ",".join(f'{k}="{v}"' for k, v in sorted(r["metric"].items()) if k != "__name__")
                + "} " + r["value"][1] for r in series][:12]
        if prom.poll() is None:
            os.killpg(prom.pid, signal.SIGINT)  # Ctrl-C: `trainfleet prometheus` stops its Prometheus
        result["prometheus_rc"] = prom.wait(timeout=60)
        result["prometheus_out"] = (prom.stdout.read() if prom.stdout else "")[-800:]
        wait_for(lambda: all(client.get_job_status(j).value in TERMINAL for j in job_ids), timeout=180, what="live jobs' end")
        info = client.get_job_info(job_id)
        result["live_job"] = {"status": info.status.value, "driver_node_id": info.driver_node_id,
                              "logs_tail": client.get_job_logs(job_id)[-600:]}
        result["live_jobs"] = {j: client.get_job_status(j).value for j in job_ids}
        watched, watch_err = watching.communicate(timeout=120)
        # what a user reads on stdout; Ray's client may log its own warnings on stderr
        result["watch"] = {"rc": watching.returncode, "lines": watched.splitlines(), "stderr": watch_err[-600:]}
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
