"""Activation functions by name (notes U3.7) and the small building blocks models share."""

from __future__ import annotations

from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,  # alpha 0.01, the notes' example value (L4193-4212)
    "swish": nn.SiLU,  # x * sigmoid(x)
}


def activation(name: str) -> nn.Module:
    return ACTIVATIONS[name]()


def dense_stack(
    sizes: list[int], act: str, *, dropout: float = 0.0, batchnorm: bool = False
) -> nn.Sequential:
    """Linear -> [BatchNorm] -> activation -> [Dropout] for each consecutive pair in `sizes`."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes, sizes[1:]):
        layers.append(nn.Linear(n_in, n_out))
        if batchnorm:
            layers.append(nn.BatchNorm1d(n_out))
        layers.append(activation(act))
        if dropout:
            layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def count_parameters(module: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)
