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


def save_state(directory: str | Path, state: dict[str, Any]) -> Path:
    path = Path(directory) / STATE_FILE
    torch.save(_encode(state), path)
    return path


def load_state(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / STATE_FILE
    return _decode(torch.load(path, map_location="cpu", weights_only=True))
