"""Where the learner runs: its torch device and thread count.

The trial's placement group gives the learner's bundle a GPU when `resources.learner_gpus`
is 1, or `auto` on a cluster that has one (launch/run.py `trial_resources`). Ray then sets
CUDA_VISIBLE_DEVICES for the trial, so `torch.cuda.is_available()` is the ground truth here.
Rollout workers always act on CPU copies of the policy.
"""

from __future__ import annotations

from typing import Any

import torch


def configure_threads(threads: int = 1) -> None:
    """One torch thread per process: with learner and workers sharing a few cores, more
    threads only contend (measured here: 2 threads up to 7x slower under load)."""
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def learner_device(resources: Any | None) -> torch.device:
    """cuda when the job asks for a learner GPU (1 or auto) and one is visible, else cpu."""
    want = getattr(resources, "learner_gpus", 0) if resources is not None else 0
    if want in (1, "auto") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")
