"""The notes' forward-pass and backpropagation worked example (L3891-4116), by hand.

A 1-2-2-1 ReLU network with weights w1..w8 and biases b1..b5 (the notes say "b_1 through
b_8", but the wiring has five):
  z1 = w1 x + b1,  z2 = w2 x + b2,                  a_i = ReLU(z_i)
  z3 = w3 a1 + w5 a2 + b3,  z4 = w4 a1 + w6 a2 + b4
  y_hat = w7 a3 + w8 a4 + b5,  L = (y - y_hat)^2
`manual_gradients` writes out the notes' chain-rule formulas (L4045-4107) term by term, so a
test can hold them against autograd on `to_torch`, the notes' `nn.Sequential` twin.
"""

from __future__ import annotations

import math

import torch
from torch import nn

NAMES = ("w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "b1", "b2", "b3", "b4", "b5")
Params = dict[str, float]


def combination(x: float) -> float:
    """Section 1.0's function z3(x) = 0.25 sigmoid(-1.75x - 0.1) + 0.5 sigmoid(0.172x + 0.15) + 0.2."""
    return 0.25 * _sigmoid(-1.75 * x - 0.1) + 0.5 * _sigmoid(0.172 * x + 0.15) + 0.2


def forward(p: Params, x: float) -> dict[str, float]:
    """Every intermediate of the forward pass (Figure 3's z and a values, and y_hat)."""
    z1, z2 = p["w1"] * x + p["b1"], p["w2"] * x + p["b2"]
    a1, a2 = _relu(z1), _relu(z2)
    z3, z4 = p["w3"] * a1 + p["w5"] * a2 + p["b3"], p["w4"] * a1 + p["w6"] * a2 + p["b4"]
    a3, a4 = _relu(z3), _relu(z4)
    return {"z1": z1, "z2": z2, "a1": a1, "a2": a2, "z3": z3, "z4": z4, "a3": a3, "a4": a4,
            "y_hat": p["w7"] * a3 + p["w8"] * a4 + p["b5"]}


def loss(p: Params, x: float, y: float) -> float:
    return (y - forward(p, x)["y_hat"]) ** 2


def manual_gradients(p: Params, x: float, y: float) -> Params:
    """dL/d(parameter) by the notes' formulas; dReLU(z) is 1 for z > 0, else 0 (torch's choice at 0)."""
    f = forward(p, x)
    l_y = -2 * (y - f["y_hat"])  # L4045
    d3, d4 = _drelu(f["z3"]), _drelu(f["z4"])
    back3, back4 = l_y * p["w7"] * d3, l_y * p["w8"] * d4  # dL/dz3, dL/dz4
    back1 = (back3 * p["w3"] + back4 * p["w4"]) * _drelu(f["z1"])  # L4090-4094: both paths through a1
    back2 = (back3 * p["w5"] + back4 * p["w6"]) * _drelu(f["z2"])  # L4103-4107: both paths through a2
    return {
        "w7": l_y * f["a3"], "w8": l_y * f["a4"], "b5": l_y,  # L4049-4053
        "w3": back3 * f["a1"], "w5": back3 * f["a2"], "b3": back3,  # L4062-4066
        "w4": back4 * f["a1"], "w6": back4 * f["a2"], "b4": back4,  # L4075-4079
        "w1": back1 * x, "b1": back1, "w2": back2 * x, "b2": back2,
    }


def gradient_step(p: Params, grads: Params, lr: float) -> Params:
    """w <- w - eta dL/dw for every weight and bias (L4024)."""
    return {k: p[k] - lr * grads[k] for k in NAMES}


def to_torch(p: Params) -> nn.Sequential:
    """The notes' `nn.Sequential(Linear(1,2), ReLU, Linear(2,2), ReLU, Linear(2,1))` holding `p` (float64)."""
    net = nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)).double()
    names = [([["w1"], ["w2"]], ["b1", "b2"]), ([["w3", "w5"], ["w4", "w6"]], ["b3", "b4"]), ([["w7", "w8"]], ["b5"])]
    with torch.no_grad():
        for layer, (weight, bias) in zip(_linears(net), names):
            layer.weight.copy_(torch.tensor([[p[k] for k in row] for row in weight], dtype=torch.float64))
            layer.bias.copy_(torch.tensor([p[k] for k in bias], dtype=torch.float64))
    return net


def torch_gradients(net: nn.Sequential, x: float, y: float) -> Params:
    """Autograd's dL/d(parameter) under the notes' names, for L = MSELoss on the one point."""
    net.zero_grad()
    out = net(torch.tensor([[x]], dtype=torch.float64))
    nn.functional.mse_loss(out, torch.tensor([[y]], dtype=torch.float64)).backward()
    g = [_grad(layer.weight) for layer in _linears(net)]
    b = [_grad(layer.bias) for layer in _linears(net)]
    pairs = {"w1": g[0][0, 0], "w2": g[0][1, 0], "w3": g[1][0, 0], "w5": g[1][0, 1], "w4": g[1][1, 0],
             "w6": g[1][1, 1], "w7": g[2][0, 0], "w8": g[2][0, 1], "b1": b[0][0], "b2": b[0][1],
             "b3": b[1][0], "b4": b[1][1], "b5": b[2][0]}
    return {k: float(v) for k, v in pairs.items()}


def _linears(net: nn.Sequential) -> list[nn.Linear]:
    return [m for m in net if isinstance(m, nn.Linear)]


def _grad(param: torch.Tensor) -> torch.Tensor:
    assert param.grad is not None, "backward fills every parameter's gradient"
    return param.grad


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def _relu(z: float) -> float:
    return max(z, 0.0)


def _drelu(z: float) -> float:
    return 1.0 if z > 0 else 0.0
