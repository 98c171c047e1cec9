"""Recurrent sequence classifiers (notes U3.15-U3.17): simple RNN, stacked RNN, LSTM, GRU.

h_t = tanh(W_ih x_t + W_hh h_{t-1} + b) for the simple RNN (or ReLU: Keras' `SimpleRNN(activation=...)`); a stacked RNN feeds layer l-1's
hidden states to layer l (the corrected form of the notes' L5606 formula); LSTM and GRU add
gates. Many-to-one: the last hidden state goes through a dense output layer, as the notes'
Keras `SimpleRNN(50) -> Dense(...)`. A sample of shape (T, F) is T steps of F features; an
image (C, H, W) is read row by row.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch
from pydantic import Field
from torch import nn

from trainfleet.dl.data.source import DataInfo
from trainfleet.dl.hparams import TrainHparams


class RecurrentHparams(TrainHparams):
    hidden: int = Field(50, ge=1, description="units per recurrent layer (50 in every Keras example of the notes)")
    layers: int = Field(1, ge=1, description="stacked recurrent layers (2 = the notes' deep RNN)")
    bidirectional: bool = Field(False, description="also read the sequence backwards")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout between stacked layers")


class SimpleRNNHparams(RecurrentHparams):
    activation: Literal["tanh", "relu"] = Field("tanh", description="the simple RNN's h_t nonlinearity (LSTM/GRU gates are fixed)")


class DeepRNNHparams(SimpleRNNHparams):
    layers: int = Field(2, ge=2, description="stacked recurrent layers")


def steps_and_features(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) == 1:
        return shape[0], 1
    return shape[-2], int(torch.tensor(shape).prod()) // shape[-2]


class SequenceClassifier(nn.Module):
    """Many-to-one recurrent model; subclasses only pick the cell."""

    Hparams: ClassVar[type[RecurrentHparams]] = RecurrentHparams
    CELL: ClassVar[type[nn.RNNBase]] = nn.RNN

    def __init__(self, hp: RecurrentHparams, info: DataInfo, out_dim: int) -> None:
        super().__init__()
        self.steps, features = steps_and_features(info.shape)
        cell_kwargs = {"nonlinearity": hp.activation} if isinstance(hp, SimpleRNNHparams) else {}
        self.rnn = self.CELL(features, hp.hidden, num_layers=hp.layers, batch_first=True,
                             bidirectional=hp.bidirectional, dropout=hp.dropout if hp.layers > 1 else 0.0, **cell_kwargs)
        self.head = nn.Linear(hp.hidden * (2 if hp.bidirectional else 1), out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x.reshape(len(x), self.steps, -1))
        return self.head(out[:, -1])


class SimpleRNN(SequenceClassifier):
    Hparams = SimpleRNNHparams
    CELL = nn.RNN


class DeepRNN(SequenceClassifier):
    Hparams = DeepRNNHparams
    CELL = nn.RNN


class LSTM(SequenceClassifier):
    CELL = nn.LSTM


class GRU(SequenceClassifier):
    CELL = nn.GRU
