"""Segment trees over a fixed number of leaves, with vectorised batch updates and queries.

Prioritized replay needs three operations in O(log N): set many leaf values, the sum
(and the minimum) of all leaves, and "which leaf holds prefix-sum v" for a batch of v.
The tree is an array of 2·C nodes (C = capacity rounded up to a power of two): node 1
is the root, node i has children 2i and 2i+1, leaves are nodes C..2C-1. Every level is
processed for the whole batch at once with numpy, so a batch costs log2(C) numpy calls
rather than batch·log2(C) Python steps.
"""

from __future__ import annotations

import numpy as np


class SegmentTree:
    """A complete binary tree whose internal nodes hold `op` of their children."""

    def __init__(self, capacity: int, op: np.ufunc, neutral: float) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self.leaves = 1 << max(0, (capacity - 1).bit_length())
        self.op = op
        self.neutral = neutral
        self.nodes = np.full(2 * self.leaves, neutral, dtype=np.float64)

    def __getitem__(self, idx: np.ndarray | int) -> np.ndarray | float:
        return self.nodes[np.asarray(idx) + self.leaves]

    def update(self, idx: np.ndarray, values: np.ndarray) -> None:
        """Set leaves `idx` to `values` (the last write wins for repeated indices)."""
        nodes = np.unique(np.asarray(idx, dtype=np.int64)) + self.leaves
        self.nodes[np.asarray(idx, dtype=np.int64) + self.leaves] = values
        while nodes[0] > 1:
            nodes = np.unique(nodes >> 1)
            self.nodes[nodes] = self.op(self.nodes[2 * nodes], self.nodes[2 * nodes + 1])

    def reduce(self) -> float:
        """op over all leaves (the root)."""
        return float(self.nodes[1])

    def state(self) -> np.ndarray:
        return self.nodes.copy()

    def load(self, nodes: np.ndarray) -> None:
        self.nodes[:] = nodes


class SumTree(SegmentTree):
    """Sums of non-negative leaf values, searchable by prefix sum."""

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity, np.add, 0.0)

    def total(self) -> float:
        return self.reduce()

    def find_prefix_sum(self, values: np.ndarray) -> np.ndarray:
        """For each v in [0, total): the leaf i with sum(leaves[:i]) <= v < sum(leaves[:i+1]).

        Walks all queries down one level at a time. A query never enters a subtree whose sum
        is zero, so float round-off near the total cannot land on an empty leaf.
        """
        v = np.array(values, dtype=np.float64)
        node = np.ones(v.shape, dtype=np.int64)
        while node[0] < self.leaves:
            left = 2 * node
            left_sum = self.nodes[left]
            go_right = (v >= left_sum) & (self.nodes[left + 1] > 0)
            v = np.where(go_right, v - left_sum, v)
            node = left + go_right
        return node - self.leaves


class MinTree(SegmentTree):
    """Minimum over the leaves (empty leaves are +inf): gives max importance weight of the buffer."""

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity, np.minimum, np.inf)

    def min(self) -> float:
        return self.reduce()
