"""Planners over action sequences for model-predictive control: random shooting, CEM, CMA-ES.

A planner proposes candidate action sequences of length `horizon` and scores *all* of them in
one call of `score(sequences) -> returns` (the imagined return under the learned model, one
batched model call per step of the horizon, never a loop per candidate). MPC executes the
first action of the best plan and replans at the next step (receding horizon); CEM and CMA-ES
warm-start from the previous plan shifted by one step.

- random shooting: `candidates` uniform sequences, keep the best (the notes' SimpleMBRL);
- CEM: refit a Gaussian (Box actions) or per-step categorical (Discrete actions) to the
  `elites` best candidates for `iterations` rounds, with smoothing `alpha` (PETS's planner);
- CMA-ES through the `cma` package's ask/tell over the flattened sequence (Box actions).
Sequences travel as tensors: (N, horizon, act_dim) floats in the box, or (N, horizon) indices.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import gymnasium as gym
import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

Score = Callable[[torch.Tensor], torch.Tensor]


class PlannerHparams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["random", "cem", "cma_es"] = Field("cem", description="random shooting, CEM, or CMA-ES (Box actions)")
    horizon: int = Field(15, ge=1, le=200, description="planning horizon (env steps)")
    candidates: int = Field(400, ge=2, le=100_000, description="action sequences scored per planning round")
    iterations: int = Field(5, ge=1, le=50, description="CEM/CMA-ES rounds per env step")
    elites: int = Field(40, ge=1, description="CEM: best candidates the distribution is refitted to")
    alpha: float = Field(0.1, ge=0, lt=1, description="CEM: weight of the old distribution in each refit")
    init_std: float = Field(0.5, gt=0, le=2, description="CEM/CMA-ES: initial std, fraction of the action half-range")


class Planner:
    """Random shooting; subclasses refine the proposal distribution between rounds."""

    def __init__(self, hp: PlannerHparams, action_space: gym.Space, seed: int) -> None:
        self.hp, self.space = hp, action_space
        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        self.generator = torch.Generator().manual_seed(seed)
        if isinstance(action_space, gym.spaces.Discrete):
            self.n = int(action_space.n)
        else:
            assert isinstance(action_space, gym.spaces.Box), "planners handle Box or Discrete actions"
            self.low = torch.as_tensor(action_space.low, dtype=torch.float32)
            self.high = torch.as_tensor(action_space.high, dtype=torch.float32)
        self.reset()

    def reset(self) -> None:
        """Forget the warm start (a new episode)."""

    def uniform(self, n: int) -> torch.Tensor:
        h = self.hp.horizon
        if self.discrete:
            return torch.randint(self.n, (n, h), generator=self.generator)
        u = torch.rand((n, h, *self.low.shape), generator=self.generator)
        return self.low + (self.high - self.low) * u

    def plan(self, score: Score) -> tuple[np.ndarray, float]:
        """The first action of the best sequence found, and that sequence's imagined return."""
        seqs = self.uniform(self.hp.candidates)
        returns = score(seqs)
        best = int(returns.argmax())
        return seqs[best, 0].numpy(), float(returns[best])


class CEMPlanner(Planner):
    """Cross-entropy method over sequences: Gaussian for Box actions, categorical for Discrete."""

    def reset(self) -> None:
        h = self.hp.horizon
        if self.discrete:
            self.probs = torch.full((h, self.n), 1.0 / self.n)
        else:
            self.mean = ((self.low + self.high) / 2).expand(h, *self.low.shape).clone()

    def _propose(self, std: torch.Tensor | None) -> torch.Tensor:
        n = self.hp.candidates
        if self.discrete:
            return torch.multinomial(self.probs, n, replacement=True, generator=self.generator).T
        assert std is not None  # Box actions always carry a std
        eps = torch.randn((n, *self.mean.shape), generator=self.generator)
        return torch.max(torch.min(self.mean + std * eps, self.high), self.low)

    def _refit(self, elites: torch.Tensor, std: torch.Tensor | None) -> torch.Tensor | None:
        a = self.hp.alpha
        if self.discrete:
            freq = torch.nn.functional.one_hot(elites, self.n).float().mean(0)
            self.probs = a * self.probs + (1 - a) * freq
            return std
        assert std is not None  # Box actions always carry a std
        self.mean = a * self.mean + (1 - a) * elites.mean(0)
        return a * std + (1 - a) * elites.std(0)

    def plan(self, score: Score) -> tuple[np.ndarray, float]:
        hp = self.hp
        std = None if self.discrete else (self.high - self.low) / 2 * hp.init_std
        best_seq, best_return = None, -float("inf")
        for _ in range(hp.iterations):
            seqs = self._propose(std)
            returns = score(seqs)
            top = returns.topk(min(hp.elites, len(returns))).indices
            if float(returns[top[0]]) > best_return:
                best_seq, best_return = seqs[top[0]].clone(), float(returns[top[0]])
            std = self._refit(seqs[top], std)
        self._shift()
        # None only if every imagined return was NaN (mapped to -inf) in every round
        assert best_seq is not None, "CEM: every candidate's imagined return was NaN"
        return best_seq[0].numpy(), best_return

    def _shift(self) -> None:
        """Warm start: drop the step just taken, repeat a fresh guess at the end."""
        if self.discrete:
            self.probs = torch.cat([self.probs[1:], torch.full_like(self.probs[:1], 1.0 / self.n)])
        else:
            self.mean = torch.cat([self.mean[1:], ((self.low + self.high) / 2)[None]])


class CMAESPlanner(Planner):
    """CMA-ES (the `cma` package) over the sequence scaled to [−1, 1]; the whole population in one score call."""

    def reset(self) -> None:
        self.mean = np.zeros(self.hp.horizon * int(np.prod(self.low.shape)))

    def plan(self, score: Score) -> tuple[np.ndarray, float]:
        import cma

        hp = self.hp
        seed = int(torch.randint(1, 2 ** 31 - 1, (1,), generator=self.generator))
        es = cma.CMAEvolutionStrategy(self.mean, hp.init_std, {
            "popsize": hp.candidates, "bounds": [-1, 1], "seed": seed, "verbose": -9, "maxiter": hp.iterations})
        best_x, best_return = self.mean, -float("inf")
        for _ in range(hp.iterations):
            xs = np.asarray(es.ask())
            returns = score(self._to_actions(torch.as_tensor(xs, dtype=torch.float32)))
            es.tell(list(xs), (-returns).tolist())
            i = int(returns.argmax())
            if float(returns[i]) > best_return:
                best_x, best_return = xs[i], float(returns[i])
        step = best_x.size // hp.horizon
        self.mean = np.concatenate([best_x[step:], np.zeros(step)])
        return self._to_actions(torch.as_tensor(best_x[None], dtype=torch.float32))[0, 0].numpy(), best_return

    def _to_actions(self, xs: torch.Tensor) -> torch.Tensor:
        seqs = xs.reshape(len(xs), self.hp.horizon, *self.low.shape)
        return self.low + (self.high - self.low) * (seqs.clamp(-1, 1) + 1) / 2


PLANNERS: dict[str, type[Planner]] = {"random": Planner, "cem": CEMPlanner, "cma_es": CMAESPlanner}


def make_planner(hp: PlannerHparams, action_space: gym.Space, seed: int) -> Planner:
    return PLANNERS[hp.kind](hp, action_space, seed)
