"""Generative adversarial networks (notes U4, L6818-6921): the notes' MLP GAN and a DCGAN.

MLP GAN, as the notes' Keras code: generator z(100) -> 256 -> 512 -> 1024 -> image (tanh),
LeakyReLU(0.2) between layers; discriminator image -> 512 -> 256 -> 1. On 28x28x1 images
that is 1,486,352 and 533,505 parameters. Deviation: the notes' first generator layer applies
ReLU and then LeakyReLU (L6885-6886); we keep the LeakyReLU only. The discriminator returns a
logit; the sigmoid lives in the loss. DCGAN (Radford et al. 2016): transposed convolutions
with BatchNorm in G, strided convolutions with LeakyReLU in D. The alternating training is
in `dl/tasks/generate.py`.
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.hparams import TrainHparams
from trainfleet.dl.models.cnn import image_shape


class GANHparams(TrainHparams):
    lr: float = Field(2.0e-4, gt=0, description="both players' learning rate (DCGAN paper: 2e-4)")
    latent_dim: int = Field(100, ge=1, description="noise vector size (100 in the notes)")
    real_label: float = Field(0.9, gt=0.5, le=1.0, description="one-sided label smoothing target for real images")


def _leaky() -> nn.Module:
    return nn.LeakyReLU(0.2)


class GAN(nn.Module):
    Hparams = GANHparams

    def __init__(self, hp: GANHparams, info: DataInfo, out_dim: int) -> None:
        super().__init__()
        n = info.num_features
        self.latent_dim = hp.latent_dim
        self.shape = info.shape
        self.generator = nn.Sequential(
            nn.Linear(hp.latent_dim, 256), _leaky(), nn.Linear(256, 512), _leaky(),
            nn.Linear(512, 1024), _leaky(), nn.Linear(1024, n), nn.Tanh(), nn.Unflatten(1, tuple(info.shape)),
        )
        self.discriminator = nn.Sequential(
            nn.Flatten(), nn.Linear(n, 512), _leaky(), nn.Linear(512, 256), _leaky(), nn.Linear(256, 1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)


class DCGANHparams(GANHparams):
    features: int = Field(64, ge=8, description="width of the first D conv / last G conv (doubles inward)")


class DCGAN(nn.Module):
    """For images whose height and width divide by 4 (8x8 digits, 28x28, 64x64 ...)."""

    Hparams = DCGANHparams

    def __init__(self, hp: DCGANHparams, info: DataInfo, out_dim: int) -> None:
        super().__init__()
        c, h, w = image_shape(info)
        if h % 4 or w % 4:
            raise ValueError(f"DCGAN needs height and width divisible by 4; got {h}x{w}")
        f = hp.features
        self.latent_dim = hp.latent_dim
        self.shape = info.shape
        self.generator = nn.Sequential(
            nn.Linear(hp.latent_dim, 2 * f * (h // 4) * (w // 4)), nn.Unflatten(1, (2 * f, h // 4, w // 4)),
            nn.BatchNorm2d(2 * f), nn.ReLU(),
            nn.ConvTranspose2d(2 * f, f, 4, stride=2, padding=1), nn.BatchNorm2d(f), nn.ReLU(),
            nn.ConvTranspose2d(f, c, 4, stride=2, padding=1), nn.Tanh(), nn.Flatten(1), nn.Unflatten(1, tuple(info.shape)),
        )
        self.discriminator = nn.Sequential(
            nn.Flatten(1), nn.Unflatten(1, (c, h, w)),
            nn.Conv2d(c, f, 4, stride=2, padding=1), _leaky(),
            nn.Conv2d(f, 2 * f, 4, stride=2, padding=1), nn.BatchNorm2d(2 * f), _leaky(),
            nn.Flatten(), nn.Linear(2 * f * (h // 4) * (w // 4), 1),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)
