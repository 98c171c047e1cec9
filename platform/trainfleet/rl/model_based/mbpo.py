"""MBPO: model-based policy optimisation (Janner et al. 2019, "When to Trust Your Model").

SAC (rl/deep/sac.py) trains mostly on imagined data:
  1. every `model_train_freq` env steps, fit a probabilistic ensemble (models.py) on all real data;
  2. branch `rollout_batch` short rollouts of `rollout_length` steps from real states drawn from
     replay, acting with the current policy, each row stepped by a random ensemble member
     (a sampled next state), into a model buffer that keeps the most recent imagined transitions;
  3. each SAC gradient step draws `real_ratio` of its minibatch from real replay and the rest from
     the model buffer; `gradient_steps` per env step can be high, since imagined data is cheap.
Short branches keep the compounding model error small (the paper's argument: k-step error grows
with k). Rewards come from the model's reward head; `known_termination` ends imagined rollouts by
the env's rule (known.py), otherwise they never terminate (Pendulum).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from pydantic import Field

from trainfleet.errors import SpecError
from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.core.deterministic_actor_critic import flat_dim
from trainfleet.rl.core.replay import ReplayBuffer, ReplaySample
from trainfleet.rl.deep.sac import SAC, SACHparams
from trainfleet.rl.model_based import known
from trainfleet.rl.model_based.models import (
    DynamicsHparams,
    EnsembleDynamics,
    Transitions,
)


class MBPOHparams(SACHparams):
    model: DynamicsHparams = Field(default_factory=DynamicsHparams, description="the probabilistic ensemble")
    model_train_freq: int = Field(250, ge=1, description="env steps between model fits (and rollout batches)")
    rollout_batch: int = Field(5000, ge=1, description="real states branched from per model fit")
    rollout_length: int = Field(1, ge=1, le=100, description="steps of each imagined branch")
    model_buffer_size: int = Field(100_000, ge=1, description="imagined transitions kept")
    real_ratio: float = Field(0.05, ge=0, le=1, description="share of real transitions in each SAC minibatch")
    known_termination: bool = Field(False, description="end imagined rollouts by the env's termination rule (known.py)")


def concat(a: ReplaySample, b: ReplaySample) -> ReplaySample:
    """Row-wise: the tensor fields by torch.cat, the numpy `indices` (the last field) by np.concatenate."""
    return ReplaySample(obs=torch.cat([a.obs, b.obs]), actions=torch.cat([a.actions, b.actions]),
                        rewards=torch.cat([a.rewards, b.rewards]), next_obs=torch.cat([a.next_obs, b.next_obs]),
                        terminated=torch.cat([a.terminated, b.terminated]), weights=torch.cat([a.weights, b.weights]),
                        indices=np.concatenate([a.indices, b.indices]))


class MBPO(SAC):
    Hparams = MBPOHparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        hp = self.hp
        problem = self.job_problem(ctx.env_id, ctx.num_envs, hp)
        if problem:
            raise SpecError(problem[1], path=problem[0])
        self.termination_fn = known.TERMINATIONS[ctx.env_id] if hp.known_termination else None
        obs_dim, act_dim = flat_dim(self.obs_space), flat_dim(self.action_space)
        self.model = EnsembleDynamics(obs_dim, act_dim, hp.model, ctx.seed).to(self.device)
        self.model_replay = ReplayBuffer(hp.model_buffer_size, self.obs_space, self.action_space, ctx.seed + 7, self.device)
        self.model_metrics: dict[str, float] = {}
        self._next_model_fit = hp.learning_starts

    @classmethod
    def job_problem(cls, env_id: str, num_envs: int, hparams: Any) -> tuple[str, str] | None:
        if hparams.model.kind != "mlp":
            return "hparams.model.kind", "mbpo branches rollouts from an MLP ensemble: set model.kind to mlp"
        if hparams.known_termination and env_id not in known.TERMINATIONS:
            have = ", ".join(sorted(known.TERMINATIONS))
            return "hparams.known_termination", f"no known termination function for {env_id}; those with one: {have}"
        return None

    # ---- ALGORITHM LOGIC ----------------------------------------------------------------------
    def fit_model(self) -> None:
        n, t = len(self.replay), torch.as_tensor
        r = self.replay
        self.model_metrics = self.model.fit(Transitions(t(r.obs[:n]), t(r.actions[:n]), t(r.rewards[:n]), t(r.next_obs[:n])))

    @torch.no_grad()
    def branch_rollouts(self) -> None:
        """Imagined transitions from real start states into the model buffer; each row keeps a random member."""
        hp, members = self.hp, self.model.members
        rows = (hp.rollout_batch // members) * members or members
        obs = self.replay.sample(rows).obs
        for _ in range(hp.rollout_length):
            actions = self.actor.sample(obs, self.torch_rng)[0]
            nxt, rewards = self.model.step(obs.view(members, -1, obs.shape[-1]),
                                           actions.view(members, -1, actions.shape[-1]), self.torch_rng)
            nxt, rewards = nxt.reshape(obs.shape), rewards.reshape(-1)
            ended = self.termination_fn(nxt) if self.termination_fn else torch.zeros(len(obs), dtype=torch.bool)
            self.model_replay.add(*(x.cpu().numpy() for x in (obs, actions, rewards, nxt, ended.float())))
            obs = nxt[~ended]
            if len(obs) < members:
                break
            obs = obs[: (len(obs) // members) * members]

    def train(self, losses: dict[str, list[torch.Tensor]], n: int | None = None) -> None:
        """Refresh the model and its rollouts when due, then SAC steps on mixed real/imagined minibatches."""
        hp = self.hp
        if self.env_steps >= self._next_model_fit:
            self._next_model_fit = self.env_steps + hp.model_train_freq
            self.fit_model()
            self.branch_rollouts()
        self._apply_learning_rate()
        n_real = round(hp.batch_size * hp.real_ratio)
        for _ in range(hp.gradient_steps if n is None else n):
            batch = self.model_replay.sample(hp.batch_size - n_real)
            if n_real:
                batch = concat(self.replay.sample(n_real), batch)
            terms = self.update(batch)
            self.gradient_steps += 1
            for k, v in terms.items():
                losses.setdefault(k, []).append(v)
    # ---- END ALGORITHM LOGIC ------------------------------------------------------------------

    def extra_metrics(self) -> dict[str, float]:
        return {**super().extra_metrics(), **self.model_metrics, "model_buffer_size": len(self.model_replay)}

    def extra_state(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "model_optimizer": self.model.optimizer.state_dict(),
                "model_replay": self.model_replay.get_state(), "next_model_fit": self._next_model_fit}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.model.optimizer.load_state_dict(state["model_optimizer"])
        self.model_replay.set_state(state["model_replay"])
        self._next_model_fit = state["next_model_fit"]
