"""Safe checkpoint files: torch.save of plain containers, loaded with weights_only=True.

numpy arrays are stored as tensors (tagged) so loading never needs the full unpickler,
which would run arbitrary code from a tampered file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

STATE_FILE = "state.pt"
_NP_TAG = "__ndarray__"


def _encode(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return {_NP_TAG: torch.from_numpy(np.ascontiguousarray(obj)), "dtype": str(obj.dtype)}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: _encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_encode(v) for v in obj)
    return obj


def _decode(obj: Any) -> Any:
    if isinstance(obj, dict):
        if _NP_TAG in obj:
            return obj[_NP_TAG].numpy().astype(obj["dtype"], copy=False)
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_decode(v) for v in obj)
    return obj


def save_state(directory: str | Path, state: dict[str, Any]) -> Path:
    path = Path(directory) / STATE_FILE
    torch.save(_encode(state), path)
    return path


def load_state(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / STATE_FILE
    return _decode(torch.load(path, map_location="cpu", weights_only=True))


def restore_optimizer(optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """Moments and step counts from a checkpoint; lr and the other group settings stay the config's.

    `load_state_dict` would also bring back the saved param-group settings, so a PBT trial that
    clones a donor with a perturbed `lr` (or a resume with `--set hparams.lr=...`) kept training
    at the old rate (the failure of ray-project/ray#62173).
    """
    settings = [{k: v for k, v in group.items() if k != "params"} for group in optimizer.param_groups]
    optimizer.load_state_dict(state)
    for group, kept in zip(optimizer.param_groups, settings):
        group.update(kept)


def optimizer_lr(optimizer: torch.optim.Optimizer) -> float:
    """The learning rate the optimiser steps with now (its first parameter group's)."""
    return float(optimizer.param_groups[0]["lr"])
