"""A job's `data:` section -> an Arrow table, its `DataInfo` and a seed-fixed train/val split.

    data: {dataset: digits}                                  # built-in (trainfleet list datasets)
    data: {path: /mnt/data/train.parquet, label_column: y}   # Parquet file/dir, a local or mounted path
    data: {path: a.parquet, val_path: b.parquet}             # explicit held-out file, no split
    data: {dataset: digits, test_fraction: 0.2}              # + a test set only `trainfleet eval` scores
    data: {image_folder: ./pets}                             # one sub-folder per class

Only pyarrow and numpy here: the split must be recomputable by `trainfleet eval` without Ray.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field, model_validator

from trainfleet.dl.data.augment import Augment
from trainfleet.dl.data.builtin import CLASSES_KEY, LABEL, SHAPE_KEY
from trainfleet.dl.data.captions import CAPTIONS_KEY

# List columns that travel beside the image as their own batch entries, never as features:
# a class mask (H x W), boxes (x0, y0, x1, y1 each), box classes, and reference captions (ids).
TARGET_COLUMNS = ("mask", "boxes", "box_labels", "tokens")


class DataSpec(BaseModel):
    """The `data:` section of a DL job."""

    model_config = ConfigDict(extra="forbid")

    dataset: str | None = Field(None, description="a built-in dataset name (trainfleet list datasets)")
    path: str | None = Field(None, description="Parquet file or directory: a local path (a bucket through a mount)")
    image_folder: str | None = Field(None, description="directory with one sub-folder of images per class")
    val_path: str | None = Field(None, description="held-out Parquet; when given, `path` is all training data")
    test_path: str | None = Field(None, description="test Parquet, goes with `path`: scored by `trainfleet eval` "
                                  "as test_<metric>, never seen in training or validation")
    test_fraction: float = Field(0.0, ge=0, lt=1, description="share of rows kept apart as a test set (the same rows "
                                 "for every seed), scored by `trainfleet eval` as test_<metric>")
    features: list[str] | None = Field(None, description="feature columns (default: every column but the label)")
    label_column: str = Field(LABEL, description="class index (classify) or target value (regress)")
    shape: list[int] | None = Field(None, description="per-sample shape, e.g. [1, 8, 8]; default from file metadata")
    val_fraction: float = Field(0.2, gt=0, lt=1, description="share of rows held out, chosen by the job's seed")
    batch_size: int = Field(32, ge=1, description="per-worker batch size")
    image_size: int = Field(32, ge=4, description="image_folder: images are resized to size x size")
    augment: Augment | None = Field(None, description="seeded random flips/rotations/shifts of training images")

    @model_validator(mode="after")
    def _one_source(self) -> DataSpec:
        given = [k for k in ("dataset", "path", "image_folder") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of `dataset`, `path` or `image_folder`")
        if self.val_path and not self.path:
            raise ValueError("`val_path` goes with `path`")
        if self.test_path and not self.path:
            raise ValueError("`test_path` goes with `path`")
        if self.test_path and self.test_fraction:
            raise ValueError("give `test_path` or `test_fraction`, not both")
        if not self.val_path and self.val_fraction + self.test_fraction >= 1:
            raise ValueError(f"val_fraction {self.val_fraction} + test_fraction {self.test_fraction} leave no "
                             "training rows (their sum must stay below 1)")
        return self


@dataclass(frozen=True)
class DataInfo:
    """What a model is built from: one sample's shape, the number of classes (None: regression) and,
    for captioned data, the caption vocabulary (word of each id)."""

    shape: tuple[int, ...]
    num_classes: int | None
    features: tuple[str, ...]
    label_column: str
    vocab: tuple[str, ...] = ()

    @property
    def num_features(self) -> int:
        return int(np.prod(self.shape))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataInfo:
        return cls(tuple(d["shape"]), d["num_classes"], tuple(d["features"]), d["label_column"], tuple(d.get("vocab", ())))


def filesystem(path: str) -> tuple[Any, str]:
    """(pyarrow filesystem, path inside it) for a local path or a URI such as s3://bucket/key."""
    from pyarrow import fs

    if "://" in path:
        return fs.FileSystem.from_uri(path)
    return fs.LocalFileSystem(), path


def exists(path: str) -> bool:
    from pyarrow import fs

    filesys, inner = filesystem(path)
    return filesys.get_file_info(inner).type != fs.FileType.NotFound


def count_rows(path: str) -> int:
    """Rows of a Parquet file or directory, from its footers (no data read)."""
    filesys, inner = filesystem(path)
    return sum(fragment.metadata.num_rows for fragment in pq.ParquetDataset(inner, filesystem=filesys).fragments)


def read_schema(path: str) -> pa.Schema:
    filesys, inner = filesystem(path)
    return pq.ParquetDataset(inner, filesystem=filesys).schema


def read_parquet(path: str) -> pa.Table:
    filesys, inner = filesystem(path)
    return pq.read_table(inner, filesystem=filesys)


def load_table(ds: DataSpec) -> pa.Table:
    """All rows of the source (for `path` + `val_path`: the training file only)."""
    if ds.dataset:
        from trainfleet import registry

        return registry.DATASETS[ds.dataset].load()()
    if ds.image_folder:
        from trainfleet.dl.data.images import read_image_folder

        return read_image_folder(ds.image_folder, ds.image_size)
    return read_parquet(ds.path)


def info_for(ds: DataSpec, schema: pa.Schema, labels: np.ndarray | None = None) -> DataInfo:
    """DataInfo from the spec, the file metadata, and (when needed) the label values."""
    meta = schema.metadata or {}
    features = tuple(ds.features or [n for n in schema.names if n != ds.label_column and n not in TARGET_COLUMNS])
    if ds.shape:
        shape = tuple(ds.shape)
    elif SHAPE_KEY in meta:
        shape = tuple(json.loads(meta[SHAPE_KEY]))
    else:
        shape = (len(features),)
    if CLASSES_KEY in meta:
        num_classes = json.loads(meta[CLASSES_KEY])
    elif ds.label_column in schema.names and pa.types.is_integer(schema.field(ds.label_column).type):
        num_classes = int(labels.max()) + 1 if labels is not None and len(labels) else None
    else:
        num_classes = None
    vocab = tuple(meta[CAPTIONS_KEY].decode().split()) if CAPTIONS_KEY in meta else ()
    return DataInfo(shape, num_classes, features, ds.label_column, vocab)


def to_arrays(batch: dict[str, np.ndarray] | pa.Table, info: DataInfo) -> dict[str, np.ndarray]:
    """Columns -> {"x": float32 (B, *shape), "y": labels, and any of TARGET_COLUMNS}; also the collate
    step on Train workers."""
    targets: dict[str, np.ndarray] = {}
    if isinstance(batch, pa.Table):
        columns = dict(zip(batch.column_names, batch.columns))  # by name in O(1): image tables have thousands
        targets = {name: _list_column(columns[name]) for name in TARGET_COLUMNS if name in columns}
        batch = {name: columns[name].to_numpy() for name in (*info.features, info.label_column) if name in columns}
    x = np.stack([np.asarray(batch[f], dtype=np.float32) for f in info.features], axis=1)
    out = {"x": x.reshape(len(x), *info.shape)}
    if "mask" in targets:
        targets["mask"] = targets["mask"].reshape(len(x), *info.shape[-2:]).astype(np.int64)
    if "boxes" in targets:
        targets["boxes"] = targets["boxes"].reshape(len(x), -1, 4).astype(np.float32)
    out.update(targets)
    if info.label_column in batch:
        y = np.asarray(batch[info.label_column])
        out["y"] = y.astype(np.int64) if info.num_classes else y.astype(np.float32)
    return out


def _list_column(column: pa.ChunkedArray) -> np.ndarray:
    """An equal-length (possibly nested) list column as one array (rows, *row shape)."""
    values = column.combine_chunks()
    dims = []
    while pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
        dims.append(len(values[0]) if len(values) else 0)
        values = values.flatten()
    return np.array(values.to_numpy(zero_copy_only=False)).reshape(len(column), *dims)  # writable: torch shares it


# Test rows do not move with the job's seed: every seed of a sweep is scored on the same ones.
TEST_SEED = 0


def _digest(rows: np.ndarray) -> str:
    return hashlib.sha256(np.sort(rows).tobytes()).hexdigest()[:16]


@dataclass(frozen=True)
class Split:
    """Which rows are held out: fixed by (seed, val_fraction, test_fraction, row count), recorded in the run dir."""

    seed: int
    val_fraction: float
    n_rows: int
    train_idx: np.ndarray
    val_idx: np.ndarray
    test_idx: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def record(self) -> dict[str, Any]:
        out = {
            "seed": self.seed, "val_fraction": self.val_fraction, "n_rows": self.n_rows,
            "n_train": len(self.train_idx), "n_val": len(self.val_idx), "val_rows_sha256": _digest(self.val_idx),
            "val_rows": np.sort(self.val_idx).tolist() if len(self.val_idx) <= 10_000 else None,
        }
        if len(self.test_idx):
            out.update(n_test=len(self.test_idx), test_rows_sha256=_digest(self.test_idx))
        return out


def split_off_test(n_rows: int, test_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """(test rows, the other rows), both sorted; the test rows depend on the row count alone."""
    if not test_fraction:
        return np.empty(0, dtype=np.int64), np.arange(n_rows)
    held = np.random.default_rng(TEST_SEED).permutation(n_rows)
    n_test = max(1, int(round(n_rows * test_fraction)))
    return np.sort(held[:n_test]), np.sort(held[n_test:])


def split(n_rows: int, val_fraction: float, seed: int, test_fraction: float = 0.0) -> Split:
    """Test rows first (seed-independent), then the job's seed picks the validation rows among the rest."""
    test, rest = split_off_test(n_rows, test_fraction)
    perm = rest[np.random.default_rng(seed).permutation(len(rest))]
    n_val = max(1, int(round(n_rows * val_fraction)))
    return Split(seed, val_fraction, n_rows, np.sort(perm[n_val:]), np.sort(perm[:n_val]), test)


@dataclass
class Prepared:
    """The train and validation tables of a job, with their info, the split record and any test table."""

    train: pa.Table
    val: pa.Table
    info: DataInfo
    split: dict[str, Any]
    test: pa.Table | None = None


def prepare(ds: DataSpec, seed: int) -> Prepared:
    """Load the source and split it; the same result in every process for the same seed."""
    table = load_table(ds)
    labels = table.column(ds.label_column).to_numpy() if ds.label_column in table.column_names else None
    info = info_for(ds, table.schema, labels)
    test = read_parquet(ds.test_path) if ds.test_path else None
    if ds.val_path:
        held, rest = split_off_test(len(table), ds.test_fraction)
        if len(held):
            test, table = table.take(held), table.take(rest)
        val = read_parquet(ds.val_path)
        record = {"val_path": ds.val_path, "n_train": len(table), "n_val": len(val)}
        if len(held):
            record.update(n_test=len(held), test_rows_sha256=_digest(held))
        return Prepared(table, val, info, record, test)
    s = split(len(table), ds.val_fraction, seed, ds.test_fraction)
    if len(s.test_idx):
        test = table.take(s.test_idx)
    return Prepared(table.take(s.train_idx), table.take(s.val_idx), info, s.record(), test)


def export(name: str, directory: str, shards: int = 1) -> str:
    """`trainfleet data export NAME DIR`: a built-in dataset as DIR/NAME.parquet (metadata kept).

    With shards > 1: DIR/NAME/part-00000.parquet ... (row ranges in order), a directory that
    `data: {path: ...}` and Ray Data read as one dataset, one file per reader.
    """
    from trainfleet import registry
    from trainfleet.errors import UserError

    if name not in registry.DATASETS:
        registry.named(registry.DATASETS, "dataset", name, path="NAME")
    filesys, inner = filesystem(directory)
    table = registry.DATASETS[name].load()()
    if shards > 1:
        target = f"{directory.rstrip('/')}/{name}"
        step = -(-table.num_rows // shards)
        parts = [(f"{target}/part-{i:05d}.parquet", table.slice(i * step, step)) for i in range(shards)]
    else:
        target = f"{directory.rstrip('/')}/{name}.parquet"
        parts = [(target, table)]
    try:
        filesys.create_dir(inner, recursive=True)
        if shards > 1:
            filesys.create_dir(filesystem(target)[1], recursive=True)
        for path, part in parts:
            if "://" in directory:
                pq.write_table(part, filesystem(path)[1], filesystem=filesys)
            else:  # a local file is written aside and renamed: never through a planted link
                from trainfleet.results import atomic_write

                with atomic_write(path) as tmp:
                    pq.write_table(part, tmp)
    except OSError as err:
        raise UserError(f"cannot write {target}: {err}") from None
    return target
