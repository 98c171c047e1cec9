"""Multilayer perceptron and deep feed-forward networks (notes U3.5, U3.8, U3.10, U3.14).

`hidden: [128, 64]` on 64 inputs is the notes' Keras FC example (L5325-5396): 16,641
parameters with one output, 17,226 with ten. More entries make a deep network; each hidden
layer is Linear -> [BatchNorm] -> activation -> [Dropout]. The output layer is linear:
the task applies softmax/sigmoid inside its loss (numerically stable logits).
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import nn

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.hparams import Activation, TrainHparams
from trainfleet.dl.models.layers import dense_stack
from trainfleet.fields import Width


class MLPHparams(TrainHparams):
    hidden: list[Width] = Field([128, 64], min_length=1, description="widths of the hidden layers (depth = length)")
    activation: Activation = Field("relu", description="hidden-layer activation (notes U3.7)")
    dropout: float = Field(0.0, ge=0, lt=1, description="drop probability after each hidden layer (0.5 typical)")
    batchnorm: bool = Field(False, description="BatchNorm after each hidden Linear")


class MLP(nn.Module):
    Hparams = MLPHparams

    def __init__(self, hp: MLPHparams, info: DataInfo, out_dim: int) -> None:
        super().__init__()
        self.body = dense_stack([info.num_features, *hp.hidden], hp.activation, dropout=hp.dropout, batchnorm=hp.batchnorm)
        self.head = nn.Linear(hp.hidden[-1], out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x.flatten(1)))
