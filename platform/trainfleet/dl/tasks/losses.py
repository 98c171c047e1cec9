"""Losses by name (notes L3536-3554, L4322-4358), for regression outputs and for class scores."""

from __future__ import annotations

import torch
import torch.nn.functional as F

REGRESSION = ("mse", "mae", "mape", "huber")
MAPE_EPS = 1e-7  # Keras's floor on |y|, so a zero target gives a large, finite term


def regression_loss(name: str, pred: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    if name == "mse":
        return F.mse_loss(pred, target, reduction=reduction)
    if name == "mae":
        return F.l1_loss(pred, target, reduction=reduction)
    if name == "huber":
        return F.huber_loss(pred, target, reduction=reduction, delta=1.0)
    if name == "mape":  # 100 * |y - y_hat| / |y|: a percentage, for targets away from zero
        return _reduce(100 * (target - pred).abs() / target.abs().clamp(min=MAPE_EPS), reduction)
    raise ValueError(f"{name!r} is not a regression loss")


def classification_loss(name: str, scores: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """`scores` are logits: (B, C) for C classes, or (B, 1) for a single-logit binary model.

    bce/hinge on one logit are the notes' binary forms (hinge with y in {-1, +1});
    mse/mae/huber compare the softmax (or sigmoid) output with the one-hot target.
    """
    single = scores.shape[1] == 1
    if name == "ce":
        if single:
            raise ValueError("ce needs one score per class; use bce or hinge for a single output")
        return F.cross_entropy(scores, y, reduction=reduction)
    if single:
        s, t = scores[:, 0], y.float()
        if name == "bce":
            return F.binary_cross_entropy_with_logits(s, t, reduction=reduction)
        if name == "hinge":
            return _reduce(torch.clamp(1 - (2 * t - 1) * s, min=0), reduction)
        return regression_loss(name, torch.sigmoid(s), t, reduction)
    onehot = F.one_hot(y, scores.shape[1]).float()
    if name == "bce":
        return _reduce(F.binary_cross_entropy_with_logits(scores, onehot, reduction="none").sum(1), reduction)
    if name == "hinge":
        return F.multi_margin_loss(scores, y, reduction=reduction)
    per = regression_loss(name, torch.softmax(scores, 1), onehot, reduction="none").sum(1)
    return _reduce(per, reduction)


def _reduce(x: torch.Tensor, reduction: str) -> torch.Tensor:
    return x.mean() if reduction == "mean" else x.sum()


def predict_classes(scores: torch.Tensor) -> torch.Tensor:
    return (scores[:, 0] > 0).long() if scores.shape[1] == 1 else scores.argmax(1)
