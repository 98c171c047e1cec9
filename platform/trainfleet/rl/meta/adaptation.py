"""Gradient-based adaptation (MAML, Finn et al. 2017) with functional parameters.

Parameters are a dict {name: tensor} evaluated through `torch.func.functional_call`, so an
adapted policy theta' = theta - alpha grad L(theta) is a new dict, never a module copy, and
the outer loss can differentiate through it:

- second order: the inner gradient is built with `create_graph=True`, so the meta-gradient
  carries the (I - alpha Hessian) factor of the chain rule;
- first order (FOMAML, `first_order: true`): the inner gradient is a constant, the Hessian
  term is dropped and the meta-gradient is the outer gradient at theta'.

The inner loss is the policy-gradient loss -E[log pi(a|s) A] on one task's trajectories, with A
the discounted return minus a linear feature baseline fitted to that task's own returns (Duan et
al. 2016, as Finn et al. use). A rollout worker runs the same inner step on its policy copy to
collect post-adaptation trajectories (`adapt_and_sample`); the learner recomputes it from the
same data, differentiably.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch
from torch.func import functional_call

from trainfleet.rl.core.actor_critic import ActorCritic, ActorCriticConfig
from trainfleet.rl.core.rollout_buffer import Rollout, discounted_returns
from trainfleet.rl.envs.tasks import Task, assign_tasks

Params = dict[str, torch.Tensor]
Loss = Callable[[Params], torch.Tensor]


# ---- the meta-gradient, for any differentiable losses --------------------------------------------
def inner_step(loss: Loss, params: Params, alpha: float, first_order: bool) -> Params:
    """theta - alpha grad loss(theta); differentiable in theta unless first order."""
    grads = torch.autograd.grad(loss(params), list(params.values()), create_graph=not first_order)
    return {name: p - alpha * g for (name, p), g in zip(params.items(), grads)}


def adapt(params: Params, inner_losses: Sequence[Loss], alpha: float, first_order: bool) -> Params:
    """One inner step per loss, in order (step k uses data gathered with the step-k policy)."""
    for loss in inner_losses:
        params = inner_step(loss, params, alpha, first_order)
    return params


def maml_objective(params: Params, tasks: Sequence[tuple[Sequence[Loss], Loss]], alpha: float,
                   first_order: bool) -> torch.Tensor:
    """Mean over tasks of outer_loss(adapt(theta, inner_losses)): the quantity MAML minimises."""
    outer = [outer_loss(adapt(params, inner, alpha, first_order)) for inner, outer_loss in tasks]
    return torch.stack(outer).mean()


# ---- the policy ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class MetaPolicyConfig(ActorCriticConfig):
    critic: bool = False  # the baseline is fitted per task, not learned across tasks

    def __call__(self, obs_space: gym.Space, act_space: gym.Space) -> MetaPolicy:
        return MetaPolicy(obs_space, act_space, self)


class MetaPolicy(ActorCritic):
    """The on-policy actor whose forward is its action distribution, for `functional_call`."""

    def forward(self, obs: torch.Tensor) -> torch.distributions.Distribution:
        return self.distribution(obs)


def log_prob(dist: torch.distributions.Distribution, actions: torch.Tensor) -> torch.Tensor:
    logp = dist.log_prob(actions)
    return logp.sum(-1) if isinstance(dist, torch.distributions.Normal) else logp


def policy_params(model: ActorCritic) -> Params:
    """The actor's parameters by name (an ActorCritic built without a critic still has its torso)."""
    actor = {id(p) for p in model.policy_parameters()}
    return {name: p for name, p in model.named_parameters() if id(p) in actor}


# ---- one task's data -----------------------------------------------------------------------------
class PGBatch(NamedTuple):
    """The valid steps of one task's rollout: what its policy-gradient loss needs."""

    obs: torch.Tensor
    actions: torch.Tensor
    advantages: torch.Tensor
    logp: torch.Tensor  # log pi_old(a|s) as recorded by the worker (TRPO's ratio)


def linear_baseline(obs: np.ndarray, steps: np.ndarray, returns: np.ndarray, reg: float = 1e-5) -> np.ndarray:
    """Least-squares fit of returns on [s, s^2, t, t^2, t^3, 1] (rllab's LinearFeatureBaseline)."""
    o = np.clip(obs.reshape(len(obs), -1), -10, 10)
    t = steps[:, None] / 100.0
    x = np.concatenate([o, o**2, t, t**2, t**3, np.ones_like(t)], axis=1)
    coef = np.linalg.solve(x.T @ x + reg * np.eye(x.shape[1]), x.T @ returns)
    return x @ coef


def episode_steps(rollout: Rollout) -> np.ndarray:
    """[T, N] time index of each step within its episode (0 at an episode's first step)."""
    steps = np.zeros(rollout.valid.shape, np.float64)
    count = np.zeros(rollout.valid.shape[1])
    for t in range(len(steps)):
        count = np.where(rollout.valid[t], count, 0.0)
        steps[t] = count
        count = count + 1
    return steps


def pg_batch(rollout: Rollout, gamma: float, normalize: bool) -> PGBatch:
    """Returns minus the fitted baseline (optionally normalised).

    An episode still running when the rollout ends counts with the rewards seen so far, as a
    path cut at rllab's max_path_length (Finn et al.'s sampler): size n_steps to the episodes.
    """
    mask = rollout.valid
    returns = discounted_returns(rollout.rewards, rollout.terminated, rollout.truncated, gamma)[mask]
    adv = returns - linear_baseline(rollout.obs[mask], episode_steps(rollout)[mask], returns)
    if normalize:
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    return PGBatch(
        torch.as_tensor(rollout.obs[mask]), torch.as_tensor(rollout.actions[mask]),
        torch.as_tensor(adv, dtype=torch.float32), torch.as_tensor(rollout.extras["logp"][mask]),
    )


def pg_loss(model: torch.nn.Module, batch: PGBatch) -> Loss:
    """L(theta) = -E[log pi_theta(a|s) A] on `batch`, as a function of the parameters."""
    def loss(params: Params) -> torch.Tensor:
        return -(log_prob(functional_call(model, params, (batch.obs,)), batch.actions) * batch.advantages).mean()
    return loss


def mean_episode_return(rollout: Rollout) -> float:
    return float(np.mean(rollout.episode_returns)) if rollout.episode_returns else float("nan")


# ---- on a rollout worker -------------------------------------------------------------------------
def adapt_and_sample(worker: Any, task: Task, steps: int, n_steps: int, alpha: float, gamma: float,
                     normalize: bool) -> list[Rollout]:
    """On a RolloutWorker: switch to `task`, roll out, then `steps` times adapt and roll out again.

    Returns the steps + 1 rollouts (pre-adaptation first). Each starts with fresh episodes; the
    worker's own weights are put back afterwards, ready for the next task.
    """
    assign_tasks(worker.env, [task] * worker.obs.shape[0])
    policy = worker.policy
    meta_params = {k: v.detach().clone() for k, v in policy_params(policy).items()}
    worker.reset()
    rollouts = [worker.sample(n_steps)]
    for _ in range(steps):
        adapted = inner_step(pg_loss(policy, pg_batch(rollouts[-1], gamma, normalize)), policy_params(policy), alpha, True)
        _load(policy, adapted)
        worker.reset()
        rollouts.append(worker.sample(n_steps))
    _load(policy, meta_params)
    return rollouts


@torch.no_grad()
def _load(model: torch.nn.Module, params: Params) -> None:
    own = dict(model.named_parameters())
    for name, value in params.items():
        own[name].copy_(value)
