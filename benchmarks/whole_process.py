"""`trainfleet run` as a fresh whole process, split into its parts (shared by overhead.py and dl_small_jobs.py).

The process runs the CLI as the console script does (`cli.console`: main, then the exit) with one time mark
taken when `run_job` starts; with the run's summary.json that splits the wall time into:

  python + imports + validate   interpreter start, imports, YAML + spec validation
  ray start                     `import ray` + ray.init (summary startup_s; 0 in process)
  run set-up                    run directory and inputs, Tune's Tuner (wall_s - startup_s - train_s)
  trial set-up + reports        trial start and imports, env/network/data, reports, checkpoints (train_s - time_s)
  training                      the iterations (epochs) themselves (time_s of the last row)
  results + exit                summary, Ray shutdown (if any), interpreter exit
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PARTS = ["python + imports + validate", "ray start", "run set-up", "trial set-up + reports", "training",
         "results + exit"]

PROBE = """
import json, sys, time
import trainfleet.launch.run as run
from trainfleet import cli
marks_file, argv = sys.argv[1], sys.argv[2:]
marks = {}
real_run_job, real_main = run.run_job, cli.main
def run_job(*args, **kwargs):
    marks["run_job"] = time.time()
    return real_run_job(*args, **kwargs)
def main(argv):
    rc = real_main(argv)
    open(marks_file, "w").write(json.dumps(marks))
    return rc
run.run_job, cli.main = run_job, main
cli.console(argv)
"""


def run_marked(argv: list[str], scratch: Path, cwd: Path) -> dict[str, Any]:
    """Run `trainfleet ARGV` as a fresh process: wall and CPU seconds, summary.json, and the parts above."""
    marks_file = scratch / f"marks-{time.time_ns()}.json"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-c", PROBE, str(marks_file), *argv], capture_output=True, text=True,
                          cwd=cwd, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    t_end = time.time()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"trainfleet {' '.join(argv[:2])} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    run_dir = Path(proc.stdout.strip().splitlines()[-1].removeprefix("run dir: "))
    s = json.loads((run_dir / "summary.json").read_text())
    marks = json.loads(marks_file.read_text())
    training = s["final_metrics"]["time_s"]
    parts = {
        "python + imports + validate": marks["run_job"] - t0,
        "ray start": s["startup_s"],
        "run set-up": s["wall_s"] - s["startup_s"] - s["train_s"],
        "trial set-up + reports": s["train_s"] - training,
        "training": training,
        "results + exit": t_end - marks["run_job"] - s["wall_s"],
    }
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": t_end - t0, "cpu_s": cpu, "summary": s, "run_dir": run_dir, "parts": parts}
