"""`trainfleet predict RUN INPUT.parquet --out OUT.parquet`: a trained model's predictions for new rows.

The run's final checkpoint is rebuilt as `eval` rebuilds it (weights-only state, the run's own
spec and data description); the input needs the feature columns the model was trained on. The
output keeps every other input column (ids, labels) and adds `prediction` (the class index for
`classify`, the value for `regress`) and, for classes, `prob_<k>` per class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from trainfleet import results
from trainfleet.dl import checkpoint
from trainfleet.dl.build import build
from trainfleet.dl.data.source import read_parquet, to_arrays
from trainfleet.errors import UserError
from trainfleet.rl.core.checkpoint import weights_fit
from trainfleet.seeding import seed_everything

TASKS = ("classify", "regress")


def predict_run(run_dir: str | Path, input_path: str | Path, out_path: str | Path, batch_size: int = 512) -> dict[str, Any]:
    """Write the predictions of the run's final model for every row of `input_path`; returns a summary."""
    spec, _ = results.load_run_spec(run_dir)
    if spec.is_rl or spec.task not in TASKS:
        raise UserError(f"{run_dir}: predict writes class or value predictions ({', '.join(TASKS)} runs); "
                        f"this run's task is {spec.task or 'reinforcement learning'}")
    out = Path(out_path)
    if not out.resolve().parent.is_dir():
        raise UserError(f"--out {out_path}: the folder {out.resolve().parent} does not exist")
    if not Path(input_path).is_file():
        raise UserError(f"{input_path}: no such Parquet file")
    table = _read(input_path)
    ckpt = results.final_checkpoint(run_dir)
    loaded = checkpoint.read(ckpt)
    info = loaded.info
    missing = [f for f in info.features if f not in table.column_names]
    if missing:
        raise UserError(f"{input_path}: lacks {len(missing)} of the model's {len(info.features)} feature columns "
                        f"(first: {', '.join(missing[:3])})")
    task, _, model = build(loaded.spec, info)
    with weights_fit(ckpt):
        model.load_state_dict(loaded.state["model"])
    model.eval()
    torch.set_num_threads(1)
    seed_everything(loaded.spec.seed)  # models with random encodings (the spiking network) repeat exactly
    x = torch.from_numpy(to_arrays(table.select(list(info.features)), info)["x"])
    with torch.no_grad():
        scores = torch.cat([model(b).float() for b in x.split(batch_size)]) if len(x) else torch.zeros(0, 1)
    columns = _prediction_columns(spec.task, scores)
    kept = {name: table.column(name) for name in table.column_names if name not in set(info.features)}
    predicted = pa.table({**kept, **{name: pa.array(values) for name, values in columns.items()}})
    with results.atomic_write(out) as tmp:
        pq.write_table(predicted, tmp)
    return {"rows": len(predicted), "out": str(out), "columns": list(columns)}


def _read(path: str | Path) -> pa.Table:
    try:
        return read_parquet(str(path))
    except (pa.ArrowInvalid, OSError) as err:
        raise UserError(f"{path}: not a readable Parquet file ({str(err).splitlines()[0][:120]})") from None


def _prediction_columns(task: str, scores: torch.Tensor) -> dict[str, np.ndarray]:
    """Class index and per-class probabilities (one logit: sigmoid, as the task scores it), or the value."""
    from trainfleet.dl.tasks.losses import predict_classes

    if task == "regress":
        return {"prediction": scores[:, 0].numpy()}
    if scores.shape[1] == 1:
        p1 = torch.sigmoid(scores[:, 0])
        probs = torch.stack([1 - p1, p1], 1)
    else:
        probs = torch.softmax(scores, 1)
    out = {"prediction": predict_classes(scores).numpy()}
    out.update({f"prob_{k}": probs[:, k].numpy() for k in range(probs.shape[1])})
    return out
