"""`trainfleet prometheus`: a real Prometheus scraping the running Ray cluster, for live charts.

Ray writes the metrics endpoints of every node of a cluster (trainfleet's gauges included, see
telemetry.py) into a service-discovery file in its temp dir; this writes a Prometheus config
that follows that file and starts Debian's `prometheus` on it, in the foreground (Ctrl-C stops
it). `honor_labels` keeps trainfleet's own `job` label (the job name) instead of renaming it
`exported_job`, so the Grafana dashboard in cluster/grafana/ filters by job name. Point the Ray
dashboard at it with RAY_PROMETHEUS_HOST before `ray start --head`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from trainfleet import results
from trainfleet.errors import UserError

SD_FILE = "prom_metrics_service_discovery.json"


def default_dir() -> Path:
    return Path.home() / ".cache" / "trainfleet" / "prometheus"


def write_config(directory: Path, ray_temp_dir: Path, scrape_s: float) -> Path:
    """DIRECTORY/prometheus.yml: one scrape job over the nodes Ray lists in its discovery file."""
    directory.mkdir(parents=True, exist_ok=True)
    config = (
        f"global:\n  scrape_interval: {scrape_s:g}s\n  evaluation_interval: {scrape_s:g}s\n"
        "scrape_configs:\n"
        "  - job_name: ray\n"
        "    honor_labels: true\n"
        "    file_sd_configs:\n"
        f"      - files: ['{ray_temp_dir / SD_FILE}']\n"
    )
    path = directory / "prometheus.yml"
    results.write_text(path, config)
    return path


def serve(port: int, directory: str | Path | None, ray_temp_dir: str | Path | None, scrape_s: float,
          host: str = "127.0.0.1") -> int:
    """Run Prometheus until it exits or Ctrl-C (DIRECTORY: config and data, default ~/.cache/...;
    RAY_TEMP_DIR: where the head writes its discovery file, by default where Ray puts it)."""
    from ray._common.utils import get_default_ray_temp_dir  # RAY_TMPDIR, TMPDIR, else /tmp: Ray's own rule

    directory = Path(directory) if directory else default_dir()
    ray_temp_dir = Path(ray_temp_dir or get_default_ray_temp_dir())
    binary = shutil.which("prometheus")
    if binary is None:
        raise UserError("Prometheus is not installed here: `apt-get install prometheus` (Debian/Ubuntu), "
                        "or put its binary on PATH")
    if scrape_s <= 0:
        raise UserError(f"--scrape-s must be positive, got {scrape_s}")
    config = write_config(directory, ray_temp_dir, scrape_s)
    if not (ray_temp_dir / SD_FILE).is_file():
        print(f"note: {ray_temp_dir / SD_FILE} is not there yet; Prometheus scrapes nothing until a Ray head "
              "with its dashboard writes it", flush=True)
    command = [binary, f"--config.file={config}", f"--storage.tsdb.path={directory / 'data'}",
               f"--web.listen-address={host}:{port}"]
    print(f"Prometheus: http://{host}:{port}/  (Ctrl-C stops it)\n"
          f"for the Ray dashboard's charts: export RAY_PROMETHEUS_HOST=http://{host}:{port} before `ray start --head`",
          flush=True)
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = server.communicate()
    except KeyboardInterrupt:
        server.terminate()
        server.wait(timeout=30)
        return 0
    if server.returncode:
        last = (err or "").strip().splitlines()[-1:] or ["no output"]
        raise UserError(f"prometheus exited with {server.returncode}: {last[0]}")
    return 0
