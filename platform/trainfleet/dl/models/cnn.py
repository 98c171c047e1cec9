"""Convolutional network (notes U3.12-U3.13): conv -> [BatchNorm] -> activation -> [SE/CBAM] -> pool -> [Dropout]
blocks, flatten, dense.

The defaults are the notes' Keras "Simple CNN Architecture" (L5211-5239): Conv2D(32, 3x3,
'valid') -> MaxPooling2D(2x2) -> Flatten -> Dense(128, relu) -> Dense(10). On a 64x64x3 input
it has 896 + 3,936,384 + 1,290 = 3,938,570 parameters, as Keras' `model.summary()` would say.
`body` (everything up to the last hidden layer) and `head` are separate so a transfer-learning
job can reuse the body.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.hparams import Activation, TrainHparams
from trainfleet.dl.models.conv_attention import ConvAttention, conv_attention
from trainfleet.dl.models.layers import activation, dense_stack
from trainfleet.fields import Width


class CNNHparams(TrainHparams):
    channels: list[Width] = Field([32], min_length=1, description="filters of each conv block (32, 64, ... typical)")
    kernel_size: int = Field(3, ge=1, description="square kernel, 3 or 5 (notes L5062-5082)")
    stride: int = Field(1, ge=1, description="conv stride; larger shrinks the feature map")
    padding: Literal["same", "valid"] = Field("valid", description="same = zero padding keeping H x W at stride 1")
    pool: int = Field(2, ge=0, description="pool size after each block (0 = no pooling)")
    pool_type: Literal["max", "avg"] = Field("max", description="max or average pooling (notes' pooling section)")
    batchnorm: bool = Field(False, description="BatchNorm between conv and activation (notes L4960)")
    activation: Activation = Field("relu", description="activation of the conv blocks and dense layers (notes U3.7)")
    conv_dropout: float = Field(0.0, ge=0, lt=1, description="dropout after each conv block (Keras Dropout after pooling)")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout after each hidden dense layer (0.5 in the notes)")
    dense: list[Width] = Field([128], description="hidden dense widths after flatten")
    attention: ConvAttention = Field("none", description="se or cbam block after each conv block's activation (channel/spatial attention)")


def conv_block(c_in: int, c_out: int, hp: CNNHparams) -> nn.Sequential:
    pad = hp.kernel_size // 2 if hp.padding == "same" else 0
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, hp.kernel_size, stride=hp.stride, padding=pad)]
    if hp.batchnorm:
        layers.append(nn.BatchNorm2d(c_out))
    layers.append(activation(hp.activation))
    layers.extend(conv_attention(hp.attention, c_out))
    if hp.pool:
        layers.append(nn.MaxPool2d(hp.pool) if hp.pool_type == "max" else nn.AvgPool2d(hp.pool))
    if hp.conv_dropout:
        layers.append(nn.Dropout(hp.conv_dropout))
    return nn.Sequential(*layers)


def conv_stack(c_in: int, hp: CNNHparams) -> nn.Sequential:
    """One conv block per entry of hp.channels: the feature extractor of CNNs and image encoders."""
    chans = [c_in, *hp.channels]
    return nn.Sequential(*(conv_block(a, b, hp) for a, b in zip(chans, chans[1:])))


class CNN(nn.Module):
    Hparams = CNNHparams

    def __init__(self, hp: CNNHparams, info: DataInfo, out_dim: int) -> None:
        super().__init__()
        c, h, w = image_shape(info)
        convs = nn.Sequential(*conv_stack(c, hp), nn.Flatten())
        with torch.no_grad():
            flat = convs(torch.zeros(1, c, h, w)).shape[1]
        sizes = [flat, *hp.dense]
        self.body = nn.Sequential(*convs, *dense_stack(sizes, hp.activation, dropout=hp.dropout))
        self.head = nn.Linear(sizes[-1], out_dim)
        self._shape = (c, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x.reshape(len(x), *self._shape)))


def image_shape(info: DataInfo) -> tuple[int, int, int]:
    """(C, H, W) of an image dataset; a 2-D sample is one channel."""
    if len(info.shape) == 3:
        return info.shape  # type: ignore[return-value]
    if len(info.shape) == 2:
        return (1, *info.shape)  # type: ignore[return-value]
    raise ValueError(f"a convolutional model needs image samples (C, H, W); got shape {list(info.shape)}")
