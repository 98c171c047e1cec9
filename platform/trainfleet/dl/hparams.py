"""Training hyperparameters every DL model accepts; each model's `Hparams` adds its own fields."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Optimizer = Literal["sgd", "momentum", "adam", "adagrad", "adadelta", "adamax", "nadam", "rmsprop"]
Loss = Literal["mse", "mae", "huber", "bce", "ce", "hinge"]
Activation = Literal["sigmoid", "tanh", "relu", "leaky_relu", "swish"]


class TrainHparams(BaseModel):
    """Optimiser, loss and regularisation: the Keras `compile`/`fit` arguments of the notes."""

    model_config = ConfigDict(extra="forbid")

    lr: float = Field(1.0e-3, gt=0, description="learning rate; 1e-4..1e-1 (SGD wants the larger end)")
    optimizer: Optimizer = Field("adam", description="gradient rule (notes L3568-3576)")
    momentum: float = Field(0.9, ge=0, lt=1, description="beta for `momentum` (and the SGD momentum term)")
    loss: Loss | None = Field(None, description="None = the task's natural loss (ce for classes, mse otherwise)")
    l1: float = Field(0.0, ge=0, description="lambda * sum|w| added to the loss (sparsity, notes L4597)")
    l2: float = Field(0.0, ge=0, description="lambda * sum w^2 added to the loss (weight decay, notes L4606)")
    grad_clip: float | None = Field(None, gt=0, description="clip the global gradient norm (exploding gradients)")
    amp: bool = Field(True, description="mixed precision when training on a GPU (ignored on CPU)")
