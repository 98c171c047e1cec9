"""RL²: fast reinforcement learning via slow reinforcement learning (Duan et al. 2016, arXiv:1611.02779).

The outer ("slow") learner is PPO; the inner ("fast") learner is the GRU's hidden state, which
carries what the agent has learnt about the current task across the episodes of a trial
(`recurrent.py`). Each iteration runs `num_envs` trials per rollout worker, each on a training
task of its own, and takes PPO epochs over minibatches of whole trials (the GRU is re-run from a
zero state over each trial, as recurrent PPO must). Advantages are GAE over the whole trial:
the objective is the trial's total reward, so an episode end inside a trial is no cut.
Deviation from the paper: PPO (the issue's choice, as in later RL² work) instead of TRPO.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from pydantic import Field

from trainfleet import results
from trainfleet.errors import UserError
from trainfleet.rl.core.algorithm import RunContext, ensure_finite
from trainfleet.rl.core.clipped_objective import clipped_losses
from trainfleet.rl.core.rollout_buffer import gae
from trainfleet.rl.envs.tasks import Task
from trainfleet.rl.meta.base import MetaAlgorithm, MetaHparams
from trainfleet.rl.meta.evaluation import adaptation_metrics
from trainfleet.rl.meta.recurrent import RecurrentActorCritic, RecurrentConfig, Trials, run_trials


class RL2Hparams(MetaHparams):
    episodes_per_trial: int = Field(2, ge=1, description="episodes on one task with the hidden state kept")
    hidden: int = Field(64, ge=1, description="GRU width (the paper: 256)")
    lr: float = Field(3.0e-3, gt=0, description="Adam learning rate")
    gamma: float = Field(0.99, ge=0, le=1, description="discount over the whole trial")
    gae_lambda: float = Field(0.3, ge=0, le=1, description="GAE lambda (the paper's bandits: 0.3)")
    clip: float = Field(0.2, gt=0, description="PPO clip range")
    value_clip: float | None = Field(None, gt=0, description="clip V around its old value; null = off")
    epochs: int = Field(4, ge=1, description="PPO passes over each batch of trials")
    minibatch_trials: int = Field(32, ge=1, description="whole trials per minibatch")
    ent_coef: float = Field(0.01, ge=0, description="entropy bonus weight")
    vf_coef: float = Field(0.5, ge=0, description="value loss weight")
    norm_adv: bool = Field(True, description="normalise advantages within each minibatch")
    max_grad_norm: float = Field(0.5, gt=0, description="gradient clipping by global norm")


class RL2(MetaAlgorithm):
    Hparams = RL2Hparams
    model: RecurrentActorCritic

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx, RecurrentConfig(ctx.hparams.hidden))
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=self.hp.lr, eps=1e-5)
        self.generator = torch.Generator().manual_seed(ctx.seed)  # minibatch order

    def trials(self, tasks: list[Task]) -> list[Trials]:
        """One trial per task, `num_envs` tasks per worker call, calls spread over the workers."""
        self.pool.set_weights(self.model)
        n = self.ctx.num_envs
        chunks = [tasks[i:i + n] for i in range(0, len(tasks), n)]
        return self.pool.map(run_trials, [(c, self.hp.episodes_per_trial) for c in chunks])

    # ---- ALGO LOGIC ----------------------------------------------------------------------------
    def update(self, batch: Trials) -> dict[str, float]:
        hp = self.hp
        next_values = np.concatenate([batch.values[1:], np.zeros_like(batch.values[:1])])
        no_cut = np.zeros_like(batch.trial_end)
        adv, ret = gae(batch.rewards, batch.values, next_values, batch.trial_end, no_cut, hp.gamma, hp.gae_lambda)
        x, actions = torch.as_tensor(batch.inputs), torch.as_tensor(batch.actions)
        old_logp, old_values = torch.as_tensor(batch.logp), torch.as_tensor(batch.values)
        adv_t, ret_t, valid = torch.as_tensor(adv), torch.as_tensor(ret), torch.as_tensor(batch.valid)
        n = x.shape[1]
        sums, steps = torch.zeros(4), 0
        for _ in range(hp.epochs):
            perm = torch.randperm(n, generator=self.generator)
            for start in range(0, n, hp.minibatch_trials):
                idx = perm[start:start + hp.minibatch_trials]
                features, _ = self.model(x[:, idx])
                v = valid[:, idx]
                logp, entropy = self.model.head.log_prob_entropy(features[v], actions[:, idx][v])
                c = clipped_losses(logp, old_logp[:, idx][v], adv_t[:, idx][v], hp.clip, hp.norm_adv,
                                   self.model.value(features[v]), old_values[:, idx][v], ret_t[:, idx][v], hp.value_clip)
                loss = c.policy + hp.vf_coef * c.value - hp.ent_coef * entropy.mean()
                self.optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), hp.max_grad_norm)
                self.optimizer.step()
                sums += torch.stack([c.policy, c.value, entropy.mean(), c.approx_kl]).detach()
                steps += 1
        policy, value, entropy, kl = (sums / steps).tolist()
        ensure_finite(policy=policy, value=value)
        return {results.loss_key("policy"): policy, results.loss_key("value"): value,
                results.loss_key("entropy"): entropy, "approx_kl": kl}
    # ---- END ALGO LOGIC ------------------------------------------------------------------------

    def meta_iteration(self) -> dict[str, float]:
        t0 = time.perf_counter()
        batch = _join(self.trials(self.sampler.meta_batch(self.ctx.num_envs * len(self.pool.workers))))
        sample_s = time.perf_counter() - t0
        self.env_steps += int(batch.valid.sum())
        return {
            "train_trial_return": float(batch.episode_returns.sum(1).mean()), **self.update(batch),
            "time_sample_s": sample_s, "time_learn_s": time.perf_counter() - t0 - sample_s,
        }

    def evaluate(self) -> dict[str, float]:
        """Trials on every held-out task: return of each episode of the trial, and the trial's total."""
        tasks = self.sampler.test
        n = self.ctx.num_envs
        padded = tasks + tasks[: (-len(tasks)) % n]  # whole vector envs; the repeats are dropped
        returns = np.concatenate([t.episode_returns for t in self.trials(padded)])[: len(tasks)]
        return {**adaptation_metrics(list(returns.T)), "trial_return_mean": float(returns.sum(1).mean())}

    # ---- acting, state --------------------------------------------------------------------------
    def act(self, obs: Any) -> Any:
        raise UserError(
            "rl2 adapts from the rewards it receives, which `trainfleet eval` does not give a policy: judge an "
            "rl2 run by its held-out metrics (episode_return_mean_adapt_k, trial_return_mean in metrics.parquet)"
        )

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "generator": self.generator.get_state()}

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.generator.set_state(state["generator"])


def _join(parts: list[Trials]) -> Trials:
    """Trials of several worker calls side by side (padded in time to the longest)."""
    length = max(p.rewards.shape[0] for p in parts)

    def pad(a: np.ndarray) -> np.ndarray:
        return np.concatenate([a, np.zeros((length - a.shape[0], *a.shape[1:]), a.dtype)]) if a.shape[0] < length else a

    fields = ("inputs", "actions", "logp", "values", "rewards", "valid", "trial_end")
    joined = {f: np.concatenate([pad(getattr(p, f)) for p in parts], axis=1) for f in fields}
    return Trials(**joined, episode_returns=np.concatenate([p.episode_returns for p in parts]))
