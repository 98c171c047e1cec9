"""Small DL jobs end to end: `trainfleet run` against the plain PyTorch script, whole processes.

    python benchmarks/dl_small_jobs.py [--reps 3] [--ray mlp] [--ray-train mlp]

For the MLP digits, CNN digits and LSTM digit-sequences jobs, each repetition runs, one after
the other and alternating which goes first, a fresh `trainfleet run JOB` process (these jobs need
nothing from Ray: `executor: auto` trains them in the trainfleet process) and a fresh
`python benchmarks/plain_pytorch_digits.py MODEL` process (same model, data split, optimiser,
batch size and epochs). Reported: median whole-process seconds, the median of the per-pair
ratios (the box is shared: a pair runs under the same load), and the final validation accuracy
of both. The trainfleet process is split into its parts (benchmarks/whole_process.py).

`--ray NAME` also runs that job with `resources.executor: ray` (the loop in a Tune trial on a
local Ray, the default before the in-process executor), and `--ray-train NAME` with
`resources.trainer: ray_train` (a one-worker TorchTrainer, the default before the in-trial loop),
in each repetition.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

from whole_process import PARTS, run_marked

ROOT = Path(__file__).resolve().parents[1]
PLAIN = ROOT / "benchmarks" / "plain_pytorch_digits.py"
RESULTS = ROOT / "benchmarks" / "results" / "dl_small_jobs.md"
JOBS = {  # plain script's model name -> job file; CNN without its early stop, so both run 15 epochs
    "mlp": ("jobs/dl/mlp_digits.yaml", []),
    "cnn": ("jobs/dl/cnn_digits.yaml", ["stop.val_accuracy=null"]),
    "lstm": ("jobs/dl/lstm_digit_sequences.yaml", []),
}
FINDINGS = """## What was cut, and what is left

- A one-worker CPU job no longer starts Ray at all: with `executor: auto` the `trainfleet run`
  process runs the engine's loop itself (`launch/in_process.py`), writing the same run directory.
  The `executor: ray` line above is the Tune trial it replaces, and the `ray_train` line the
  one-worker TorchTrainer before that, both measured in the same run.
- The digits datasets are read from scikit-learn's bundled CSV without importing scikit-learn.
- Checkpoint writes (state.pt, spec, data info, split) are not where the time goes: one
  checkpoint write is timed above.
- Left: the interpreter and the imports both sides need (torch, and torch._dynamo, which the first
  `torch.optim.Adam` step imports; the plain script pays both too), trainfleet's own imports
  (pydantic, pyarrow, which imports pandas on its first table, gymnasium through the registry),
  validation, and the data preparation of the trial set-up. On a shared 2-core box all of these
  grow with the load, so the ratio moves with the load.
"""


# What a fresh process imports and builds before its first epoch (the plain script pays torch and Adam
# too), and what one checkpoint write costs.
TRIAL_IMPORTS = """
import json, time
t1 = time.perf_counter()
import torch
t2 = time.perf_counter()
import trainfleet.dl.trial, trainfleet.dl.engine, trainfleet.launch.trial
t3 = time.perf_counter()
torch.optim.Adam(torch.nn.Linear(2, 2).parameters())
t4 = time.perf_counter()
import sys, tempfile
from trainfleet import jobs
from trainfleet.dl import checkpoint as checkpoint_files
from trainfleet.dl.engine import fit, in_memory
spec, _ = jobs.load_job(sys.argv[1])
prepared, batches = in_memory(spec)
writes = []
def report(metrics, checkpoint=None):
    if checkpoint is not None:
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            checkpoint_files.write(d, checkpoint, spec, prepared.info, prepared.split)
            writes.append(time.perf_counter() - t)

fit(spec, prepared.info, batches, report)
print(json.dumps({"import torch": t2 - t1, "import trainfleet's trial modules": t3 - t2,
                  "first torch.optim.Adam (imports torch._dynamo)": t4 - t3,
                  "one checkpoint write (mlp_digits)": sum(writes) / len(writes)}))
"""


def trial_imports() -> dict:
    proc = subprocess.run([sys.executable, "-c", TRIAL_IMPORTS, str(ROOT / JOBS["mlp"][0])],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_trainfleet(job: str, sets: list[str], out: Path) -> dict:
    argv = ["run", str(ROOT / job), "--output", str(out / "runs")] + [a for x in sets for a in ("--set", x)]
    r = run_marked(argv, out, ROOT)
    return {"wall": r["wall_s"], "accuracy": r["summary"]["final_metrics"]["val_accuracy"], "parts": r["parts"]}


def run_plain(name: str) -> dict:
    t0 = time.time()
    proc = subprocess.run([sys.executable, str(PLAIN), name], capture_output=True, text=True)
    wall = time.time() - t0
    if proc.returncode != 0:
        raise SystemExit(f"plain {name} failed:\n{proc.stderr[-2000:]}")
    return {"wall": wall, "accuracy": json.loads(proc.stdout.strip().splitlines()[-1])["val_accuracy"]}


def med(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--ray", nargs="*", default=["mlp"], help="also run these jobs with executor: ray")
    ap.add_argument("--ray-train", nargs="*", default=["mlp"], help="also run these jobs with trainer: ray_train")
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    out = Path(tempfile.mkdtemp(prefix="tf-dl-small-"))
    load0 = os.getloadavg()[0]
    rows: dict[str, dict[str, list]] = {n: {"plain": [], "trainfleet": [], "ray": [], "ray_train": []} for n in JOBS}
    imports: list[dict] = []
    for rep in range(args.reps):
        imports.append(trial_imports())
        for name, (job, sets) in JOBS.items():
            runs = [("plain", lambda: run_plain(name)), ("trainfleet", lambda: run_trainfleet(job, sets, out))]
            if name in args.ray:
                runs.append(("ray", lambda: run_trainfleet(job, sets + ["resources.executor=ray"], out)))
            if name in args.ray_train:
                runs.append(("ray_train", lambda: run_trainfleet(job, sets + ["resources.trainer=ray_train"], out)))
            if rep % 2:
                runs.reverse()
            for kind, fn in runs:
                rows[name][kind].append(fn())
                print(f"rep {rep + 1} {name:<5} {kind:<10} {rows[name][kind][-1]['wall']:6.1f} s", flush=True)
    report(rows, imports, args, load0, os.getloadavg()[0], Path(args.out))


def report(rows: dict, imports: list[dict], args: argparse.Namespace, load0: float, load1: float, path: Path) -> None:
    lines = [
        "# Small DL jobs end to end: `trainfleet run` vs a plain PyTorch script",
        "",
        f"`python benchmarks/dl_small_jobs.py --reps {args.reps}` on {os.cpu_count()} CPUs, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; Python {platform.python_version()}, "
        f"torch {metadata.version('torch')}, ray {metadata.version('ray')}. Load average {load0:.1f} before, {load1:.1f} after: "
        "the box is shared with other work, so read the ratios (each pair ran back to back, alternating "
        "which went first), not the seconds.",
        "",
        "Whole processes: `trainfleet run JOB` (one trial, the loop in the trainfleet process, run directory, "
        "checkpoints, summary) against `python benchmarks/plain_pytorch_digits.py MODEL` (same model, split, "
        "Adam, batch 32, epochs; one torch thread in both).",
        "",
        "| job | epochs | plain script (s, median) | trainfleet run (s, median) | ratio (median of pairs) | "
        "val accuracy plain / trainfleet (median) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    epochs = {"mlp": 10, "cnn": 15, "lstm": 15}
    for name, r in rows.items():
        ratios = [t["wall"] / p["wall"] for p, t in zip(r["plain"], r["trainfleet"])]
        lines.append(
            f"| `{JOBS[name][0]}` | {epochs[name]} | {med([p['wall'] for p in r['plain']]):.1f} | "
            f"{med([t['wall'] for t in r['trainfleet']]):.1f} | **{med(ratios):.2f}x** | "
            f"{med([p['accuracy'] for p in r['plain']]):.3f} / {med([t['accuracy'] for t in r['trainfleet']]):.3f} |"
        )
    ways = {"ray": "in a Tune trial on a local Ray (`--set resources.executor=ray`)",
            "ray_train": "through a one-worker TorchTrainer (`--set resources.trainer=ray_train`)"}
    for name, r in rows.items():
        for kind, how in ways.items():
            if r[kind]:
                ratios = [t["wall"] / p["wall"] for p, t in zip(r["plain"], r[kind])]
                lines += ["", f"The same `{JOBS[name][0]}` {how}: {med([t['wall'] for t in r[kind]]):.1f} s median, "
                          f"**{med(ratios):.2f}x** the plain script (val accuracy "
                          f"{med([t['accuracy'] for t in r[kind]]):.3f})."]
    lines += ["", "## Where `trainfleet run`'s time goes (seconds, median over repetitions)", "",
              "| part | " + " | ".join(f"`{JOBS[n][0].split('/')[-1]}`" for n in rows) + " |",
              "|---|" + "---:|" * len(rows)]
    for part in PARTS:
        lines.append(f"| {part} | " + " | ".join(f"{med([t['parts'][part] for t in r['trainfleet']]):.2f}"
                                                for r in rows.values()) + " |")
    lines.append("| whole process | " + " | ".join(f"{med([t['wall'] for t in r['trainfleet']]):.2f}"
                                                  for r in rows.values()) + " |")
    lines += ["", "Of the trial set-up, measured in a fresh process (median): "
              + "; ".join(f"{k} {med([i[k] for i in imports]):.2f} s" for k in imports[0]) + "."]
    lines += ["", FINDINGS.rstrip(), "", "Raw (seconds, in run order):", ""]
    for name, r in rows.items():
        for kind in ("plain", "trainfleet", "ray", "ray_train"):
            if r[kind]:
                lines.append(f"- {name} {kind}: " + ", ".join(f"{x['wall']:.1f}" for x in r[kind]))
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
