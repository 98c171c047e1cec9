"""Trust Region Policy Optimisation.

Schulman et al. 2015, "Trust Region Policy Optimization" (arXiv:1502.05477), practical
algorithm of its Appendix C, with GAE advantages (Schulman et al. 2016):

    maximise  L(theta) = E[ pi_theta(a|s) / pi_old(a|s) A ]   s.t.  E[ KL(pi_old || pi_theta) ] <= delta

1. g = grad L at theta_old; F = Hessian of the mean KL (the Fisher information matrix).
2. Solve F x = g by conjugate gradient, using only Fisher-vector products F v (two backward
   passes, F never formed), damped: (F + damping I) v.
3. Full step s = sqrt(2 delta / x^T F x) x: the largest step along x whose quadratic KL
   estimate equals delta.
4. Backtracking line search: s, s/2, s/4 ... until the real KL <= delta and L improved;
   if none does, keep theta_old.
The value function is fitted separately, by Adam on the GAE returns (`value_epochs`
minibatch passes), as in the GAE paper's experiments -- the paper's TRPO itself used a
trust region for V as well. Advantages are normalised over the batch.
"""

from __future__ import annotations

from typing import Any

import torch
from pydantic import Field
from torch.distributions import kl_divergence
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from trainfleet import results
from trainfleet.rl.core.algorithm import RunContext, ensure_finite
from trainfleet.rl.core.conjugate_gradient import conjugate_gradient
from trainfleet.rl.core.on_policy import OnPolicyAlgorithm, OnPolicyHparams
from trainfleet.rl.core.rollout_buffer import Rollout


class TRPOHparams(OnPolicyHparams):
    n_steps: int = Field(256, ge=1, description="vector steps per env per iteration")
    gae_lambda: float = Field(0.95, ge=0, le=1, description="GAE lambda")
    max_kl: float = Field(0.01, gt=0, description="trust region size delta (mean KL per step)")
    cg_iters: int = Field(10, ge=1, description="conjugate gradient iterations")
    damping: float = Field(0.1, ge=0, description="Fisher damping: solves (F + damping I) x = g")
    backtracks: int = Field(10, ge=1, description="line search halvings before giving up")
    lr: float = Field(1.0e-3, gt=0, description="Adam learning rate of the value function")
    value_epochs: int = Field(5, ge=1, description="passes of value regression per iteration")
    value_minibatch: int = Field(512, ge=1, description="minibatch size of value regression")


class TRPO(OnPolicyAlgorithm):
    Hparams = TRPOHparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        self.value_opt = torch.optim.Adam(self.model.value_parameters(), lr=self.hp.lr)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"value": self.value_opt}

    # ---- ALGO LOGIC ----------------------------------------------------------------------------
    def update(self, rollout: Rollout) -> dict[str, Any]:
        hp = self.hp
        b = self.batch(rollout, hp.gae_lambda)
        adv = (b.advantages - b.advantages.mean()) / (b.advantages.std() + 1e-8)
        params = self.model.policy_parameters()
        with torch.no_grad():
            old_dist = self.model.distribution(b.obs)

        def surrogate() -> torch.Tensor:
            logp, _, _ = self.model.evaluate(b.obs, b.actions)
            return (torch.exp(logp - b.logp) * adv).mean()

        def mean_kl() -> torch.Tensor:
            return kl_divergence(old_dist, self.model.distribution(b.obs)).mean()

        loss_old = surrogate()
        g = parameters_to_vector(torch.autograd.grad(loss_old, params))
        kl_grad = parameters_to_vector(torch.autograd.grad(mean_kl(), params, create_graph=True))

        def fisher_vector(v: torch.Tensor) -> torch.Tensor:
            fv = torch.autograd.grad(kl_grad.dot(v), params, retain_graph=True)
            return parameters_to_vector(fv) + hp.damping * v

        x = conjugate_gradient(fisher_vector, g, hp.cg_iters)
        step = torch.sqrt(2 * hp.max_kl / (x.dot(fisher_vector(x)) + 1e-12)) * x
        theta_old = parameters_to_vector(params).detach()
        accepted, kl, loss_new = 0.0, 0.0, loss_old.item()
        with torch.no_grad():
            for k in range(hp.backtracks):
                vector_to_parameters(theta_old + 0.5**k * step, params)
                kl, loss_new = float(mean_kl()), float(surrogate())
                if kl <= hp.max_kl and loss_new > loss_old.item():
                    accepted = 0.5**k
                    break
            else:
                vector_to_parameters(theta_old, params)
                kl, loss_new = 0.0, loss_old.item()

        n = b.obs.shape[0]
        for _ in range(hp.value_epochs):
            perm = torch.randperm(n, generator=self.generator).to(self.device)
            for start in range(0, n, hp.value_minibatch):
                idx = perm[start:start + hp.value_minibatch]
                loss_value = 0.5 * (self.model.value(b.obs[idx]) - b.returns[idx]).pow(2).mean()
                self.value_opt.zero_grad()
                loss_value.backward()
                torch.nn.utils.clip_grad_norm_(self.model.value_parameters(), hp.max_grad_norm)
                self.value_opt.step()
        # ---- END ALGO LOGIC ------------------------------------------------------------------------
        with torch.no_grad():
            entropy = float(self.model.evaluate(b.obs, b.actions)[1].mean())
        ensure_finite(policy=loss_new, value=loss_value.item())
        return {
            results.loss_key("policy"): -loss_new,
            results.loss_key("value"): loss_value.item(),
            results.loss_key("entropy"): entropy,
            "approx_kl": kl,
            "step_fraction": accepted,
        }
