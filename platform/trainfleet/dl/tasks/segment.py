"""Semantic segmentation (notes L6603-6741): per-pixel class logits -> CE (or BCE) + soft Dice; IoU, Dice.

A mask's classes are the data's classes plus background (0), as the shape scenes store them
(0 background, 1 + shape class). Validation sums, per class, the intersection, predicted and
true pixel counts over the whole split, so mean IoU and Dice are dataset-level (the confusion
counts of Pascal VOC), add up exactly across shards and batches, and average over the classes
present. A model whose output is smaller than its mask (the notes' literal U-Net: half size)
has its logits upsampled bilinearly, so it is scored on the same pixels as the others.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.hparams import TrainHparams
from trainfleet.dl.tasks.base import penalty, single_optimizer

SEGMENT_LOSSES = (None, "ce", "bce")
SMOOTH = 1.0  # keeps the soft Dice defined on a batch without some class


def mask_classes(info: DataInfo) -> int:
    return int(info.num_classes or 1) + 1


def full_size(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    if logits.shape[-2:] == mask.shape[-2:]:
        return logits
    return F.interpolate(logits, size=mask.shape[-2:], mode="bilinear", align_corners=False)


def soft_dice_loss(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """1 - mean over classes of (2 sum p*t + s) / (sum p + sum t + s), with p the softmax (Milletari et al. 2016)."""
    p = torch.softmax(logits, 1)
    t = F.one_hot(mask, logits.shape[1]).permute(0, 3, 1, 2).to(p.dtype)
    inter = (p * t).sum((0, 2, 3))
    return 1 - ((2 * inter + SMOOTH) / (p.sum((0, 2, 3)) + t.sum((0, 2, 3)) + SMOOTH)).mean()


def pixel_loss(name: str | None, logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean per-pixel CE (softmax over classes) or BCE (one sigmoid per class)."""
    if name == "bce":
        onehot = F.one_hot(mask, logits.shape[1]).permute(0, 3, 1, 2).to(logits.dtype)
        return F.binary_cross_entropy_with_logits(logits, onehot, reduction="none").sum(1).mean()
    return F.cross_entropy(logits, mask)


def overlap_sums(pred: torch.Tensor, mask: torch.Tensor, classes: int) -> dict[str, float]:
    """Per class c: `inter_c` = |pred=c and mask=c|, `pred_c`, `true_c` pixel counts."""
    out: dict[str, float] = {}
    for c in range(classes):
        p, t = pred == c, mask == c
        out.update({f"inter_{c}": float((p & t).sum()), f"pred_{c}": float(p.sum()), f"true_{c}": float(t.sum())})
    return out


def overlap_metrics(sums: dict[str, float]) -> dict[str, float]:
    """Mean IoU = mean I/(P+T-I) and mean Dice = mean 2I/(P+T) over classes seen in prediction or truth."""
    classes = [k.removeprefix("inter_") for k in sums if k.startswith("inter_")]
    seen = [c for c in classes if sums[f"pred_{c}"] + sums[f"true_{c}"] > 0]
    ious = [sums[f"inter_{c}"] / (sums[f"pred_{c}"] + sums[f"true_{c}"] - sums[f"inter_{c}"]) for c in seen]
    dices = [2 * sums[f"inter_{c}"] / (sums[f"pred_{c}"] + sums[f"true_{c}"]) for c in seen]
    n = max(len(seen), 1)
    return {"val_mean_iou": sum(ious) / n, "val_dice": sum(dices) / n}


class Segment:
    name = "segment"

    def out_dim(self, info: DataInfo, hp: TrainHparams) -> int:
        return mask_classes(info)

    def optimizers(self, model: nn.Module, hp: TrainHparams) -> dict:
        return single_optimizer(model, hp)

    def loss(self, logits: torch.Tensor, mask: torch.Tensor, hp: TrainHparams) -> torch.Tensor:
        return pixel_loss(hp.loss, logits, mask) + soft_dice_loss(logits, mask)

    def train_step(self, model, batch, opts, stepper, hp) -> dict[str, float]:
        with stepper.autocast():
            loss = self.loss(full_size(model(batch["x"]), batch["mask"]).float(), batch["mask"], hp)
            total = loss + penalty(model, hp)
        stepper.step(total, opts["main"])
        return {"train_loss": float(loss.detach())}

    @torch.no_grad()
    def eval_sums(self, model, batch, hp) -> dict[str, float]:
        logits = full_size(model(batch["x"]), batch["mask"]).float()
        n = len(batch["mask"])
        sums = overlap_sums(logits.argmax(1), batch["mask"], logits.shape[1])
        return {**sums, "loss": n * float(self.loss(logits, batch["mask"], hp)), "count": float(n)}

    def metrics(self, sums: dict[str, float]) -> dict[str, float]:
        return {"val_loss": sums["loss"] / max(sums["count"], 1.0), **overlap_metrics(sums)}

    def artifacts(self, model, info, seed) -> dict[str, bytes]:
        return {}
