"""The shared loop: exact resume, early stopping, the seed-fixed split, image folders."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import torch
from dl_helpers import spec

from trainfleet.dl.data.batches import InMemoryBatches
from trainfleet.dl.data.images import read_image_folder
from trainfleet.dl.data.source import DataInfo, DataSpec, prepare, split
from trainfleet.dl.engine import Collect, fit

HP = {"hidden": [32], "dropout": 0.2, "epochs": 4}  # dropout: resume must restore the RNG too


def run(s, start=None):
    torch.set_num_threads(1)  # as fit_in_process and Train workers do: 2 threads collapse on 2 busy cores
    ds = DataSpec.model_validate(s.data)
    p = prepare(ds, s.seed)
    collect = Collect()
    model = fit(s, p.info, InMemoryBatches(p.train, p.val, p.info, ds.batch_size, s.seed), collect, start=start)
    return model, collect


def test_resuming_from_a_checkpoint_continues_exactly():
    full_spec = spec("mlp", "classify", {"dataset": "digits"}, HP, checkpoint={"every": 2})
    full, rows = run(full_spec)
    _, first_half = run(spec("mlp", "classify", {"dataset": "digits"}, HP, checkpoint={"every": 2}, stop={"epochs": 2}))
    resumed, rest = run(full_spec, start=first_half.last_checkpoint.state)
    assert [r["epoch"] for r in rest.rows] == [3, 4]
    assert rest.rows[-1]["val_loss"] == rows.rows[-1]["val_loss"]
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_early_stopping_on_validation_accuracy():
    _, c = run(spec("mlp", "classify", {"dataset": "linear-2d"}, {"epochs": 50, "hidden": [4]},
                    stop={"epochs": 50, "val_accuracy": 0.99}))
    assert c.rows[-1]["stop_reason"] == "val_accuracy" and len(c.rows) < 50


def test_split_is_fixed_by_seed_and_disjoint():
    a, b, c = split(1000, 0.2, 0), split(1000, 0.2, 0), split(1000, 0.2, 1)
    assert np.array_equal(a.val_idx, b.val_idx) and not np.array_equal(a.val_idx, c.val_idx)
    assert len(a.val_idx) == 200 and not set(a.val_idx) & set(a.train_idx)
    assert a.record()["val_rows_sha256"] == b.record()["val_rows_sha256"]


def test_image_folder_reads_one_class_per_subfolder(tmp_path):
    from PIL import Image

    for label, colour in (("cats", (255, 0, 0)), ("dogs", (0, 0, 255))):
        (tmp_path / label).mkdir()
        for i in range(3):
            Image.new("RGB", (20, 10), colour).save(tmp_path / label / f"{i}.png")
    table = read_image_folder(tmp_path, size=8)
    assert table.num_rows == 6 and table.column("label").to_pylist() == [0, 0, 0, 1, 1, 1]
    assert table.schema.metadata[b"trainfleet.shape"] == b"[3, 8, 8]"
    _, c = run(spec("cnn", "classify", {"image_folder": str(tmp_path), "image_size": 8, "val_fraction": 0.34},
                    {"epochs": 1}))
    assert c.rows[-1]["epoch"] == 1


def test_ddp_shards_split_each_epoch_into_equal_disjoint_parts():
    """Each rank takes every world-th row of the one-worker epoch order, cut to equal counts."""
    rows = pa.table({"row": np.arange(1000, dtype=np.float32), "label": np.zeros(1000, dtype=np.int64)})
    info = DataInfo((1,), 10, ("row",), "label")  # the feature is the row number: batches show which rows
    order = torch.cat([b["x"] for b in InMemoryBatches(rows, rows, info, 64, seed=5).train(3)])[:, 0]
    shards = [InMemoryBatches(rows, rows, info, 64, 5, rank, 3) for rank in range(3)]
    seen = [torch.cat([b["x"] for b in shard.train(3)])[:, 0] for shard in shards]
    for rank, x in enumerate(seen):
        assert torch.equal(x, order[rank:999:3])
    assert sorted(torch.cat([b["x"] for shard in shards for b in shard.val()])[:, 0].tolist()) == list(range(1000))
