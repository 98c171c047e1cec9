"""Box geometry for the detectors: format changes, IoU, generalised IoU and non-maximum suppression.

torchvision.ops has all of these, but no torchvision wheel loads beside torch 2.13.0+cpu here
(PyPI's 0.28.0 fails with "operator torchvision::nms does not exist"; 0.29 needs torch 2.14),
so they are written out: each is a few lines and tested against hand-made cases.
Boxes are (x0, y0, x1, y1) unless a name says cxcywh.
"""

from __future__ import annotations

import torch


def cxcywh_to_xyxy(b: torch.Tensor) -> torch.Tensor:
    cx, cy, w, h = b.unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)


def xyxy_to_cxcywh(b: torch.Tensor) -> torch.Tensor:
    x0, y0, x1, y1 = b.unbind(-1)
    return torch.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], -1)


def area(b: torch.Tensor) -> torch.Tensor:
    return (b[..., 2] - b[..., 0]).clamp(min=0) * (b[..., 3] - b[..., 1]).clamp(min=0)


def _inter_union(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairwise intersection and union areas, (..., N, M)."""
    lo = torch.maximum(a[..., :, None, :2], b[..., None, :, :2])
    hi = torch.minimum(a[..., :, None, 2:], b[..., None, :, 2:])
    inter = (hi - lo).clamp(min=0).prod(-1)
    return inter, area(a)[..., :, None] + area(b)[..., None, :] - inter


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU of (..., N, 4) and (..., M, 4) boxes -> (..., N, M)."""
    inter, union = _inter_union(a, b)
    return inter / union.clamp(min=1e-9)


def generalized_box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise GIoU (Rezatofighi et al. 2019): IoU minus the share of the enclosing box neither covers."""
    inter, union = _inter_union(a, b)
    hull = (torch.maximum(a[..., :, None, 2:], b[..., None, :, 2:])
            - torch.minimum(a[..., :, None, :2], b[..., None, :, :2])).clamp(min=0).prod(-1)
    return inter / union.clamp(min=1e-9) - (hull - union) / hull.clamp(min=1e-9)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Indices of the boxes kept, best score first: each box drops every lower-scored one overlapping
    it by more than `iou_threshold` (greedy NMS, as torchvision.ops.nms)."""
    order = scores.argsort(descending=True)
    iou = box_iou(boxes[order], boxes[order])
    keep = torch.ones(len(order), dtype=torch.bool)
    for i in range(len(order)):
        if keep[i]:
            keep[i + 1:] &= iou[i, i + 1:] <= iou_threshold
    return order[keep]


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """NMS within each class only: boxes of different classes never suppress each other."""
    if len(boxes) == 0:
        return torch.zeros(0, dtype=torch.long)
    offset = labels.to(boxes.dtype)[:, None] * (boxes.max() + 1)  # classes moved apart, never overlapping
    return nms(boxes + offset, scores, iou_threshold)
