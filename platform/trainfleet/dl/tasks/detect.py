"""Object detection: boxes and classes per image -> the detector's own loss; mAP@0.5 and mAP@0.5:0.95.

The data gives each image its `boxes` (K, 4) as (x0, y0, x1, y1) pixels and `box_labels` (K,)
(the shape scenes: two objects each). A detector module has `loss(out, boxes, labels)` (a dict
of terms with `loss` their weighted total) and `detect(out)` (per image: boxes, scores, labels
after its post-processing), so YOLO's grid targets and DETR's matched set loss stay with their
models. Validation keeps every image's detections for one COCO evaluation per epoch
(`coco_map`: ranking is over the whole split, not a per-batch sum), which is why this task,
unlike the others, holds state between `eval_sums` and `metrics`.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import nn

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.detection.coco_map import ImageRecords, coco_map
from trainfleet.dl.hparams import TrainHparams
from trainfleet.dl.tasks.base import penalty, single_optimizer


class Detector(Protocol):
    def __call__(self, x: torch.Tensor) -> Any: ...

    def loss(self, out: Any, boxes: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]: ...

    def detect(self, out: Any) -> list[dict[str, torch.Tensor]]: ...


def unwrap(model: nn.Module) -> Any:
    """The detector itself under a DDP wrapper (its loss and decoding are not part of forward)."""
    return getattr(model, "module", model)


class Detect:
    name = "detect"

    def __init__(self) -> None:
        self.records = ImageRecords()
        self.num_classes = 1

    def out_dim(self, info: DataInfo, hp: TrainHparams) -> int:
        self.num_classes = int(info.num_classes or 1)
        return self.num_classes

    def optimizers(self, model: nn.Module, hp: TrainHparams) -> dict:
        return single_optimizer(model, hp)

    def train_step(self, model, batch, opts, stepper, hp) -> dict[str, float]:
        with stepper.autocast():
            terms = unwrap(model).loss(model(batch["x"]), batch["boxes"], batch["box_labels"])
            total = terms["loss"] + penalty(model, hp)
        stepper.step(total, opts["main"])
        return {"train_loss": float(terms["loss"].detach()),
                **{f"train_{k}": float(v.detach()) for k, v in terms.items() if k != "loss"}}

    @torch.no_grad()
    def eval_sums(self, model, batch, hp) -> dict[str, float]:
        detector = unwrap(model)
        out = model(batch["x"])
        n = len(batch["x"])
        loss = detector.loss(out, batch["boxes"], batch["box_labels"])["loss"]
        self.records.add(batch["boxes"], batch["box_labels"], detector.detect(out))
        return {"loss": n * float(loss), "count": float(n)}

    def metrics(self, sums: dict[str, float]) -> dict[str, float]:
        scores = coco_map(self.records.gathered(), self.num_classes)
        self.records = ImageRecords()
        return {"val_loss": sums["loss"] / max(sums["count"], 1.0), "val_map_50": scores["map_50"], "val_map": scores["map"]}

    def artifacts(self, model, info, seed) -> dict[str, bytes]:
        return {}
