"""CMA-ES (Hansen & Ostermeier 2001; Hansen 2016, "The CMA Evolution Strategy: A Tutorial",
arXiv:1604.00772) through the `cma` package's ask/tell interface: cma owns the mean, step size,
covariance and evolution paths; trainfleet evaluates the population on the rollout workers.

cma minimises, so it is told the negated returns. Its `ask()` returns explicit parameter vectors,
so unlike ES and CEM the population itself (population_size x parameters floats) travels to the
workers each generation, in one object-store put.

cma's only whole-state serialisation is pickle, which would make a checkpoint code; the state
saved here is the plain arrays its `tell()` reads and writes (`CMA_STATE`): check them on a cma
upgrade (tests/unit/rl/search resume a run and compare the next `ask()`).
"""

from __future__ import annotations

from typing import Any

import cma
import numpy as np
from pydantic import Field

from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.search.base import PolicySearch, SearchHparams
from trainfleet.rl.search.population import Population

# (object path, attribute) of the evolving state of a CMAEvolutionStrategy with a full covariance
CMA_STATE = (
    ("", "mean"), ("", "mean_old"), ("", "sigma"), ("", "pc"), ("", "countiter"), ("", "countevals"),
    ("adapt_sigma", "ps"), ("sm", "C"), ("sm", "B"), ("sm", "D"), ("sm", "count_tell"), ("sm", "last_update"),
)


class CMAESHparams(SearchHparams):
    population_size: int | None = Field(
        None, ge=2, description="perturbed policies per generation; null = cma's default 4 + 3 ln(parameters)"
    )
    init_std: float = Field(0.5, gt=0, description="initial step size sigma0 (about a quarter of the search range)")


class CMAES(PolicySearch):
    Hparams = CMAESHparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        self.rng = np.random.default_rng(ctx.seed)
        options = {"seed": ctx.seed, "verbose": -9, "randn": lambda *shape: self.rng.standard_normal(shape)}
        if self.hp.population_size is not None:
            options["popsize"] = self.hp.population_size
        self.es = cma.CMAEvolutionStrategy(self.policy.get_flat().astype(np.float64), self.hp.init_std, options)
        self.asked: list[np.ndarray] = []

    def ask(self, seed: int) -> tuple[Population, dict[str, Any]]:
        self.asked = self.es.ask()
        rows = np.asarray(self.asked, dtype=np.float32)
        return Population(len(rows), self.hp.eval_episodes, seed, noisy=False), {"rows": rows}

    def tell(self, returns: np.ndarray, noise_index: np.ndarray) -> dict[str, float]:
        self.es.tell(self.asked, (-returns).tolist())
        return {"noise_std": float(self.es.sigma)}

    def center(self) -> np.ndarray:
        return np.asarray(self.es.mean)

    def elite_count(self) -> int:
        return int(self.es.sp.weights.mu)  # the parents of the weighted recombination

    def search_state(self) -> dict[str, Any]:
        state = {f"{obj}.{attr}": np.copy(getattr(_owner(self.es, obj), attr)) for obj, attr in CMA_STATE}
        return {"cma": state, "rng": self.rng.bit_generator.state}

    def set_search_state(self, state: dict[str, Any]) -> None:
        # cma sets some attributes up in its first ask() and tell(): run one, then overwrite its state
        dummy = self.es.ask()
        self.es.tell(dummy, [0.0] * len(dummy))
        for obj, attr in CMA_STATE:
            value = state["cma"][f"{obj}.{attr}"]
            setattr(_owner(self.es, obj), attr, value.item() if value.ndim == 0 else value.copy())
        self.rng.bit_generator.state = state["rng"]


def _owner(es: cma.CMAEvolutionStrategy, path: str) -> Any:
    return getattr(es, path) if path else es
