"""Autoencoders (notes U3.2, U3.11 #6): dense, denoising and convolutional.

The notes describe them (compression, reconstruction, denoising) without an architecture;
ours: encoder -> bottleneck code -> decoder with a sigmoid output (pixels live in [0, 1]).
The denoising variant differs only in training (the task corrupts the input with Gaussian
noise of `noise_std`, the target stays clean), so it is the dense model with noise on.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.hparams import Activation, TrainHparams
from trainfleet.dl.models.cnn import image_shape
from trainfleet.dl.models.layers import activation, dense_stack
from trainfleet.fields import Width


class AutoencoderHparams(TrainHparams):
    hidden: list[Width] = Field([128], description="encoder widths before the bottleneck (mirrored by the decoder)")
    bottleneck: int = Field(16, ge=1, description="size of the code; compare with PCA at the same size")
    activation: Activation = Field("relu", description="hidden activation")
    noise_std: float = Field(0.0, ge=0, description="denoising: std of the Gaussian corruption of inputs (0 = off)")


class DenoisingHparams(AutoencoderHparams):
    noise_std: float = Field(0.3, gt=0, description="std of the Gaussian corruption of inputs")


class Autoencoder(nn.Module):
    Hparams = AutoencoderHparams

    def __init__(self, hp: AutoencoderHparams, info: DataInfo, out_dim: int) -> None:
        super().__init__()
        n = info.num_features
        self.encoder = nn.Sequential(*dense_stack([n, *hp.hidden], hp.activation), nn.Linear(([n, *hp.hidden])[-1], hp.bottleneck))
        widths = [hp.bottleneck, *reversed(hp.hidden)]
        self.decoder = nn.Sequential(*dense_stack(widths, hp.activation), nn.Linear(widths[-1], n), nn.Sigmoid())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encode(x)).reshape(x.shape)


class DenoisingAutoencoder(Autoencoder):
    Hparams = DenoisingHparams


class ConvAutoencoderHparams(AutoencoderHparams):
    channels: list[Width] = Field([16, 32], min_length=1, description="filters of the stride-2 conv layers")


class ConvAutoencoder(nn.Module):
    """Stride-2 convolutions down to a dense code, transposed convolutions back up."""

    Hparams = ConvAutoencoderHparams

    def __init__(self, hp: ConvAutoencoderHparams, info: DataInfo, out_dim: int) -> None:
        super().__init__()
        c, h, w = image_shape(info)
        self._shape = (c, h, w)
        chans = [c, *hp.channels]
        down: list[nn.Module] = []
        for a, b in zip(chans, chans[1:]):
            down += [nn.Conv2d(a, b, 3, stride=2, padding=1), activation(hp.activation)]
        conv = nn.Sequential(*down)
        with torch.no_grad():
            self._grid = conv(torch.zeros(1, c, h, w)).shape[1:]
        flat = int(torch.tensor(self._grid).prod())
        self.encoder = nn.Sequential(*down, nn.Flatten(), nn.Linear(flat, hp.bottleneck))
        up: list[nn.Module] = []
        rev = list(reversed(chans))
        for i, (a, b) in enumerate(zip(rev, rev[1:])):
            up.append(nn.ConvTranspose2d(a, b, 3, stride=2, padding=1, output_padding=1))
            up.append(activation(hp.activation) if i < len(rev) - 2 else nn.Identity())
        self.expand = nn.Sequential(nn.Linear(hp.bottleneck, flat), activation(hp.activation))
        self.deconv = nn.Sequential(*up)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.reshape(len(x), *self._shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        grid = self.expand(self.encode(x)).reshape(len(x), *self._grid)
        out = self.deconv(grid)[:, :, : self._shape[1], : self._shape[2]]
        return torch.sigmoid(out).reshape(x.shape)
