"""mAP@0.5 and mAP@0.5:0.95 of detections, computed by faster-coco-eval's COCOeval (the COCO protocol).

Average precision is not a sum over batches: it ranks every detection of the split by score.
So `ImageRecords` keeps each validation image's ground truth and detections, and `coco_map`
hands them all to COCOeval once per epoch (with several DDP workers, after gathering every
worker's records). torchmetrics' MeanAveragePrecision wraps the same COCOeval, but refuses to
run without torchvision, which has no wheel that loads beside torch 2.13.0+cpu here.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class ImageRecords:
    """Per image: true boxes (K, 4) xyxy and labels; detected boxes, scores and labels."""

    images: list[dict[str, np.ndarray]] = field(default_factory=list)

    def add(self, true_boxes: torch.Tensor, true_labels: torch.Tensor, detections: list[dict[str, torch.Tensor]]) -> None:
        for tb, tl, d in zip(true_boxes, true_labels, detections):
            self.images.append({"true_boxes": tb.cpu().numpy(), "true_labels": tl.cpu().numpy(),
                                "boxes": d["boxes"].cpu().numpy(), "scores": d["scores"].cpu().numpy(),
                                "labels": d["labels"].cpu().numpy()})

    def gathered(self) -> list[dict[str, np.ndarray]]:
        """Every worker's records (this worker's alone when not distributed)."""
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            return self.images
        parts: list[list[dict[str, np.ndarray]] | None] = [None] * dist.get_world_size()
        dist.all_gather_object(parts, self.images)
        return [image for part in parts for image in part or []]


def _xywh(b: np.ndarray) -> list[float]:
    return [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]


def coco_map(images: list[dict[str, np.ndarray]], num_classes: int) -> dict[str, float]:
    """{"map_50", "map"} over the images (0 when nothing is detected); classes are 0..num_classes-1."""
    from faster_coco_eval import COCO, COCOeval_faster

    gt: dict = {"images": [], "annotations": [], "categories": [{"id": c + 1} for c in range(num_classes)]}
    dets = []
    for i, im in enumerate(images, start=1):
        gt["images"].append({"id": i})
        for b, c in zip(im["true_boxes"], im["true_labels"]):
            gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": i, "category_id": int(c) + 1,
                                      "bbox": _xywh(b), "area": float((b[2] - b[0]) * (b[3] - b[1])), "iscrowd": 0})
        dets += [{"image_id": i, "category_id": int(c) + 1, "bbox": _xywh(b), "score": float(s)}
                 for b, s, c in zip(im["boxes"], im["scores"], im["labels"])]
    if not dets or not gt["annotations"]:
        return {"map_50": 0.0, "map": 0.0}
    with contextlib.redirect_stdout(io.StringIO()):  # COCO prints its progress
        truth = COCO(gt)
        ev = COCOeval_faster(truth, truth.loadRes(dets), "bbox", print_function=lambda *_: None)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {"map_50": max(float(ev.stats[1]), 0.0), "map": max(float(ev.stats[0]), 0.0)}  # -1 = no data
