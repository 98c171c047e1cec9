"""Detection throughput: yolo training images/s, trainfleet's loop vs a plain PyTorch loop; inference images/s.

Same job (jobs/dl/yolo_shapes.yaml: 1,600 training / 400 validation 32x32 scenes, batch 16, Adam,
one torch thread), same model class and loss in both loops, run in this one process in
alternating rounds so machine load hits both alike. Training images/s = training images / the
seconds of the training pass alone (the engine's `train_samples_per_s`; the plain loop times the
same span), over epochs 2..E (epoch 1 pays warm-up). Inference images/s: forward + decoding
(yolo: NMS; detr: none) over the validation split in batches of 16, model in eval mode.

    python benchmarks/detection_throughput.py            # -> benchmarks/results/detection_throughput.md
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from trainfleet import jobs
from trainfleet.dl.build import build
from trainfleet.dl.data.source import DataSpec, prepare, to_arrays
from trainfleet.dl.engine import Collect, fit, in_memory

ROOT = Path(__file__).resolve().parents[1]
JOBS = {name: ROOT / "jobs" / "dl" / f"{name}_shapes.yaml" for name in ("yolo", "detr")}
RESULTS = ROOT / "benchmarks" / "results" / "detection_throughput.md"


def load_spec(name: str, epochs: int) -> jobs.JobSpec:
    spec, _ = jobs.load_job(JOBS[name], {"stop.epochs": epochs, "resources.use_gpu": False})
    return spec


def trainfleet_loop(spec: jobs.JobSpec) -> list[float]:
    """Training images/s per epoch of the engine's own loop (in process, in-memory batches)."""
    prepared, batches = in_memory(spec)
    rows = Collect()
    fit(spec, prepared.info, batches, rows)
    return [r["train_samples_per_s"] for r in rows.rows]


def plain_loop(spec: jobs.JobSpec) -> list[float]:
    """What a user writes by hand: TensorDataset + DataLoader, forward, the model's loss, backward, step."""
    torch.manual_seed(spec.seed)
    p = prepare(DataSpec.model_validate(spec.data), spec.seed)
    tr = to_arrays(p.train, p.info)
    data = torch.utils.data.TensorDataset(*(torch.from_numpy(tr[k]) for k in ("x", "boxes", "box_labels")))
    loader = torch.utils.data.DataLoader(data, batch_size=16, shuffle=True)
    _, hp, model = build(spec, p.info)
    opt = torch.optim.Adam(model.parameters(), lr=hp.lr)
    speeds = []
    for _ in range(spec.stop.epochs or 1):
        model.train()
        t0 = time.perf_counter()
        for x, boxes, labels in loader:
            loss = model.loss(model(x), boxes, labels)["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
        speeds.append(len(data) / (time.perf_counter() - t0))
    return speeds


def inference(name: str) -> float:
    spec = load_spec(name, 1)
    p = prepare(DataSpec.model_validate(spec.data), spec.seed)
    x = torch.from_numpy(to_arrays(p.val, p.info)["x"])
    _, _, model = build(spec, p.info)
    model.eval()
    with torch.no_grad():
        model.detect(model(x[:16]))  # warm-up
        t0 = time.perf_counter()
        for start in range(0, len(x), 16):
            model.detect(model(x[start:start + 16]))
    return len(x) / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    load0 = os.getloadavg()[0]
    spec = load_spec("yolo", args.epochs)
    plain, ours = [], []
    for r in range(args.rounds):  # ABBA: whichever runs first in a round runs second in the next
        order = (plain_loop, trainfleet_loop) if r % 2 == 0 else (trainfleet_loop, plain_loop)
        for loop in order:
            (plain if loop is plain_loop else ours).extend(loop(spec)[1:])
    infer = {name: inference(name) for name in JOBS}
    load1 = os.getloadavg()[0]
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    lines = [
        "# Detection throughput: yolo training, trainfleet loop vs plain PyTorch; inference",
        "",
        f"`python benchmarks/detection_throughput.py --epochs {args.epochs} --rounds {args.rounds}` on "
        f"{os.cpu_count()} CPUs (load average {load0:.1f} at start, {load1:.1f} at the end; other work shared the "
        f"machine), Python {platform.python_version()}, torch {torch.__version__}; {stamp}.",
        "Job: jobs/dl/yolo_shapes.yaml (1,600 training 32x32 scenes, batch 16, Adam, one torch thread). Training "
        "images/s over epochs 2..E of each round, both loops alternating in this one process; the trainfleet loop "
        "also validates (COCO mAP) each epoch, outside the timed training pass. Rounds alternate which loop goes first.",
        "",
        "| variant | mean images/s | best-epoch images/s | ratio to plain (best) |",
        "|---|---:|---:|---:|",
        f"| plain PyTorch loop (DataLoader, model.loss) | {np.mean(plain):,.0f} | {max(plain):,.0f} | 1.00 |",
        f"| trainfleet loop in process (in-memory batches) | {np.mean(ours):,.0f} | {max(ours):,.0f} | "
        f"{max(ours) / max(plain):.2f} |",
        "",
        "| inference (eval mode, batches of 16, forward + decoding) | images/s |",
        "|---|---:|",
        *[f"| {name} ({'per-class NMS' if name == 'yolo' else 'no NMS'}) | {v:,.0f} |" for name, v in infer.items()],
        "",
        "Not measured here: 1 and 2 Ray Train workers (see dl_throughput.md for the CNN's).",
    ]
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
