"""Planning with a known model: value iteration and policy iteration (notes L1147-1169, L1917-1947).

  value iteration     V(s) <- max_a [R(s,a) + gamma sum_s' P(s'|s,a) V(s')]          (L1159, L1929)
  policy evaluation   V_pi(s) = sum_a pi(a|s) [R(s,a) + gamma sum_s' P(s'|s,a) V_pi(s')]  (L1937)
  policy improvement  pi'(s) = argmax_a [R(s,a) + gamma sum_s' P(s'|s,a) V_pi(s')]   (L1941)

Every sweep (`planning.py`) is one sparse matrix-vector product over the whole model (`model.py`), never a
Python loop over states: that is what makes 10^6-state grids plannable (see
benchmarks/value_iteration.py). Policy evaluation is either the direct solve of the linear
Bellman system, v = (I - gamma P_pi)^-1 R_pi, or iterative sweeps to `theta`.

As platform algorithms: one iteration = `sweeps_per_iteration` value-iteration sweeps, or one
evaluate + improve step of policy iteration; `done` when converged. They take no env steps;
`episode_return_mean` is the greedy policy's mean return over `eval_episodes` rollouts.
"""

from __future__ import annotations

from typing import Any, Literal

import gymnasium as gym
import numpy as np
from pydantic import Field

from trainfleet import results
from trainfleet.rl.core.algorithm import Algorithm, Hparams, RunContext
from trainfleet.rl.core.envs import make_env
from trainfleet.rl.tabular.agent import rollout_returns, tabular_space_problem
from trainfleet.rl.tabular.model import TabularModel, evaluate_exact, greedy, one_hot, uniform_policy
from trainfleet.rl.tabular.planning import evaluate_iterative, improve, value_iteration_sweep

# ---------------------------------------------------------------- platform plumbing


class DPHparams(Hparams):
    gamma: float = Field(0.99, ge=0, lt=1, description="discount (< 1, so every policy has a finite value)")
    theta: float = Field(1.0e-8, gt=0, description="convergence threshold on max |V_new - V|")
    eval_episodes: int = Field(10, ge=0, description="greedy-policy rollouts per iteration for episode_return_mean (0: skip)")
    eval_max_steps: int = Field(1000, ge=1, description="step cap of an evaluation rollout")


class _Planner(Algorithm):
    """Shared by both planners: the model, V, the greedy policy and its evaluation."""

    @classmethod
    def space_problem(cls, observation_space: gym.Space, action_space: gym.Space) -> str | None:
        return tabular_space_problem(observation_space, action_space)

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        self.env = make_env(ctx.env_id, ctx.env_kwargs)
        self.require_spaces(self.env.observation_space, self.env.action_space)
        self.model = TabularModel.from_env(self.env, ctx.env_id)
        self.v = np.zeros(self.model.n_states)
        self.policy = greedy(self.model.q_values(self.v, self.hp.gamma))
        self.start_state = int(self.env.reset(seed=ctx.seed)[0])
        self._eval_cache: tuple[bytes, float] | None = None

    def greedy_return(self) -> float:
        """Mean return of the current greedy policy (fixed seeds: an unchanged policy is not re-run)."""
        if self.hp.eval_episodes == 0:
            return float("nan")
        key = self.policy.tobytes()
        if self._eval_cache is None or self._eval_cache[0] != key:
            returns = rollout_returns(self.env, self.act, self.hp.eval_episodes, self.ctx.seed + 10_000, self.hp.eval_max_steps)
            self._eval_cache = (key, float(np.mean(returns)))
        return self._eval_cache[1]

    def report(self, delta: float, done: bool) -> dict[str, Any]:
        return {
            results.ENV_STEPS: 0,
            results.EPISODE_RETURN_MEAN: self.greedy_return(),
            "value_delta": float(delta),
            "v_start": float(self.v[self.start_state]),
            "done": bool(done),
        }

    def act(self, obs: Any) -> int:
        return int(self.policy[int(obs)])

    def get_state(self) -> dict[str, Any]:
        return {"v": self.v, "policy": self.policy}

    def set_state(self, state: dict[str, Any]) -> None:
        self.v, self.policy = state["v"], state["policy"]

    def close(self) -> None:
        self.env.close()


class ValueIterationHparams(DPHparams):
    sweeps_per_iteration: int = Field(1, ge=1, description="value-iteration sweeps per platform iteration")


class ValueIteration(_Planner):
    Hparams = ValueIterationHparams

    def train_iteration(self) -> dict[str, Any]:
        for _ in range(self.hp.sweeps_per_iteration):
            v_new, q = value_iteration_sweep(self.model, self.v, self.hp.gamma)
            delta = float(np.abs(v_new - self.v).max())
            self.v = v_new
            if delta < self.hp.theta:
                break
        self.policy = greedy(self.model.q_values(self.v, self.hp.gamma))
        return self.report(delta, delta < self.hp.theta)


class PolicyIterationHparams(DPHparams):
    evaluation: Literal["exact", "iterative"] = Field(
        "exact", description="exact: direct solve of (I - gamma P_pi) v = R_pi; iterative: sweeps to theta"
    )


class PolicyIteration(_Planner):
    """Starts from the uniform random policy (it terminates where a fixed action might not)."""

    Hparams = PolicyIterationHparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        self.pi = uniform_policy(self.model.n_states, self.model.n_actions)

    def train_iteration(self) -> dict[str, Any]:
        hp = self.hp
        if hp.evaluation == "exact":
            v_new = evaluate_exact(self.model, self.pi, hp.gamma)
        else:
            v_new = evaluate_iterative(self.model, self.pi, hp.gamma, hp.theta, v0=self.v)
        delta = float(np.abs(v_new - self.v).max())
        self.v = v_new
        new_policy = improve(self.model.q_values(self.v, hp.gamma), self.policy)
        stable = bool(np.array_equal(new_policy, self.policy)) and np.array_equal(self.pi, one_hot(new_policy, self.model.n_actions))
        self.policy = new_policy
        self.pi = one_hot(new_policy, self.model.n_actions)
        return self.report(delta, stable)

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "pi": self.pi}

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.pi = state["pi"]
