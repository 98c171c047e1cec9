"""The small convolutional backbone both detectors share, and their common hyperparameters."""

from __future__ import annotations

from pydantic import Field
from torch import nn

from trainfleet.dl.hparams import TrainHparams
from trainfleet.fields import Width


class DetectorHparams(TrainHparams):
    channels: list[Width] = Field([16, 32, 64, 64], min_length=2, description="backbone widths; every width after "
                                  "the first halves the grid (stride 2**(len-1))")
    score_threshold: float = Field(0.01, ge=0, lt=1, description="detections scored below this are dropped")
    max_detections: int = Field(20, ge=1, description="at most this many detections per image, best first")


def conv_bn(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


def backbone(c_in: int, widths: list[int]) -> nn.Sequential:
    """conv at full size, then per further width a strided conv (grid / 2) and a conv."""
    layers = [conv_bn(c_in, widths[0])]
    for a, b in zip(widths, widths[1:]):
        layers += [conv_bn(a, b, stride=2), conv_bn(b, b)]
    return nn.Sequential(*layers)


def check_image(shape: tuple[int, ...], stride: int, model: str) -> None:
    """ValueError unless samples are (C, H, W) images with sides divisible by the backbone's stride."""
    if len(shape) != 3:
        raise ValueError(f"{model} detects objects in images (C, H, W); got samples of shape {list(shape)}")
    if shape[1] % stride or shape[2] % stride:
        raise ValueError(f"the backbone's stride {stride} must divide the image sides; got {shape[1]}x{shape[2]}")
