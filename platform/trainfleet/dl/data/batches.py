"""In-memory batches for the in-process loop, `trainfleet eval` and the plain-PyTorch benchmark."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import torch

from trainfleet.dl.data.source import DataInfo, to_arrays


class InMemoryBatches:
    """A split held as tensors: reshuffled every epoch from (seed, epoch), so runs repeat exactly."""

    def __init__(self, train: pa.Table, val: pa.Table, info: DataInfo, batch_size: int, seed: int) -> None:
        self.train_arrays = {k: torch.from_numpy(v) for k, v in to_arrays(train, info).items()}
        self.val_arrays = {k: torch.from_numpy(v) for k, v in to_arrays(val, info).items()}
        self.batch_size = batch_size
        self.seed = seed

    @property
    def n_train(self) -> int:
        return len(self.train_arrays["x"])

    def train(self, epoch: int) -> Iterator[dict[str, torch.Tensor]]:
        order = torch.from_numpy(np.random.default_rng((self.seed, epoch)).permutation(self.n_train))
        for start in range(0, self.n_train, self.batch_size):
            idx = order[start:start + self.batch_size]
            yield {k: v[idx] for k, v in self.train_arrays.items()}

    def val(self) -> Iterator[dict[str, torch.Tensor]]:
        n = len(self.val_arrays["x"])
        for start in range(0, n, self.batch_size):
            yield {k: v[start:start + self.batch_size] for k, v in self.val_arrays.items()}
