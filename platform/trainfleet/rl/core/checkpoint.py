"""Safe checkpoint files: torch.save of plain containers, loaded with weights_only=True.

numpy arrays are stored as tensors (tagged) so loading never needs the full unpickler,
which would run arbitrary code from a tampered file.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainfleet.errors import UserError, first_line

STATE_FILE = "state.pt"
_NP_TAG = "__ndarray__"


def _encode(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        # reshape: ascontiguousarray turns a 0-d array into shape (1,)
        return {_NP_TAG: torch.from_numpy(np.ascontiguousarray(obj).reshape(obj.shape)), "dtype": str(obj.dtype)}
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


def array_shapes(obj: Any, path: str = "") -> dict[str, tuple[int, ...]]:
    """path -> shape of every array or tensor in a state (to compare the layouts of two states)."""
    if isinstance(obj, (np.ndarray, torch.Tensor)):
        return {path: tuple(obj.shape)}
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, (list, tuple)) else ()
    out: dict[str, tuple[int, ...]] = {}
    for key, value in items:
        out.update(array_shapes(value, f"{path}/{key}"))
    return out


def save_state(directory: str | Path, state: dict[str, Any]) -> Path:
    path = Path(directory) / STATE_FILE
    torch.save(_encode(state), path)
    return path


def load_state(directory: str | Path) -> dict[str, Any]:
    """The state, or a UserError naming the file when it is missing, truncated or not weights-only."""
    return _decode(load_weights_only(Path(directory) / STATE_FILE))


def load_weights_only(path: Path) -> Any:
    """`torch.load` that runs no code, or a UserError naming the file."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"{path}: missing from the checkpoint") from None
    except Exception as err:  # torch raises many types for damaged files (zip, unpickler, EOF, ...)
        raise UserError(f"{path}: not a readable weights-only checkpoint ({first_line(err)})") from None


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


@contextmanager
def weights_fit(directory: str | Path) -> Iterator[None]:
    """Around loading a checkpoint's weights into a model rebuilt from its stored spec: weights of
    another shape or layout mean a damaged or mixed-up checkpoint, a UserError naming it."""
    try:
        yield
    except (KeyError, RuntimeError, ValueError, TypeError) as err:
        raise UserError(f"{directory}: the checkpoint does not fit its stored spec ({first_line(err)})") from None
