"""Channel and spatial attention for CNN feature maps (notes L7059-7264): SE and CBAM blocks.

- Squeeze-and-Excitation (Hu et al. 2018): global average pool -> bottleneck MLP -> sigmoid,
  one weight in (0, 1) per channel, multiplied back onto the map.
- CBAM (Woo et al. 2018): channel attention from both average- and max-pooled descriptors
  through a shared MLP (mask (C, 1, 1)), then spatial attention from the channel-wise mean and
  max through a 7x7 conv (mask (1, H, W)), applied one after the other.

Any CNN job switches one on after every conv block with `hparams.attention: se | cbam | none`.
Each block keeps its last mask (`last_mask`) so tests and reports can look at it.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

ConvAttention = Literal["none", "se", "cbam"]


def _bottleneck(channels: int, reduction: int) -> nn.Sequential:
    hidden = max(1, channels // reduction)
    return nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, channels, 1))


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        self.mlp = _bottleneck(channels, reduction)
        self.last_mask: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = torch.sigmoid(self.mlp(x.mean(dim=(2, 3), keepdim=True)))  # (B, C, 1, 1)
        self.last_mask = mask.detach()
        return x * mask


class ChannelGate(nn.Module):
    """CBAM's channel half: sigmoid(MLP(avgpool) + MLP(maxpool)), shared MLP."""

    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        self.mlp = _bottleneck(channels, reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.mlp(x.mean(dim=(2, 3), keepdim=True)) + self.mlp(x.amax(dim=(2, 3), keepdim=True)))


class SpatialGate(nn.Module):
    """CBAM's spatial half: sigmoid(conv7x7([mean_c(x); max_c(x)]))."""

    def __init__(self, kernel: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.conv(torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], dim=1)))


class CBAM(nn.Module):
    def __init__(self, channels: int, reduction: int = 8) -> None:
        super().__init__()
        self.channel = ChannelGate(channels, reduction)
        self.spatial = SpatialGate()
        self.last_mask: tuple[torch.Tensor, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channel_mask = self.channel(x)  # (B, C, 1, 1)
        x = x * channel_mask
        spatial_mask = self.spatial(x)  # (B, 1, H, W)
        self.last_mask = (channel_mask.detach(), spatial_mask.detach())
        return x * spatial_mask


def conv_attention(kind: ConvAttention, channels: int) -> list[nn.Module]:
    """The block to append after a conv block ([] for none)."""
    if kind == "se":
        return [SqueezeExcite(channels)]
    if kind == "cbam":
        return [CBAM(channels)]
    return []
