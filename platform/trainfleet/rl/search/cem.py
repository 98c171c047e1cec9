"""The cross-entropy method for policy search, with added noise: Szita & Lorincz 2006, "Learning
Tetris Using the Noisy Cross-Entropy Method" (Neural Computation 18(12)).

A diagonal Gaussian N(mu, diag sigma^2) over the policy's parameters. Each generation samples
`population_size` parameter vectors mu + sigma * eps (eps from the shared noise table, so only
the generation's seed travels to the workers), plays one episode with each, and refits mu and
sigma^2 to the best `elite_frac` of them. Refitting alone shrinks sigma to zero within a few
generations, often before the elites are good; the paper adds a decreasing amount of variance
Z_t after each refit (`extra_noise`, a schedule over generations), which fixes that.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.core.schedules import Schedule
from trainfleet.rl.search.base import PolicySearch, SearchHparams, elite_size
from trainfleet.rl.search.population import Population, noise_slices


class CEMHparams(SearchHparams):
    elite_frac: float = Field(0.2, gt=0, le=1, description="fraction of the population the distribution is refit to")
    init_std: float = Field(1.0, gt=0, description="initial sigma of every parameter")
    extra_noise: Schedule = Field(
        Schedule(schedule="linear", start=0.1, end=0.0, steps=50),
        description="variance added to sigma^2 after each refit, over generations (Szita & Lorincz's Z_t)",
    )
    noise_table_size: int = Field(2**22, ge=1, description="float32 numbers in the shared noise table (16 MiB)")


class CEM(PolicySearch):
    Hparams = CEMHparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        self.noise = self.share_noise_table(self.hp.noise_table_size)
        self.mean = self.policy.get_flat().astype(np.float64)
        self.std = np.full(self.policy.dim, self.hp.init_std)

    def ask(self, seed: int) -> tuple[Population, dict[str, Any]]:
        return Population(self.hp.population_size, self.hp.eval_episodes, seed), {"std": self.std.astype(np.float32)}

    def tell(self, returns: np.ndarray, noise_index: np.ndarray) -> dict[str, float]:
        # ---- ALGO LOGIC ----------------------------------------------------------------------------
        elite = np.argsort(returns)[::-1][: self.elite_count()]
        params = self.mean + self.std * noise_slices(self.noise, noise_index[elite], self.policy.dim)
        extra = self.hp.extra_noise.value(self.generation)
        self.mean = params.mean(axis=0)
        self.std = np.sqrt(params.var(axis=0) + extra)
        # ---- END ALGO LOGIC ------------------------------------------------------------------------
        return {"noise_std": float(np.sqrt(np.mean(self.std**2))), "extra_noise": extra}

    def center(self) -> np.ndarray:
        return self.mean

    def elite_count(self) -> int:
        return elite_size(self.hp.elite_frac, self.hp.population_size)

    def search_state(self) -> dict[str, Any]:
        return {"mean": self.mean.copy(), "std": self.std.copy()}

    def set_search_state(self, state: dict[str, Any]) -> None:
        self.mean, self.std = state["mean"].copy(), state["std"].copy()
