"""DETR (Carion et al. 2020), small: a CNN backbone, a transformer encoder-decoder, learned object queries.

The backbone's G x G map becomes G*G tokens (1x1 projection plus learned positions) for the
encoder; the decoder turns Q learned queries into Q predictions, each a class among the data's
classes plus "no object", and a box (normalised centre, width, height). Training matches
predictions to true boxes one-to-one with the Hungarian algorithm
(scipy.optimize.linear_sum_assignment) on cost = class + L1 + GIoU, then applies the set loss:
cross-entropy on every query (unmatched ones learn "no object", down-weighted) and L1 + GIoU on
matched boxes, averaged over the decoder's layers (auxiliary losses, as the paper). No NMS: the
matching teaches queries not to duplicate each other. DETR is known to need long schedules; on
small data it trails the grid detector (see the README).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from scipy.optimize import linear_sum_assignment
from torch import nn

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.detection.backbone import DetectorHparams, backbone, check_image
from trainfleet.dl.detection.boxes import cxcywh_to_xyxy, generalized_box_iou, xyxy_to_cxcywh


class DetrHparams(DetectorHparams):
    channels: list[int] = Field([16, 32, 64], min_length=2, description="backbone widths; every width after the "
                                "first halves the grid (stride 2**(len-1))")
    d_model: int = Field(64, ge=8, description="transformer width (a multiple of heads)")
    heads: int = Field(4, ge=1)
    encoder_layers: int = Field(2, ge=1)
    decoder_layers: int = Field(2, ge=1)
    queries: int = Field(8, ge=1, description="object queries: the most objects one image can get")
    no_object_weight: float = Field(0.1, gt=0, description="class-loss weight of the no-object class")
    cost_class: float = Field(1.0, ge=0, description="matching and loss weight of the class term")
    cost_l1: float = Field(5.0, ge=0, description="matching and loss weight of the L1 box term")
    cost_giou: float = Field(2.0, ge=0, description="matching and loss weight of the GIoU term")


def hungarian_match(cost: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(query indices, target indices) minimising the summed cost of a (queries, targets) matrix."""
    rows, cols = linear_sum_assignment(cost.detach().cpu().numpy())
    return rows, cols


class Detr(nn.Module):
    Hparams = DetrHparams

    @classmethod
    def check_data(cls, hp: DetrHparams, shape: tuple[int, ...]) -> None:
        check_image(shape, 2 ** (len(hp.channels) - 1), "detr")
        if hp.d_model % hp.heads:
            raise ValueError(f"d_model {hp.d_model} must be a multiple of heads {hp.heads}")

    def __init__(self, hp: DetrHparams, info: DataInfo, out_dim: int) -> None:
        super().__init__()
        self.check_data(hp, info.shape)
        self.hp = hp
        self.num_classes = out_dim
        self.size = torch.tensor([info.shape[2], info.shape[1]] * 2, dtype=torch.float32)  # w, h, w, h
        grid = (info.shape[1] // 2 ** (len(hp.channels) - 1)) * (info.shape[2] // 2 ** (len(hp.channels) - 1))
        self.body = backbone(info.shape[0], list(hp.channels))
        self.project = nn.Conv2d(hp.channels[-1], hp.d_model, 1)
        self.positions = nn.Parameter(0.02 * torch.randn(1, grid, hp.d_model))
        self.queries = nn.Parameter(0.02 * torch.randn(1, hp.queries, hp.d_model))
        self.transformer = nn.Transformer(hp.d_model, hp.heads, hp.encoder_layers, hp.decoder_layers,
                                          dim_feedforward=2 * hp.d_model, dropout=0.0, batch_first=True)
        self.classify = nn.Linear(hp.d_model, out_dim + 1)  # last index: no object
        self.box = nn.Sequential(nn.Linear(hp.d_model, hp.d_model), nn.ReLU(), nn.Linear(hp.d_model, 4))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """{"logits": (L, B, Q, classes + 1), "boxes": (L, B, Q, 4) normalised cxcywh}, one per decoder layer."""
        tokens = self.project(self.body(x)).flatten(2).transpose(1, 2) + self.positions
        memory = self.transformer.encoder(tokens)
        h = self.queries.expand(len(x), -1, -1)
        layers = []
        for layer in self.transformer.decoder.layers:
            h = layer(h, memory)
            layers.append(self.transformer.decoder.norm(h))
        states = torch.stack(layers)
        return {"logits": self.classify(states), "boxes": torch.sigmoid(self.box(states))}

    def match_cost(self, logits: torch.Tensor, boxes: torch.Tensor, true_boxes: torch.Tensor,
                   true_labels: torch.Tensor) -> torch.Tensor:
        """(B, queries, targets) cost of matching each query to each true (normalised cxcywh) box."""
        prob = logits.softmax(-1).gather(-1, true_labels[:, None, :].expand(-1, logits.shape[1], -1))
        l1 = torch.cdist(boxes, true_boxes, p=1)
        giou = generalized_box_iou(cxcywh_to_xyxy(boxes), cxcywh_to_xyxy(true_boxes))
        return -self.hp.cost_class * prob + self.hp.cost_l1 * l1 - self.hp.cost_giou * giou

    def _layer_loss(self, logits: torch.Tensor, boxes: torch.Tensor, true_boxes: torch.Tensor,
                    labels: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.no_grad():
            pairs = [hungarian_match(c) for c in self.match_cost(logits, boxes, true_boxes, labels)]
        image = torch.cat([torch.full((len(q),), i) for i, (q, _) in enumerate(pairs)]).to(logits.device)
        query = torch.from_numpy(np.concatenate([q for q, _ in pairs])).to(logits.device)
        wanted = torch.from_numpy(np.concatenate([t for _, t in pairs])).to(logits.device)
        target = torch.full(logits.shape[:2], self.num_classes, dtype=torch.long, device=logits.device)
        target[image, query] = labels[image, wanted]
        weight = torch.ones(self.num_classes + 1, device=logits.device)
        weight[-1] = self.hp.no_object_weight
        cls = F.cross_entropy(logits.flatten(0, 1), target.flatten(), weight=weight)
        matched, true = boxes[image, query], true_boxes[image, wanted]
        l1 = F.l1_loss(matched, true, reduction="none").sum(-1).mean()
        giou = (1 - torch.diagonal(generalized_box_iou(cxcywh_to_xyxy(matched), cxcywh_to_xyxy(true)))).mean()
        return {"cls": cls, "l1": l1, "giou": giou}

    def loss(self, out: dict[str, torch.Tensor], boxes: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        true = xyxy_to_cxcywh(boxes / self.size.to(boxes.device))
        per_layer = [self._layer_loss(lg.float(), bx.float(), true, labels) for lg, bx in zip(out["logits"], out["boxes"])]
        terms = {k: torch.stack([t[k] for t in per_layer]).mean() for k in per_layer[0]}
        hp = self.hp
        total = hp.cost_class * terms["cls"] + hp.cost_l1 * terms["l1"] + hp.cost_giou * terms["giou"]
        return {"loss": total, **terms}

    @torch.no_grad()
    def detect(self, out: dict[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        """Every query of the last layer as a detection of its best real class (no NMS)."""
        scores, labels = out["logits"][-1].float().softmax(-1)[..., :-1].max(-1)
        boxes = cxcywh_to_xyxy(out["boxes"][-1].float()) * self.size.to(scores.device)
        found = []
        for s, lb, bx in zip(scores, labels, boxes):
            keep = s.argsort(descending=True)[: self.hp.max_detections]
            keep = keep[s[keep] > self.hp.score_threshold]
            found.append({"boxes": bx[keep], "scores": s[keep], "labels": lb[keep]})
        return found
