"""Attention as one shared module (notes L7059-7264): scaled dot-product, multi-head, pre-norm blocks.

softmax(Q K^T / sqrt(d)) V (Vaswani et al. 2017). Every model that attends (`vit`, the
captioner's decoder, the video encoder, a DETR) uses these classes and gets the weights back,
so reports can draw attention maps and tests can check them. The score matrix is T_q x T_k per
head: time and memory grow with the square of the sequence length, the cost the notes name
as attention's main challenge (see `attention_flops` and benchmarks/vision_attention.py).
"""

from __future__ import annotations

import math

import torch
from torch import nn


def scaled_dot_product(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(softmax(q k^T / sqrt(d)) v, the weights); `mask` is True where a key may be attended.

    Shapes (..., T_q, d), (..., T_k, d), (..., T_k, d_v) -> (..., T_q, d_v), (..., T_q, T_k).
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights


class MultiHeadAttention(nn.Module):
    """h heads of dimension dim/h, each attending in its own learned subspace; outputs concatenated."""

    def __init__(self, dim: int, heads: int, dropout: float = 0.0, kv_dim: int | None = None) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} is not divisible by heads {heads}")
        kv_dim = kv_dim or dim
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(kv_dim, dim)
        self.v = nn.Linear(kv_dim, dim)
        self.out = nn.Linear(dim, dim)
        self.drop = nn.Dropout(dropout)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        return x.reshape(b, t, self.heads, d // self.heads).transpose(1, 2)

    def forward(
        self, query: torch.Tensor, context: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Self-attention when `context` is None. Returns (B, T_q, dim) and weights (B, heads, T_q, T_k)."""
        context = query if context is None else context
        q, k, v = self._split(self.q(query)), self._split(self.k(context)), self._split(self.v(context))
        mixed, weights = scaled_dot_product(q, k, v, mask)
        b, _, t, _ = mixed.shape
        return self.out(self.drop(mixed.transpose(1, 2).reshape(b, t, -1))), weights


class TransformerBlock(nn.Module):
    """Pre-norm encoder block: x + MHA(LN(x)), then x + MLP(LN(x)) (the ViT paper's order)."""

    def __init__(self, dim: int, heads: int, mlp_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp_dim, dim),
                                 nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mixed, weights = self.attn(self.norm1(x))
        x = x + mixed
        return x + self.mlp(self.norm2(x)), weights


def attention_flops(seq_len: int, dim: int) -> dict[str, int]:
    """Multiply-adds of one self-attention layer: projections grow with T, scores and mixing with T^2."""
    return {"projections": 4 * seq_len * dim * dim, "scores": seq_len * seq_len * dim, "mixing": seq_len * seq_len * dim}
