"""The MAML meta-gradient of `rl/meta/adaptation.py` on small linear regression tasks, where every
quantity has a closed form or a finite-difference check."""

from __future__ import annotations

import torch

from trainfleet.rl.meta.adaptation import adapt, maml_objective

F64 = {"dtype": torch.float64}


def mse(x: torch.Tensor, y: torch.Tensor):
    return lambda p: ((x @ p["w"] + p["b"] - y) ** 2).mean()


def regression_data(n_tasks: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Per task (inner inputs, outer inputs, true weights) of its own line."""
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(8, 3, generator=g, **F64), torch.randn(8, 3, generator=g, **F64),
             torch.randn(3, generator=g, **F64)) for _ in range(n_tasks)]


def regression_tasks(n_tasks: int = 3):
    """Each task: an inner (support) and an outer (query) regression loss."""
    return [([mse(xs, xs @ w)], mse(xq, xq @ w + 0.5)) for xs, xq, w in regression_data(n_tasks)]


def params(seed: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"w": torch.randn(3, generator=g, **F64).requires_grad_(), "b": torch.randn((), generator=g, **F64).requires_grad_()}


def meta_grad(p, tasks, alpha, first_order):
    loss = maml_objective(p, tasks, alpha, first_order)
    return torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, list(p.values()))])


def test_second_order_meta_gradient_matches_finite_differences():
    tasks, p, alpha, eps = regression_tasks(), params(), 0.1, 1e-6
    analytic = meta_grad(p, tasks, alpha, first_order=False)
    flat = torch.cat([v.detach().reshape(-1) for v in p.values()])

    def objective(vec: torch.Tensor) -> float:
        q = {"w": vec[:3].clone().requires_grad_(), "b": vec[3].clone().requires_grad_()}
        return maml_objective(q, tasks, alpha, first_order=False).item()

    numeric = torch.stack([
        torch.tensor((objective(flat + eps * e) - objective(flat - eps * e)) / (2 * eps), **F64) for e in torch.eye(4, **F64)
    ])
    assert torch.allclose(analytic, numeric, rtol=1e-5, atol=1e-7), f"autograd {analytic} vs finite differences {numeric}"
    first = meta_grad(params(), tasks, alpha, first_order=True)
    assert (first - analytic).abs().max() > 1e-3, "the Hessian term should matter on these tasks"


def test_second_order_is_one_minus_alpha_hessian_times_first_order():
    """One inner step on a quadratic loss: grad = (I - alpha H) grad_outer(theta'), H = 2 X^T X / n."""
    (inner, outer), = regression_tasks(n_tasks=1)
    p, alpha = params(), 0.05
    second = meta_grad(p, [(inner, outer)], alpha, first_order=False)
    first = meta_grad(p, [(inner, outer)], alpha, first_order=True)  # = grad_outer at theta'
    x = torch.cat([regression_data(1)[0][0], torch.ones(8, 1, **F64)], dim=1)  # features of (w, b)
    hessian = 2 * x.T @ x / x.shape[0]
    expected = (torch.eye(4, **F64) - alpha * hessian) @ first
    assert torch.allclose(second, expected, atol=1e-10), f"{second} vs (I - aH) g = {expected}"


def test_first_and_second_order_agree_when_theory_says():
    tasks = regression_tasks()
    # no inner step: both are the plain outer gradient
    assert torch.allclose(meta_grad(params(), tasks, 0.0, False), meta_grad(params(), tasks, 0.0, True))
    # an inner loss linear in theta has zero Hessian, so the second-order term vanishes
    linear_inner = [([lambda p: p["w"].sum() * 0.3 + 2 * p["b"]], outer) for _, outer in tasks]
    second = meta_grad(params(), linear_inner, 0.1, False)
    first = meta_grad(params(), linear_inner, 0.1, True)
    assert torch.allclose(second, first, atol=1e-12), f"{second} vs {first}"


def test_adapt_takes_one_sgd_step_per_inner_loss():
    (inner, _), = regression_tasks(n_tasks=1)
    p = params()
    g = torch.autograd.grad(inner[0](p), list(p.values()))
    two = adapt(p, inner * 2, 0.1, first_order=True)
    one = adapt(p, inner, 0.1, first_order=True)
    assert torch.allclose(one["w"], p["w"] - 0.1 * g[0])
    assert not torch.allclose(two["w"], one["w"]), "a second inner loss takes a second step"
