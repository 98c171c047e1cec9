"""A DL checkpoint directory: everything `resume`, `trainfleet eval` and transfer learning need.

    state.pt          model, optimisers, epoch, time, RNG states (torch.save of plain data,
                      loaded with weights_only=True)
    trial_spec.json   the trial's resolved job spec (results.TRIAL_SPEC_FILE)
    data_info.json    sample shape, classes, feature and label columns
    split.json        the seed-fixed train/val split (rows held out)
    samples.png ...   task artifacts (a GAN's sample grid)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainfleet import results
from trainfleet.dl.data.source import DataInfo
from trainfleet.errors import UserError, first_line
from trainfleet.rl.core.checkpoint import load_state, save_state
from trainfleet.schema import JobSpec

INFO_FILE = "data_info.json"
SPLIT_FILE = "split.json"


@dataclass
class Payload:
    """What the training loop hands to `report(..., checkpoint=...)`: state plus files to keep."""

    state: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)


def write(directory: str | Path, payload: Payload, spec: JobSpec, info: DataInfo, split: dict[str, Any]) -> None:
    d = Path(directory)
    save_state(d, payload.state)
    results.write_trial_spec(d, spec)
    (d / INFO_FILE).write_text(json.dumps(info.to_dict()))
    (d / SPLIT_FILE).write_text(json.dumps(split))
    for name, data in payload.files.items():
        (d / name).write_bytes(data)


@dataclass
class Loaded:
    spec: JobSpec
    info: DataInfo
    state: dict[str, Any]


def read(directory: str | Path) -> Loaded:
    d = Path(directory)
    spec = results.read_trial_spec(d)
    try:
        info = DataInfo.from_dict(results.read_json(d / INFO_FILE))
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(f"{d / INFO_FILE}: not a data description ({first_line(err)})") from None
    return Loaded(spec, info, load_state(d))
