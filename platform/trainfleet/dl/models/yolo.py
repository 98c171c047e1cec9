"""A single-stage grid detector in the spirit of YOLO (Redmon et al. 2016), anchor-free, from scratch.

The backbone turns the image into a G x G grid (stride s). Each cell predicts one box:
objectness, the box centre as an offset inside the cell (sigmoid), its width and height as
exp(.) * s, and class scores. The cell holding a true box's centre is responsible for it:
binary cross-entropy on objectness over all cells; on responsible cells L1 on the normalised box
plus 1 - GIoU, and class cross-entropy. At inference each cell offers every class with
score = sigmoid(objectness) * p(class); per-class non-maximum suppression removes duplicates.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.detection.backbone import DetectorHparams, backbone, check_image
from trainfleet.dl.detection.boxes import batched_nms, generalized_box_iou

MAX_LOG_SIZE = 4.0  # exp(4) * stride: no box grows past ~55 cells, so early steps cannot overflow


class YoloHparams(DetectorHparams):
    nms_iou: float = Field(0.5, gt=0, le=1, description="NMS drops a box overlapping a better one of its class by more")
    box_weight: float = Field(5.0, ge=0, description="weight of the L1 box term (GIoU gets 2/5 of it)")
    noobj_weight: float = Field(1.0, ge=0, description="weight of objectness on cells holding no object")


class Yolo(nn.Module):
    Hparams = YoloHparams

    @classmethod
    def check_data(cls, hp: YoloHparams, shape: tuple[int, ...]) -> None:
        check_image(shape, 2 ** (len(hp.channels) - 1), "yolo")

    def __init__(self, hp: YoloHparams, info: DataInfo, out_dim: int) -> None:
        super().__init__()
        self.check_data(hp, info.shape)
        self.hp = hp
        self.num_classes = out_dim
        self.stride = 2 ** (len(hp.channels) - 1)
        self.size = info.shape[-1]
        self.body = backbone(info.shape[0], list(hp.channels))
        self.head = nn.Conv2d(hp.channels[-1], 5 + out_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 5 + classes, G, G): objectness, x, y, log w, log h, class logits per cell."""
        return self.head(self.body(x))

    def boxes(self, out: torch.Tensor) -> torch.Tensor:
        """Each cell's box in pixels, (B, G, G, 4) xyxy."""
        g = out.shape[-1]
        ys, xs = torch.meshgrid(torch.arange(g, device=out.device), torch.arange(g, device=out.device), indexing="ij")
        cx = (xs + torch.sigmoid(out[:, 1])) * self.stride
        cy = (ys + torch.sigmoid(out[:, 2])) * self.stride
        w = torch.exp(out[:, 3].clamp(max=MAX_LOG_SIZE)) * self.stride
        h = torch.exp(out[:, 4].clamp(max=MAX_LOG_SIZE)) * self.stride
        return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)

    def targets(self, boxes: torch.Tensor, labels: torch.Tensor, g: int) -> tuple[torch.Tensor, ...]:
        """(image, row, col) of the cell holding each true box's centre, and the box and label it answers for."""
        centre = (boxes[..., :2] + boxes[..., 2:]) / 2
        cell = (centre / self.stride).floor().long().clamp(0, g - 1)
        image = torch.arange(len(boxes), device=boxes.device)[:, None].expand(labels.shape)
        return image.flatten(), cell[..., 1].flatten(), cell[..., 0].flatten(), boxes.flatten(0, 1), labels.flatten()

    def loss(self, out: torch.Tensor, boxes: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        out = out.float()
        b, r, c, true_box, true_label = self.targets(boxes, labels, out.shape[-1])
        obj_target = torch.zeros_like(out[:, 0])
        obj_target[b, r, c] = 1.0
        weight = torch.where(obj_target > 0, 1.0, self.hp.noobj_weight)
        obj = F.binary_cross_entropy_with_logits(out[:, 0], obj_target, weight=weight)
        pred_box = self.boxes(out)[b, r, c]
        l1 = F.l1_loss(pred_box / self.size, true_box / self.size)
        giou = (1 - torch.diagonal(generalized_box_iou(pred_box, true_box))).mean()
        cls = F.cross_entropy(out[b, 5:, r, c], true_label)
        total = obj + self.hp.box_weight * (l1 + 0.4 * giou) + cls
        return {"loss": total, "obj": obj, "l1": l1, "giou": giou, "cls": cls}

    @torch.no_grad()
    def detect(self, out: torch.Tensor) -> list[dict[str, torch.Tensor]]:
        out = out.float()
        k = self.num_classes
        scores = (torch.sigmoid(out[:, :1]) * torch.softmax(out[:, 5:], 1)).flatten(2).transpose(1, 2)  # (B, cells, k)
        boxes = self.boxes(out).flatten(1, 2)  # (B, cells, 4)
        found = []
        for s, bx in zip(scores, boxes):
            s, labels = s.flatten(), torch.arange(k, device=s.device).repeat(len(bx))
            bx = bx.repeat_interleave(k, 0)
            keep = s > self.hp.score_threshold
            s, bx, labels = s[keep], bx[keep], labels[keep]
            kept = batched_nms(bx, s, labels, self.hp.nms_iou)[: self.hp.max_detections]
            found.append({"boxes": bx[kept], "scores": s[kept], "labels": labels[kept]})
        return found
