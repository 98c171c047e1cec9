"""Off-policy Monte Carlo by importance sampling (notes L1971: MC "works on- or off-policy";
Sutton & Barto 5.5-5.7).

Episodes come from a behaviour policy b; returns are reweighted toward the target policy pi by
W = prod_k pi(A_k|S_k) / b(A_k|S_k) over the rest of the episode, walking it backwards
(every-visit, S&B's incremental form):
  ordinary  V(s) = sum W G / N(s)          unbiased, variance unbounded when W is
  weighted  V(s) = sum W G / sum W         biased for finitely many returns, far lower variance
Prediction evaluates the fixed `policy` from episodes of b = epsilon*uniform + (1-epsilon)*pi
(`behaviour_epsilon`), scored against DP's exact v_pi like the on-policy agents. Control
learns Q for the greedy target policy from the exploring behaviour (`exploration`:
epsilon_greedy, boltzmann or random, whose action probabilities are known); once a step's
action is not the greedy one, the earlier steps' ratio is 0.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import Field

from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.tabular.agent import ControlAgent, EpisodicHparams, PolicyHparams, PredictionAgent
from trainfleet.rl.tabular.exploration import ExplorationHparams

Sampling = Literal["ordinary", "weighted"]
KnownProbabilities = Literal["epsilon_greedy", "boltzmann", "random"]


class ImportanceSampling:
    """Running importance-sampled averages of a table: visit counts (ordinary) or summed weights (weighted)."""

    def __init__(self, kind: Sampling, shape: tuple[int, ...]) -> None:
        self.kind = kind
        self.denominator = np.zeros(shape)

    def update(self, table: np.ndarray, key: Any, w: float, g: float) -> None:
        if self.kind == "ordinary":
            self.denominator[key] += 1.0
            table[key] += (w * g - table[key]) / self.denominator[key]
        elif w > 0:
            self.denominator[key] += w
            table[key] += w / self.denominator[key] * (g - table[key])


class SampledTables:
    """Checkpoints the sampler's denominators with a tabular agent's tables (mixed in before the agent)."""

    sampler: ImportanceSampling

    def tables(self) -> dict[str, Any]:
        return {**super().tables(), "denominator": self.sampler.denominator}  # type: ignore[misc]

    def load_tables(self, tables: dict[str, Any]) -> None:
        super().load_tables(tables)  # type: ignore[misc]
        self.sampler.denominator = tables["denominator"]


class OffPolicyPredictionHparams(PolicyHparams):
    sampling: Sampling = Field("weighted", description="ordinary (sum WG / N) or weighted (sum WG / sum W) importance sampling")
    behaviour_epsilon: float = Field(1.0, gt=0, le=1, description="behaviour = epsilon * uniform + (1 - epsilon) * policy")


class OffPolicyMCPrediction(SampledTables, PredictionAgent):
    """v_pi of `policy` from episodes of the behaviour policy, reweighted by importance sampling."""

    Hparams = OffPolicyPredictionHparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        eps = self.hp.behaviour_epsilon
        self.behaviour = eps / self.n_actions + (1 - eps) * self.pi
        self._behaviour_cdf = np.cumsum(self.behaviour, axis=1)
        self.sampler = ImportanceSampling(self.hp.sampling, (self.n_states,))

    def run_episode(self) -> tuple[float, int]:
        steps, rewards = [], []
        state, done = self.reset_env(), False
        while not done:
            action = self.sample_action(state, self._behaviour_cdf)
            next_state, reward, terminated, truncated, _ = self.env.step(action)
            steps.append((state, action))
            rewards.append(float(reward))
            state, done = int(next_state), terminated or truncated
        # ---- backwards: G and the ratio of the rest of the episode, then each visit's update ----
        g, w = 0.0, 1.0
        for (s, a), r in zip(reversed(steps), reversed(rewards)):
            g = r + self.hp.gamma * g
            w *= self.pi[s, a] / self.behaviour[s, a]
            self.sampler.update(self.v, s, w, g)
        self.env_steps += len(steps)
        return float(sum(rewards)), len(steps)


class OffPolicyControlHparams(EpisodicHparams, ExplorationHparams):
    exploration: KnownProbabilities = Field("epsilon_greedy", description="the behaviour policy: one whose action "
                                            "probabilities are known, which importance sampling divides by")
    sampling: Sampling = Field("weighted", description="ordinary or weighted importance sampling (S&B 5.7 uses weighted)")


class OffPolicyMCControl(SampledTables, ControlAgent):
    """Q for the greedy target policy, learned from an exploring behaviour policy's episodes."""

    Hparams = OffPolicyControlHparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        self.sampler = ImportanceSampling(self.hp.sampling, (self.n_states, self.n_actions))

    def run_episode(self) -> tuple[float, int]:
        steps, rewards, probs = [], [], []
        state = self.reset_env()
        while True:
            action = self.behave(state)
            probs.append(float(self.explorer.probabilities(self.q[state])[action]))
            next_state, reward, terminated, truncated, _ = self.env.step(action)
            steps.append((state, action))
            rewards.append(float(reward))
            if terminated or truncated:
                break
            state = int(next_state)
        # ---- backwards: Q(s,a) toward G weighted by the ratio of the steps after it ----
        g, w = 0.0, 1.0
        for (s, a), r, b in zip(reversed(steps), reversed(rewards), reversed(probs)):
            g = r + self.hp.gamma * g
            self.sampler.update(self.q, (s, a), w, g)
            if a != int(np.argmax(self.q[s])):  # the greedy target never takes a: earlier ratios are 0
                if self.hp.sampling == "weighted":
                    break
                w = 0.0
            w /= b
        self.env_steps += len(steps)
        return float(sum(rewards)), len(steps)
