"""A text run's checkpoint directory: data only, nothing read back runs code.

    trial_spec.json    the trial's resolved job spec
    vocab.json         the words and their corpus counts
    <name>.npy         arrays (embeddings, IDF weights), read with allow_pickle=False
    state.pt           the language model's weights (torch.save of tensors, read with weights_only=True)
    history.json       one metrics row per epoch (the trial re-reports them to Tune)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trainfleet import results
from trainfleet.dl.text.vocab import Vocab
from trainfleet.rl.core.checkpoint import STATE_FILE, load_state, save_state
from trainfleet.schema import JobSpec

VOCAB_FILE = "vocab.json"
HISTORY_FILE = "history.json"


@dataclass
class TextCheckpoint:
    spec: JobSpec
    vocab: Vocab
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    state: dict[str, Any] | None = None
    history: list[dict[str, Any]] = field(default_factory=list)


def write(directory: str | Path, ck: TextCheckpoint) -> None:
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    results.write_trial_spec(d, ck.spec)
    (d / VOCAB_FILE).write_text(json.dumps(ck.vocab.to_dict()))
    (d / HISTORY_FILE).write_text(json.dumps(ck.history, default=float))
    for name, arr in ck.arrays.items():
        np.save(d / f"{name}.npy", np.ascontiguousarray(arr), allow_pickle=False)
    if ck.state is not None:
        save_state(d, ck.state)


def read(directory: str | Path) -> TextCheckpoint:
    d = Path(directory)
    spec = results.read_trial_spec(d)
    vocab = Vocab.from_dict(json.loads((d / VOCAB_FILE).read_text()))
    arrays = {p.stem: np.load(p, allow_pickle=False) for p in sorted(d.glob("*.npy"))}
    state = load_state(d) if (d / STATE_FILE).is_file() else None
    history = json.loads((d / HISTORY_FILE).read_text()) if (d / HISTORY_FILE).is_file() else []
    return TextCheckpoint(spec, vocab, arrays, state, history)
