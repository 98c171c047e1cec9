"""Model-Agnostic Meta-Learning for RL (Finn, Abbeel & Levine 2017, arXiv:1703.03400, Alg. 3).

Each meta-iteration:
1. draw a meta-batch of training tasks (seeded, checkpointed: `sampler.py`);
2. spread them over the rollout workers: each worker sets its env to the task, collects
   pre-adaptation trajectories with theta, takes `inner_steps` policy-gradient steps of size
   `alpha` on its own policy copy and collects post-adaptation trajectories (`adaptation.py`);
3. the learner recomputes theta'_i = theta - alpha grad L_i(theta) from the same trajectories
   (functional parameters, differentiable: second order unless `first_order`) and updates theta
   on the post-adaptation loss, by Adam (`outer: adam`, lr beta) or by a TRPO step (`outer: trpo`,
   the paper's choice: KL(pi_theta'_old || pi_theta') <= max_kl, averaged over tasks).
Every `eval_every` iterations the held-out test tasks are adapted with `eval_inner_steps` steps
and reported (`evaluation.py`).

`inner_steps: 0` trains one policy on all training tasks at once (the paper's "pretrained"
baseline); zero iterations is the "random initialisation" baseline: both are then adapted at test
time exactly like the meta-learned policy.
Deviations: the pre-adaptation trajectories' dependence on theta is ignored in the outer gradient
(as in the paper's code; DiCE/ProMP add it); the notes' version copies modules and has no
meta-gradient at all (see curriculum-inventory U2.10).
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field
from torch.distributions import kl_divergence
from torch.func import functional_call
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from trainfleet import results
from trainfleet.rl.core.algorithm import RunContext, ensure_finite
from trainfleet.rl.core.conjugate_gradient import conjugate_gradient
from trainfleet.rl.core.rollout_buffer import Rollout
from trainfleet.rl.envs.tasks import Task
from trainfleet.rl.meta.adaptation import (
    MetaPolicy,
    MetaPolicyConfig,
    Params,
    PGBatch,
    adapt,
    adapt_and_sample,
    log_prob,
    maml_objective,
    mean_episode_return,
    pg_batch,
    pg_loss,
    policy_params,
)
from trainfleet.rl.meta.base import MetaAlgorithm, MetaHparams
from trainfleet.rl.meta.evaluation import adaptation_metrics


class MAMLHparams(MetaHparams):
    alpha: float = Field(0.1, gt=0, description="inner SGD step size (notes: 0.01; Finn et al. 2D nav: 0.1)")
    inner_steps: int = Field(1, ge=0, description="inner steps during meta-training (0 = pretrain on all tasks)")
    eval_inner_steps: int = Field(5, ge=1, description="inner steps on held-out tasks at evaluation")
    first_order: bool = Field(False, description="drop the second-order term (FOMAML)")
    outer: Literal["adam", "trpo"] = Field("adam", description="outer optimiser")
    lr: float = Field(1.0e-3, gt=0, description="outer Adam learning rate beta (notes: 0.001)")
    max_kl: float = Field(0.01, gt=0, description="TRPO outer step: KL limit")
    cg_iters: int = Field(10, ge=1, description="TRPO outer step: conjugate gradient iterations")
    damping: float = Field(0.1, ge=0, description="TRPO outer step: Fisher damping")
    backtracks: int = Field(10, ge=1, description="TRPO outer step: line search halvings")
    meta_batch: int = Field(20, ge=1, description="tasks per meta-iteration (notes: 10)")
    n_steps: int = Field(100, ge=1, description="steps per env per rollout; env.num_envs = trajectories per task")
    gamma: float = Field(0.99, ge=0, le=1, description="discount factor")
    norm_adv: bool = Field(False, description="normalise each task's advantages (fixes the inner step's length)")
    hidden: list[int] = Field([64, 64], description="policy MLP widths (notes: 64-64)")
    activation: Literal["tanh", "relu", "elu", "gelu", "silu"] = Field("tanh", description="MLP activation")
    log_std_init: float = Field(0.0, description="initial log std of a Gaussian policy (match it to the action scale)")


class TaskRollouts:
    """One task's rollouts, pre-adaptation first, as the learner's policy-gradient batches."""

    def __init__(self, rollouts: list[Rollout], gamma: float, normalize: bool) -> None:
        self.rollouts = rollouts
        self.batches: list[PGBatch] = [pg_batch(r, gamma, normalize) for r in rollouts]


class MAML(MetaAlgorithm):
    Hparams = MAMLHparams
    model: MetaPolicy

    def __init__(self, ctx: RunContext) -> None:
        hp = ctx.hparams
        super().__init__(ctx, MetaPolicyConfig(hidden=tuple(hp.hidden), activation=hp.activation,
                                               log_std_init=hp.log_std_init))
        self.optimizer = torch.optim.Adam(self.model.policy_parameters(), lr=hp.lr)

    # ---- rollouts on the workers ---------------------------------------------------------------
    def gather(self, tasks: list[Task], steps: int) -> list[TaskRollouts]:
        """Each task's pre- and post-adaptation rollouts, tasks dealt round-robin to the workers."""
        self.pool.set_weights(self.model)
        hp = self.hp
        jobs = [(task, steps, hp.n_steps, hp.alpha, hp.gamma, hp.norm_adv) for task in tasks]
        return [TaskRollouts(r, hp.gamma, hp.norm_adv) for r in self.pool.map(adapt_and_sample, jobs)]

    # ---- ALGO LOGIC ----------------------------------------------------------------------------
    def adapted(self, params: Params, task: TaskRollouts, steps: int) -> Params:
        inner = [pg_loss(self.model, b) for b in task.batches[:steps]]
        return adapt(params, inner, self.hp.alpha, self.hp.first_order)

    def meta_loss(self, tasks: list[TaskRollouts]) -> torch.Tensor:
        """Mean post-adaptation policy-gradient loss: its gradient is the MAML meta-gradient."""
        k = self.hp.inner_steps
        objective = [([pg_loss(self.model, b) for b in t.batches[:k]], pg_loss(self.model, t.batches[k])) for t in tasks]
        return maml_objective(policy_params(self.model), objective, self.hp.alpha, self.hp.first_order)

    def adam_step(self, tasks: list[TaskRollouts]) -> dict[str, float]:
        loss = self.meta_loss(tasks)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {results.loss_key("meta"): loss.item()}

    def trpo_step(self, tasks: list[TaskRollouts]) -> dict[str, float]:
        """Natural-gradient step on the post-adaptation surrogate, KL measured after adaptation."""
        hp, k = self.hp, self.hp.inner_steps
        params = list(policy_params(self.model).values())
        post = [t.batches[k] for t in tasks]
        old = [_frozen_dist(self.model, _no_graph(self.adapted, policy_params(self.model), t, k), b)
               for t, b in zip(tasks, post)]

        def surrogate_and_kl(create_graph: bool) -> tuple[torch.Tensor, torch.Tensor]:
            theta = policy_params(self.model)
            surr, kl = [], []
            for t, b, old_dist in zip(tasks, post, old):
                adapted = self.adapted(theta, t, k) if create_graph else _no_graph(self.adapted, theta, t, k)
                dist = functional_call(self.model, adapted, (b.obs,))
                surr.append((torch.exp(log_prob(dist, b.actions) - b.logp) * b.advantages).mean())
                kl.append(_summed(kl_divergence(old_dist, dist)).mean())
            return torch.stack(surr).mean(), torch.stack(kl).mean()

        surr, kl = surrogate_and_kl(create_graph=True)
        g = parameters_to_vector(torch.autograd.grad(surr, params, retain_graph=True))
        kl_grad = parameters_to_vector(torch.autograd.grad(kl, params, create_graph=True))

        def fisher_vector(v: torch.Tensor) -> torch.Tensor:
            return parameters_to_vector(torch.autograd.grad(kl_grad.dot(v), params, retain_graph=True)) + hp.damping * v

        x = conjugate_gradient(fisher_vector, g, hp.cg_iters)
        step = torch.sqrt(2 * hp.max_kl / (x.dot(fisher_vector(x)) + 1e-12)) * x
        theta_old = parameters_to_vector(params).detach()
        accepted, new_surr, new_kl = 0.0, surr.item(), 0.0
        for j in range(hp.backtracks):
            with torch.no_grad():
                vector_to_parameters(theta_old + 0.5**j * step, params)
            s, d = surrogate_and_kl(create_graph=False)
            if d.item() <= hp.max_kl and s.item() > surr.item():
                accepted, new_surr, new_kl = 0.5**j, s.item(), d.item()
                break
        else:
            with torch.no_grad():
                vector_to_parameters(theta_old, params)
        return {results.loss_key("meta"): -new_surr, "approx_kl": new_kl, "step_fraction": accepted}

    # ---- END ALGO LOGIC ------------------------------------------------------------------------

    def meta_iteration(self) -> dict[str, float]:
        t0 = time.perf_counter()
        tasks = self.gather(self.sampler.meta_batch(self.hp.meta_batch), self.hp.inner_steps)
        sample_s = time.perf_counter() - t0
        self.env_steps += sum(r.num_steps for t in tasks for r in t.rollouts)
        losses = self.trpo_step(tasks) if self.hp.outer == "trpo" else self.adam_step(tasks)
        ensure_finite(meta=losses[results.loss_key("meta")])
        return {
            "train_return_pre": float(np.mean([mean_episode_return(t.rollouts[0]) for t in tasks])),
            "train_return_adapted": float(np.mean([mean_episode_return(t.rollouts[-1]) for t in tasks])),
            "time_sample_s": sample_s, "time_learn_s": time.perf_counter() - t0 - sample_s, **losses,
        }

    def evaluate(self) -> dict[str, float]:
        """Adapt to every held-out test task; returns before and after each adaptation step."""
        tasks = self.gather(self.sampler.test, self.hp.eval_inner_steps)
        stages = zip(*[[mean_episode_return(r) for r in t.rollouts] for t in tasks])
        return adaptation_metrics(list(stages))

    # ---- acting, state --------------------------------------------------------------------------
    @torch.no_grad()
    def act(self, obs: Any) -> Any:
        """The meta-learned (pre-adaptation) policy's deterministic action."""
        action = self.model.act(torch.as_tensor(np.asarray(obs)[None]))[0].numpy()
        if self.model.discrete:
            return int(action)
        return np.clip(action, self.pool.action_space.low, self.pool.action_space.high)


def _summed(kl: torch.Tensor) -> torch.Tensor:
    """Per-sample KL: a diagonal Gaussian's is the sum over action dimensions."""
    return kl.sum(-1) if kl.dim() > 1 else kl


@torch.no_grad()
def _frozen_dist(model: MetaPolicy, params: Params, batch: PGBatch) -> torch.distributions.Distribution:
    return functional_call(model, params, (batch.obs,))


def _no_graph(fn: Any, *args: Any) -> Params:
    """The adapted parameters as plain values (line search: no meta-gradient needed)."""
    with torch.enable_grad():
        return {k: v.detach() for k, v in fn(*args).items()}
