"""The notes' backpropagation worked example (L3891-4116): hand-derived gradients = autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trainfleet.dl import backprop_example as bp


def _random(seed: int) -> tuple[bp.Params, float, float]:
    rng = np.random.default_rng(seed)
    return {k: float(v) for k, v in zip(bp.NAMES, rng.normal(0, 1, len(bp.NAMES)))}, float(rng.normal()), float(rng.normal())


def test_function_combination_at_the_notes_coefficients():
    # z1(0) = -0.1, z2(0) = 0.15: a1 = sigmoid(-0.1) = 0.47502, a2 = sigmoid(0.15) = 0.53743
    assert bp.combination(0.0) == pytest.approx(0.25 * 0.475021 + 0.5 * 0.537430 + 0.2, abs=1e-6)
    assert [round(bp.combination(x), 5) for x in (0.0, 1.0, -1.0)] == [0.58747, 0.52387, 0.65697]


def test_forward_pass_matches_the_notes_pytorch_network():
    p, x, _ = _random(0)
    net = bp.to_torch(p)
    assert sum(t.numel() for t in net.parameters()) == 13  # w1..w8, b1..b5
    assert net(torch.tensor([[x]], dtype=torch.float64)).item() == pytest.approx(bp.forward(p, x)["y_hat"], abs=1e-14)


@pytest.mark.parametrize("seed", range(20))
def test_manual_gradients_equal_autograd(seed):
    p, x, y = _random(seed)
    manual, auto = bp.manual_gradients(p, x, y), bp.torch_gradients(bp.to_torch(p), x, y)
    assert manual.keys() == auto.keys() == set(bp.NAMES)
    for k in bp.NAMES:
        assert manual[k] == pytest.approx(auto[k], abs=1e-12), k


def test_random_draws_exercise_both_relu_branches():
    """So the gradient match covers dReLU = 0 and 1 at every hidden node (the notes' kink at 0 aside)."""
    signs = np.array([[bp.forward(*_random(s)[:2])[z] > 0 for z in ("z1", "z2", "z3", "z4")] for s in range(20)])
    assert signs.any(axis=0).all() and (~signs).any(axis=0).all(), signs.astype(int).tolist()


def test_a_small_gradient_step_lowers_the_loss():
    for seed in range(20):
        p, x, y = _random(seed)
        grads = bp.manual_gradients(p, x, y)
        if max(abs(g) for g in grads.values()) == 0:  # every ReLU path dead: no step to take
            continue
        assert bp.loss(bp.gradient_step(p, grads, 1e-3), x, y) < bp.loss(p, x, y), seed
