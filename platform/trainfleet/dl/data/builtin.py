"""Built-in datasets: scikit-learn's bundled 8x8 digits (real data) and seed-fixed generated sets.

Each builder returns an Arrow table: one float column per feature, a `label` column, and the
sample shape and class count in the schema metadata, so `trainfleet data export` writes a
self-describing Parquet file and models can be built from it without reading the rows.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

LABEL = "label"
SHAPE_KEY = b"trainfleet.shape"
CLASSES_KEY = b"trainfleet.num_classes"
SEED = 0  # generated sets are identical on every machine


def table(x: np.ndarray, y: np.ndarray, shape: tuple[int, ...], num_classes: int | None, prefix: str = "x") -> pa.Table:
    """Features as `prefix_0..prefix_{F-1}` float32 columns, plus `label`, plus metadata."""
    flat = x.reshape(len(x), -1).astype(np.float32)
    cols = {f"{prefix}_{i}": flat[:, i] for i in range(flat.shape[1])}
    cols[LABEL] = y
    meta = {SHAPE_KEY: json.dumps(list(shape)).encode(), CLASSES_KEY: json.dumps(num_classes).encode()}
    return pa.table(cols).replace_schema_metadata(meta)


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits file read as `load_digits` does, without importing scikit-learn (~2 s)."""
    import importlib.util
    from pathlib import Path

    package = importlib.util.find_spec("sklearn").submodule_search_locations[0]
    rows = np.loadtxt(Path(package) / "datasets" / "data" / "digits.csv.gz", delimiter=",")
    return (rows[:, :-1] / 16.0).astype(np.float32), rows[:, -1].astype(np.int64)  # pixels 0..16 -> [0, 1]


def digits() -> pa.Table:
    """1,797 handwritten digits, 8x8 grey (UCI via scikit-learn), as 1x8x8 images, 10 classes."""
    x, y = _digits_arrays()
    return table(x, y, (1, 8, 8), 10, prefix="pixel")


def digits_sequences() -> pa.Table:
    """The same digits read row by row: 8 time steps of 8 features, for recurrent models."""
    x, y = _digits_arrays()
    return table(x, y, (8, 8), 10, prefix="pixel")


def digits_0to4() -> pa.Table:
    """Digits 0-4 only: the pre-training task of the transfer-learning demo."""
    x, y = _digits_arrays()
    keep = y < 5
    return table(x[keep], y[keep], (1, 8, 8), 5, prefix="pixel")


def digits_5to9() -> pa.Table:
    """Digits 5-9 relabelled 0-4: the fine-tuning task of the transfer-learning demo."""
    x, y = _digits_arrays()
    keep = y >= 5
    return table(x[keep], y[keep] - 5, (1, 8, 8), 5, prefix="pixel")


def linear_2d() -> pa.Table:
    """Two Gaussian blobs a line separates with a margin (the perceptron's home ground)."""
    rng = np.random.default_rng(SEED)
    n = 200
    a = rng.normal([-1.5, -1.0], 0.5, size=(n, 2))
    b = rng.normal([1.5, 1.0], 0.5, size=(n, 2))
    x = np.concatenate([a, b])
    y = np.repeat([0, 1], n).astype(np.int64)
    return table(x, y, (2,), 2)


def xor_2d() -> pa.Table:
    """XOR: four corners of the unit square, label = x1 xor x2, with a little jitter."""
    rng = np.random.default_rng(SEED)
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    labels = np.array([0, 1, 1, 0], dtype=np.int64)
    idx = np.repeat(np.arange(4), 100)
    x = corners[idx] * 2 - 1 + rng.normal(0, 0.1, size=(len(idx), 2))
    return table(x, labels[idx], (2,), 2)


def moons_2d() -> pa.Table:
    """scikit-learn's two interleaving half-moons (noise 0.15): needs a non-linear boundary."""
    from sklearn.datasets import make_moons

    x, y = make_moons(n_samples=1000, noise=0.15, random_state=SEED)
    return table(x, y.astype(np.int64), (2,), 2)


def sine_regression() -> pa.Table:
    """y = sin(x) + noise on [-3, 3]: a 1-D regression target for MSE/MAE/Huber demos."""
    rng = np.random.default_rng(SEED)
    x = rng.uniform(-3, 3, size=(1000, 1))
    y = (np.sin(x[:, 0]) + rng.normal(0, 0.1, size=1000)).astype(np.float32)
    return table(x, y, (1,), None)
