"""In-memory batches for the in-process loop, `trainfleet eval` and the plain-PyTorch benchmark."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import torch

from trainfleet.dl.data.augment import Augment, augment_batch, is_identity
from trainfleet.dl.data.source import DataInfo, to_arrays


class InMemoryBatches:
    """A split held as tensors: reshuffled every epoch from (seed, epoch), so runs repeat exactly.

    With `world` > 1 (DDP) each `rank` takes every world-th row of the same epoch order, cut to
    an equal count so all workers step together (torch's DistributedSampler without padding);
    one worker sees exactly the batches the in-trial loop sees. `full_batch` makes each worker's
    whole share one batch (the `gd` optimiser). Validation rows are shared out the same way, uncut:
    the engine sums their statistics across workers. With `augment`, each training batch of images
    (and its `mask`/`boxes`, when present) is transformed by maps drawn from (seed, epoch, rank,
    batch index).
    """

    def __init__(self, train: pa.Table, val: pa.Table, info: DataInfo, batch_size: int, seed: int,
                 rank: int = 0, world: int = 1, augment: Augment | None = None, full_batch: bool = False) -> None:
        self.train_arrays = {k: torch.from_numpy(v) for k, v in to_arrays(train, info).items()}
        self.val_arrays = {k: torch.from_numpy(v)[rank::world] for k, v in to_arrays(val, info).items()}
        self.batch_size = batch_size
        self.seed = seed
        self.rank, self.world = rank, world
        self.augment = None if is_identity(augment) else augment
        self.full_batch = full_batch  # full-batch gradient descent: one training batch per epoch

    @property
    def n_train(self) -> int:
        return len(self.train_arrays["x"])

    def train(self, epoch: int) -> Iterator[dict[str, torch.Tensor]]:
        order = torch.from_numpy(np.random.default_rng((self.seed, epoch)).permutation(self.n_train))
        order = order[self.rank:self.n_train - self.n_train % self.world:self.world]
        size = max(len(order), 1) if self.full_batch else self.batch_size
        for i, start in enumerate(range(0, len(order), size)):
            idx = order[start:start + size]
            batch = {k: v[idx] for k, v in self.train_arrays.items()}
            yield batch if self.augment is None else self._augmented(batch, epoch, i)

    def _augmented(self, batch: dict[str, torch.Tensor], epoch: int, index: int) -> dict[str, torch.Tensor]:
        assert self.augment is not None  # only called when set
        rng = np.random.default_rng((self.seed, epoch, self.rank, index))
        x = batch["x"]
        images = x if x.dim() == 4 else x[:, None]  # (B, H, W) -> one channel
        images, mask, boxes = augment_batch(self.augment, rng, images, batch.get("mask"), batch.get("boxes"))
        out = dict(batch, x=images.reshape(x.shape))
        if mask is not None:
            out["mask"] = mask
        if boxes is not None:
            out["boxes"] = boxes
        return out

    def val(self) -> Iterator[dict[str, torch.Tensor]]:
        n = len(self.val_arrays["x"])
        for start in range(0, n, self.batch_size):
            yield {k: v[start:start + self.batch_size] for k, v in self.val_arrays.items()}
