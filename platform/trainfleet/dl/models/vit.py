"""Vision Transformer (Dosovitskiy et al. 2021; notes L7059-7264): an image read as a sequence of patches.

Patches of p x p pixels are flattened and linearly embedded, a learned class token is put in
front, learned position embeddings are added, then `depth` separate pre-norm transformer blocks
(`attention.TransformerBlock`) mix them; the class token's final state goes through LayerNorm
and a linear head that outputs logits (the loss applies the softmax: the notes' Keras code
compiled logits with a probability loss, missing `from_logits=True`). Unlike the notes' code,
the model extracts its own patches and each block has its own weights (theirs reused one
attention layer at every depth).
"""

from __future__ import annotations

import torch
from pydantic import Field, model_validator
from torch import nn

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.hparams import TrainHparams
from trainfleet.dl.models.attention import TransformerBlock
from trainfleet.dl.models.cnn import image_shape


class ViTHparams(TrainHparams):
    patch: int = Field(2, ge=1, description="patch side in pixels; must divide the image side (2 for 8x8 digits, 16 for 224)")
    dim: int = Field(64, ge=4, description="token width (64 in the notes)")
    depth: int = Field(4, ge=1, description="transformer blocks, each with its own weights")
    heads: int = Field(4, ge=1, description="attention heads; must divide dim (4 in the notes)")
    mlp_dim: int = Field(128, ge=1, description="hidden width of each block's MLP (2 x dim in the notes)")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout in attention output and MLP")

    @model_validator(mode="after")
    def _heads_split_dim(self) -> ViTHparams:
        if self.dim % self.heads:
            raise ValueError(f"heads ({self.heads}) must divide dim ({self.dim})")
        return self


def patches(x: torch.Tensor, p: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, (H/p)(W/p), C p p): non-overlapping patches, row-major, each flattened."""
    b, c, h, w = x.shape
    if h % p or w % p:
        raise ValueError(f"patch size {p} does not divide the image size {h}x{w}")
    grid = x.unfold(2, p, p).unfold(3, p, p)  # (B, C, H/p, W/p, p, p)
    return grid.permute(0, 2, 3, 1, 4, 5).reshape(b, (h // p) * (w // p), c * p * p)


class ViT(nn.Module):
    Hparams = ViTHparams

    @staticmethod
    def check_data(hp: ViTHparams, shape: tuple[int, ...]) -> None:
        """Raise ValueError unless the samples are images that patches of hp.patch tile exactly."""
        _, h, w = image_shape(DataInfo(tuple(shape), None, (), ""))
        if h % hp.patch or w % hp.patch:
            raise ValueError(f"patch {hp.patch} does not divide the image size {h}x{w}")

    def __init__(self, hp: ViTHparams, info: DataInfo, out_dim: int) -> None:
        super().__init__()
        self.check_data(hp, info.shape)
        c, h, w = image_shape(info)
        self._shape = (c, h, w)
        self.patch = hp.patch
        self.num_patches = (h // hp.patch) * (w // hp.patch)
        self.embed = nn.Linear(c * hp.patch * hp.patch, hp.dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, hp.dim))
        self.pos = nn.Parameter(torch.randn(1, self.num_patches + 1, hp.dim) * 0.02)
        self.blocks = nn.ModuleList(TransformerBlock(hp.dim, hp.heads, hp.mlp_dim, hp.dropout) for _ in range(hp.depth))
        self.norm = nn.LayerNorm(hp.dim)
        self.head = nn.Linear(hp.dim, out_dim)

    def tokens(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Final token states (B, 1 + N, dim) and each block's attention weights."""
        t = self.embed(patches(x.reshape(len(x), *self._shape), self.patch))
        t = torch.cat([self.cls_token.expand(len(t), -1, -1), t], dim=1) + self.pos
        maps = []
        for block in self.blocks:
            t, w = block(t)
            maps.append(w)
        return self.norm(t), maps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.tokens(x)[0][:, 0])
