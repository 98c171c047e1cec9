"""Where the learner runs: its torch device and thread count.

The trial's placement group gives the learner's bundle a GPU when `resources.learner_gpus`
is 1, or `auto` on a cluster that has one (launch/run.py `trial_resources`). Ray then sets
CUDA_VISIBLE_DEVICES for the trial, so `torch.cuda.is_available()` is the ground truth here.
Rollout workers always act on CPU copies of the policy.
"""

from __future__ import annotations

import torch

from trainfleet.devices import torch_device
from trainfleet.schema import Resources


def configure_threads(threads: int = 1) -> None:
    """One torch thread per process: with learner and workers sharing a few cores, more
    threads only contend (measured here: 2 threads up to 7x slower under load)."""
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def learner_device(resources: Resources | None) -> torch.device:
    """The learner's device for `resources.learner_gpus` (cpu without resources)."""
    return torch_device(resources.learner_gpus if resources is not None else 0)
