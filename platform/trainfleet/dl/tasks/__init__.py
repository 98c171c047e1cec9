"""Tasks: what a model is trained to do -> its loss, its per-batch step and its validation metrics.

A task is an object with `out_dim`, `optimizers`, `train_step`, `eval_sums`, `metrics` and
`artifacts` (see `base.Task`); the one loop in `dl/engine.py` drives any of them.
"""

from __future__ import annotations

from trainfleet.dl.tasks.base import Task


def get(name: str) -> Task:
    from trainfleet.dl.tasks import caption, classify, detect, generate, reconstruct, regress, segment

    tasks: dict[str, Task] = {
        "classify": classify.Classify(),
        "regress": regress.Regress(),
        "reconstruct": reconstruct.Reconstruct(),
        "generate": generate.Generate(),
        "caption": caption.Caption(),
        "segment": segment.Segment(),
        "detect": detect.Detect(),
    }
    return tasks[name]


TASK_NAMES = ("classify", "regress", "reconstruct", "generate", "caption", "segment", "detect")
