"""Conjugate gradient on matrix-vector products: the natural-gradient solve of TRPO and of
MAML's TRPO outer step (the Fisher matrix is never formed, only F v)."""

from __future__ import annotations

from typing import Any

import torch


def conjugate_gradient(fvp: Any, b: torch.Tensor, iters: int, tol: float = 1e-10) -> torch.Tensor:
    """Solve A x = b for symmetric positive-definite A given only v -> A v (Nocedal & Wright alg. 5.2)."""
    x = torch.zeros_like(b)
    r, p = b.clone(), b.clone()
    rr = r.dot(r)
    for _ in range(iters):
        ap = fvp(p)
        alpha = rr / (p.dot(ap) + 1e-12)
        x += alpha * p
        r -= alpha * ap
        rr_new = r.dot(r)
        if rr_new < tol:
            break
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x
