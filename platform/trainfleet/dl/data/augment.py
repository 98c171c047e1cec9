"""Seeded image augmentation (notes L878-881): random flips, rotations and shifts of training batches.

    data: {dataset: digits, augment: {rotate: 10, shift: 0.1}}        # digits: no flips (a flipped 2 is no 2)
    data: {image_folder: ./pets, augment: {hflip: true, rotate: 15}}

One affine map per image, drawn from (job seed, epoch, worker rank, batch index), so a run
repeats exactly and a resumed run sees the same batches. Images are resampled bilinearly;
class masks with the same map by nearest neighbour, and boxes (x0, y0, x1, y1 in pixels) become
the box enclosing their transformed corners, clipped to the image, so labels stay on the pixels
they describe. Only training batches are augmented. A label that names a side ("left of" in a
caption, the shape scenes' first-object label) does not move with a flip: jobs on such data use
rotate/shift only (flips of captioned data are refused at validation).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field


class Augment(BaseModel):
    """The `data.augment` section."""

    model_config = ConfigDict(extra="forbid")

    hflip: bool = Field(False, description="mirror left-right with probability 1/2")
    vflip: bool = Field(False, description="mirror top-bottom with probability 1/2")
    rotate: float = Field(0.0, ge=0, le=180, description="rotate by a uniform angle in [-rotate, rotate] degrees")
    shift: float = Field(0.0, ge=0, lt=1, description="translate by up to this fraction of the side, each axis")


def affine(aug: Augment, n: int, rng: np.random.Generator) -> torch.Tensor:
    """(n, 3, 3) maps in normalised coordinates [-1, 1] from an output pixel to the input pixel it reads."""
    angle = np.deg2rad(rng.uniform(-aug.rotate, aug.rotate, n))
    sx = np.where((rng.random(n) < 0.5) & aug.hflip, -1.0, 1.0)
    sy = np.where((rng.random(n) < 0.5) & aug.vflip, -1.0, 1.0)
    tx, ty = rng.uniform(-2 * aug.shift, 2 * aug.shift, (2, n))  # a side spans 2 normalised units
    cos, sin = np.cos(angle), np.sin(angle)
    m = np.zeros((n, 3, 3))
    m[:, 0, 0], m[:, 0, 1], m[:, 0, 2] = cos * sx, -sin * sx, tx
    m[:, 1, 0], m[:, 1, 1], m[:, 1, 2] = sin * sy, cos * sy, ty
    m[:, 2, 2] = 1.0
    return torch.from_numpy(m).float()


def _warp(x: torch.Tensor, m: torch.Tensor, mode: str) -> torch.Tensor:
    grid = F.affine_grid(m[:, :2], list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)


def warp_boxes(boxes: torch.Tensor, m: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(n, K, 4) pixel boxes -> the boxes enclosing their corners under the inverse of each map."""
    inv = torch.linalg.inv(m)
    scale = torch.tensor([2.0 / width, 2.0 / height])
    x0, y0, x1, y1 = boxes.unbind(-1)
    corners = torch.stack([torch.stack(c, -1) for c in ((x0, y0), (x1, y0), (x0, y1), (x1, y1))], dim=-2)  # (n,K,4,2)
    norm = corners * scale - 1
    ones = torch.ones(*norm.shape[:-1], 1)
    moved = torch.einsum("nij,nkcj->nkci", inv, torch.cat([norm, ones], -1))[..., :2]
    pix = (moved + 1) / scale
    lo, hi = pix.amin(-2), pix.amax(-2)
    limit = torch.tensor([width, height], dtype=boxes.dtype)
    return torch.cat([lo.clamp(min=0), torch.minimum(hi, limit)], -1)


def augment_batch(
    aug: Augment, rng: np.random.Generator, images: torch.Tensor,
    masks: torch.Tensor | None = None, boxes: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Images (n, C, H, W); optional class masks (n, H, W) and boxes (n, K, 4) moved with them."""
    m = affine(aug, len(images), rng)
    out = _warp(images, m, "bilinear")
    if masks is not None:
        masks = _warp(masks[:, None].float(), m, "nearest")[:, 0].round().to(masks.dtype)
    if boxes is not None:
        boxes = warp_boxes(boxes, m, images.shape[-2], images.shape[-1])
    return out, masks, boxes


def is_identity(aug: Augment | None) -> bool:
    return aug is None or not (aug.hflip or aug.vflip or aug.rotate or aug.shift)

