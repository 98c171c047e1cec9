"""Seeding and the global RNG states, the same for every backend and for DL.

A run seeds Python's, numpy's and torch's global generators from the job's `seed` once, where
its runner or training loop is built; a checkpoint carries their states so a resume continues
the same streams.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """The global generators' states as plain arrays (a weights-only checkpoint can hold them)."""
    _, keys, pos, *_ = np.random.get_state()
    return {"torch": torch.get_rng_state(), "numpy": keys, "numpy_pos": pos, "python": random.getstate()[1]}


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(("MT19937", state["numpy"], int(state["numpy_pos"]), 0, 0.0))
    random.setstate((3, tuple(state["python"]), None))
