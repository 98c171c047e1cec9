"""U-Net (Ronneberger et al. 2015; notes L6629-6685) and Attention U-Net (Oktay et al. 2018).

- `variant: full` (default) is the U-Net as published, at full resolution: per level two 3x3
  conv-BN-ReLU layers, 2x2 max-pool down, 2x2 transposed conv up, and every encoder level's
  output concatenated into the decoder (all skips), so the output has the input's size.
- `variant: notes` is the notes' Keras model layer for layer: conv 64, pool, conv 128, pool,
  upsample, concat with the 128-filter map, conv 64, 1x1 out. Its decoder climbs one level of
  two, so a 128x128 input gives a 64x64 output and the first (full-resolution) skip is never
  used. Kept for reproduction; the segment task upsamples its logits to score it.
- `attention_unet` gates every skip before the concat: alpha = sigmoid(psi(ReLU(W_x x + W_g g)))
  from the skip x (strided to the coarser grid) and the decoder's coarser map g, upsampled to
  the skip's size and multiplied onto it, so the decoder takes only the regions g points at.
  Each gate keeps its last coefficients (`last_mask`, (B, 1, H, W) in [0, 1]) for tests and reports.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.hparams import TrainHparams
from trainfleet.dl.models.cnn import image_shape
from trainfleet.fields import Width

NOTES_WIDTHS = (64, 128)


class UNetHparams(TrainHparams):
    channels: list[Width] = Field([16, 32, 64], min_length=2, description="widths per level, top to bottleneck "
                                  "(full variant; the notes variant has its own 64, 128)")
    variant: Literal["full", "notes"] = Field("full", description="full: all skips, output = input size; notes: the "
                                              "notes' Keras model (half-size output, first skip dropped)")


def double_conv(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(),
                         nn.Conv2d(c_out, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class AttentionGate(nn.Module):
    """Additive attention gate of Oktay et al. 2018 on one skip connection."""

    def __init__(self, skip: int, gate: int, inner: int) -> None:
        super().__init__()
        self.theta = nn.Conv2d(skip, inner, 2, stride=2, bias=False)  # skip -> the gate's (coarser) grid
        self.phi = nn.Conv2d(gate, inner, 1)
        self.psi = nn.Conv2d(inner, 1, 1)
        self.last_mask: torch.Tensor | None = None

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        alpha = torch.sigmoid(self.psi(F.relu(self.theta(x) + self.phi(g))))
        alpha = F.interpolate(alpha, size=x.shape[-2:], mode="bilinear", align_corners=False)
        self.last_mask = alpha.detach()
        return x * alpha


class NotesUNet(nn.Module):
    """The notes' model: one skip (at half resolution), output at half the input size."""

    def __init__(self, c_in: int, out_dim: int) -> None:
        super().__init__()
        a, b = NOTES_WIDTHS
        self.c1 = nn.Sequential(nn.Conv2d(c_in, a, 3, padding=1), nn.ReLU())
        self.c2 = nn.Sequential(nn.Conv2d(a, b, 3, padding=1), nn.ReLU())
        self.c3 = nn.Sequential(nn.Conv2d(2 * b, a, 3, padding=1), nn.ReLU())
        self.out = nn.Conv2d(a, out_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c2 = self.c2(F.max_pool2d(self.c1(x), 2))
        u1 = F.interpolate(F.max_pool2d(c2, 2), scale_factor=2, mode="nearest")  # Keras UpSampling2D
        return self.out(self.c3(torch.cat([u1, c2], 1)))


class UNet(nn.Module):
    Hparams = UNetHparams
    gated = False

    @classmethod
    def check_data(cls, hp: UNetHparams, shape: tuple[int, ...]) -> None:
        if len(shape) not in (2, 3):
            raise ValueError(f"a U-Net segments images (C, H, W); got samples of shape {list(shape)}")
        h, w = shape[-2:]
        if cls.gated and hp.variant == "notes":
            raise ValueError("the notes' model has no gates: attention_unet takes variant: full")
        levels = 2 if hp.variant == "notes" else len(hp.channels) - 1
        if h % 2**levels or w % 2**levels:
            raise ValueError(f"{levels} poolings need image sides divisible by {2**levels}; got {h}x{w}")

    def __init__(self, hp: UNetHparams, info: DataInfo, out_dim: int) -> None:
        super().__init__()
        self.check_data(hp, info.shape)
        c_in = image_shape(info)[0]
        self.notes = NotesUNet(c_in, out_dim) if hp.variant == "notes" else None
        if self.notes is not None:
            return
        widths = list(hp.channels)
        self.down = nn.ModuleList(double_conv(a, b) for a, b in zip([c_in, *widths[:-2]], widths[:-1]))
        self.bottleneck = double_conv(widths[-2], widths[-1])
        coarse = widths[:0:-1]  # decoder inputs, bottom up
        fine = widths[-2::-1]  # skips (and decoder outputs), bottom up
        self.up = nn.ModuleList(nn.ConvTranspose2d(c, f, 2, stride=2) for c, f in zip(coarse, fine))
        self.merge = nn.ModuleList(double_conv(2 * f, f) for f in fine)
        self.gates = nn.ModuleList(AttentionGate(f, c, max(1, f // 2)) for c, f in zip(coarse, fine)) if self.gated else None
        self.out = nn.Conv2d(widths[0], out_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.notes is not None:
            return self.notes(x)
        skips = []
        for block in self.down:
            x = block(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.bottleneck(x)
        for i, (up, merge, skip) in enumerate(zip(self.up, self.merge, reversed(skips))):
            if self.gates is not None:
                skip = self.gates[i](skip, x)
            x = merge(torch.cat([up(x), skip], 1))
        return self.out(x)


class AttentionUNet(UNet):
    """The full U-Net with an attention gate on every skip."""

    gated = True
