"""Evolution strategies, OpenAI style: Salimans et al. 2017, "Evolution Strategies as a Scalable
Alternative to Reinforcement Learning" (arXiv:1703.03864).

Each generation perturbs the parameters theta with antithetic pairs theta +- sigma * eps_k (eps_k
a slice of a noise table shared by all workers), plays one episode per member, shapes the returns
into centred ranks and follows the search gradient

    g = 1 / (2n) * sum_k (s(+eps_k) - s(-eps_k)) * eps_k

with Adam, weight decay added to the gradient (the paper's `l2coeff`). As in the paper's code,
sigma is folded into the step size and observations are normalised by running statistics that
the workers gather and the learner merges.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from pydantic import Field, model_validator

from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.search.base import PolicySearch, SearchHparams, elite_size
from trainfleet.rl.search.population import Population, noise_slices


class ESHparams(SearchHparams):
    noise_std: float = Field(0.02, gt=0, description="sigma of the parameter perturbations (0.01 .. 0.1)")
    lr: float = Field(0.01, gt=0, description="Adam step size on the parameter vector (0.005 .. 0.05)")
    weight_decay: float = Field(0.005, ge=0, description="L2 coefficient added to the gradient")
    normalize_obs: bool = Field(True, description="normalise observations by running statistics merged from workers")
    noise_table_size: int = Field(2**22, ge=1, description="float32 numbers in the shared noise table (16 MiB)")

    @model_validator(mode="after")
    def _pairs(self) -> ESHparams:
        if self.population_size % 2:
            raise ValueError(f"population_size must be even (antithetic pairs), got {self.population_size}")
        return self


def centered_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks scaled to [-0.5, 0.5]; tied values share their average rank, so shaping depends only
    on the order of the returns (invariant to any increasing transform) and equal returns stay equal."""
    x = np.asarray(x).ravel()
    if len(x) < 2:
        return np.zeros(len(x))
    ranks = np.empty(len(x))
    ranks[np.argsort(x, kind="stable")] = np.arange(len(x))
    _, tie, count = np.unique(x, return_inverse=True, return_counts=True)
    ranks = np.bincount(tie, weights=ranks)[tie] / count[tie]
    return ranks / (len(x) - 1) - 0.5


def antithetic_gradient(shaped: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """Search gradient from pairs: `shaped` [2n] with +eps_k at 2k and -eps_k at 2k+1, eps [n, dim]."""
    return (shaped[0::2] - shaped[1::2]) @ eps / len(shaped)


class ES(PolicySearch):
    Hparams = ESHparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        self.noise = self.share_noise_table(self.hp.noise_table_size)
        self.theta = torch.nn.Parameter(torch.as_tensor(self.policy.get_flat()))
        self.optimizer = torch.optim.Adam([self.theta], lr=self.hp.lr, weight_decay=self.hp.weight_decay)

    def ask(self, seed: int) -> tuple[Population, dict[str, Any]]:
        population = Population(self.hp.population_size, self.hp.eval_episodes, seed, antithetic=True)
        return population, {"std": np.float32(self.hp.noise_std)}

    def tell(self, returns: np.ndarray, noise_index: np.ndarray) -> dict[str, float]:
        # ---- ALGO LOGIC ----------------------------------------------------------------------------
        eps = noise_slices(self.noise, noise_index[0::2], self.policy.dim)
        grad = antithetic_gradient(centered_ranks(returns), eps)
        self.theta.grad = torch.as_tensor(-grad, dtype=torch.float32)  # Adam minimises: ascend g
        self.optimizer.step()
        # ---- END ALGO LOGIC ------------------------------------------------------------------------
        return {"noise_std": self.hp.noise_std, "grad_norm": float(np.linalg.norm(grad)),
                "param_norm": float(self.theta.detach().norm())}

    def center(self) -> np.ndarray:
        return self.theta.detach().numpy()

    def elite_count(self) -> int:
        return elite_size(0.1, self.hp.population_size)

    def search_state(self) -> dict[str, Any]:
        return {"theta": self.theta.detach().clone(), "adam": self.optimizer.state_dict()}

    def set_search_state(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            self.theta.copy_(state["theta"])
        self.optimizer.load_state_dict(state["adam"])
