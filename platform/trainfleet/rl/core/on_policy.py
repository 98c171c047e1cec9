"""What the on-policy algorithms share: the worker pool, the actor-critic, batches, state.

REINFORCE, A2C, PPO and TRPO differ only in `update(rollout)`: the loss math, which stays in
their own files. This base (SB3's `OnPolicyAlgorithm`) collects a rollout with the latest
weights, turns it into a flat batch of valid steps with advantages, keeps episode statistics
and saves/restores everything a resumed run needs to continue bit-for-bit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch
from pydantic import Field

from trainfleet import results
from trainfleet.fields import Width
from trainfleet.rl.core.actor_critic import ActorCritic, ActorCriticConfig
from trainfleet.rl.core.algorithm import Algorithm, Hparams, RunContext
from trainfleet.rl.core.checkpoint import optimizer_lr, restore_optimizer
from trainfleet.rl.core.episodes import EpisodeWindow
from trainfleet.rl.core.learner import configure_threads, learner_device
from trainfleet.rl.core.normalize import RewardScaler
from trainfleet.rl.core.rollout_buffer import Rollout, complete_episodes, discounted_returns, gae
from trainfleet.rl.core.workers import EnvConfig, WorkerPool


class OnPolicyHparams(Hparams):
    gamma: float = Field(0.99, ge=0, le=1, description="discount factor")
    n_steps: int = Field(128, ge=1, description="vector steps per env per iteration (batch = n_steps x envs)")
    lr: float = Field(3.0e-4, gt=0, description="Adam learning rate (typically 1e-4 .. 3e-3)")
    hidden: list[Width] = Field([64, 64], description="hidden layer widths of actor and critic MLPs")
    activation: str = Field("tanh", pattern="^(tanh|relu|elu|gelu|silu)$", description="MLP activation")
    max_grad_norm: float = Field(0.5, gt=0, description="gradient clipping by global norm")
    normalize_obs: bool = Field(False, description="running mean/std observation normalisation")
    normalize_reward: bool = Field(False, description="scale rewards by the running std of the return")
    episode_window: int = Field(100, ge=1, description="episodes in the running episode_return_mean")


class Batch(NamedTuple):
    """Flat valid steps of a rollout, on the learner's device."""

    obs: torch.Tensor
    actions: torch.Tensor
    logp: torch.Tensor  # log pi_old(a|s) recorded by the worker
    advantages: torch.Tensor
    returns: torch.Tensor  # value targets
    values: torch.Tensor  # V_old(s)


class OnPolicyAlgorithm(Algorithm):
    """Base of the synchronous on-policy algorithms: subclasses implement `update`."""

    Hparams = OnPolicyHparams

    @classmethod
    def space_problem(cls, observation_space: gym.Space, action_space: gym.Space) -> str | None:
        if isinstance(action_space, gym.spaces.Discrete):
            return None
        if isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1:
            return None
        return f"{cls.__name__.lower()} needs Discrete or 1-D Box actions"

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        configure_threads(1)
        self.device = learner_device(ctx.resources)
        torch.manual_seed(ctx.seed)
        res = ctx.resources
        self.policy_config = ActorCriticConfig(
            hidden=tuple(self.hp.hidden), activation=self.hp.activation, normalize_obs=self.hp.normalize_obs,
            critic=self.uses_critic(),
        )
        self.pool = WorkerPool(
            EnvConfig(ctx.env_id, dict(ctx.env_kwargs), ctx.num_envs),
            self.policy_config,
            num_workers=res.rollout_workers if res is not None else 0,
            seed=ctx.seed,
            cpus_per_worker=res.cpus_per_worker if res is not None else 1.0,
        )
        self.require_spaces(self.pool.observation_space, self.pool.action_space)
        self.model: ActorCritic = self.policy_config(self.pool.observation_space, self.pool.action_space).to(self.device)
        self.reward_scaler = RewardScaler(self.pool.num_envs, self.hp.gamma, self.hp.normalize_reward)
        self.generator = torch.Generator().manual_seed(ctx.seed)  # minibatch order
        self.window = EpisodeWindow(self.hp.episode_window)
        self.env_steps = 0
        self.timings = {"sample_s": 0.0, "transfer_s": 0.0, "learn_s": 0.0}

    # ---- subclass API ---------------------------------------------------------------------------
    def uses_critic(self) -> bool:
        """Whether the network has a value head (REINFORCE without a baseline has none)."""
        return True

    def update(self, rollout: Rollout) -> dict[str, float]:
        """One learning step on a fresh rollout; returns loss metrics."""
        raise NotImplementedError

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Optimisers whose state must be checkpointed, by name."""
        raise NotImplementedError

    # ---- the iteration --------------------------------------------------------------------------
    def collect(self) -> Rollout:
        """Broadcast the current weights, gather one rollout from every worker."""
        t0 = time.perf_counter()
        self.pool.set_weights(self.model)
        rollout = self.pool.sample(self.hp.n_steps)
        self.record_episodes(rollout)
        wall = time.perf_counter() - t0
        self.timings["sample_s"] += rollout.sample_s
        self.timings["transfer_s"] += max(wall - rollout.sample_s, 0.0)
        return rollout

    def record_episodes(self, rollout: Rollout) -> None:
        self.env_steps += rollout.num_steps
        self.window.add(rollout.episode_returns, rollout.episode_lengths, rollout.episode_costs)

    def train_iteration(self) -> dict[str, float]:
        rollout = self.collect()
        t0 = time.perf_counter()
        metrics = self.update(rollout)
        self.model.obs_norm.update(self.tensor(rollout.obs[rollout.valid]))  # used from the next rollout on
        self.timings["learn_s"] += time.perf_counter() - t0
        lr = optimizer_lr(next(iter(self.optimizers().values())))  # as stepped with, after any restore
        return {**self.episode_metrics(), "lr": lr, **metrics}

    def episode_metrics(self) -> dict[str, float]:
        return {
            results.ENV_STEPS: self.env_steps,
            results.EPISODES: self.window.episodes,
            results.EPISODE_RETURN_MEAN: self.window.return_mean(),
            results.EPISODE_LEN_MEAN: self.window.len_mean(),
            **self.window.cost_metrics(),
            "worker_restarts": self.pool.restarts,
            **{f"time_{k}": v for k, v in self.timings.items()},
        }

    # ---- batches --------------------------------------------------------------------------------
    def tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(array, device=self.device)

    @torch.no_grad()
    def values_of(self, rollout: Rollout, value: Callable[[torch.Tensor], torch.Tensor] | None = None,
                  ) -> tuple[np.ndarray, np.ndarray]:
        """(V(obs[t]), V(state after step t)) as [T, N] arrays, in one forward pass (of the model's
        critic, or of `value`: a cost critic)."""
        t, n = rollout.rewards.shape
        flat = np.concatenate([rollout.obs.reshape(t * n, *rollout.obs.shape[2:]), rollout.next_obs])
        v = (value or self.model.value)(self.tensor(flat)).float().cpu().numpy()
        values = v[: t * n].reshape(t, n)
        return values, np.concatenate([values[1:], v[t * n:][None]], axis=0)

    def batch(self, rollout: Rollout, lam: float) -> Batch:
        """GAE(lam) advantages and value targets, then the valid steps flattened."""
        values, next_values = self.values_of(rollout)
        rewards = self.reward_scaler(rollout.rewards, rollout.dones)
        adv, ret = gae(rewards, values, next_values, rollout.terminated, rollout.truncated, self.hp.gamma, lam)
        return self._flat(rollout, rollout.valid, adv, ret, values)

    def mc_batch(self, rollout: Rollout) -> Batch | None:
        """Monte Carlo value targets G_t (the discounted sum to the episode's end; a time-limit cut
        bootstraps V of the final state) and advantages G_t - V(s_t), on the steps whose episode ended
        inside the rollout; None when none did (the tail is used once its episode ends)."""
        values, next_values = self.values_of(rollout)
        rewards = self.reward_scaler(rollout.rewards, rollout.dones)
        ret = discounted_returns(rewards, rollout.terminated, rollout.truncated, self.hp.gamma, next_values)
        mask = complete_episodes(rollout)
        return self._flat(rollout, mask, ret - values, ret, values) if mask.any() else None

    def _flat(self, rollout: Rollout, mask: np.ndarray, adv: np.ndarray, ret: np.ndarray, values: np.ndarray) -> Batch:
        return Batch(
            obs=self.tensor(rollout.obs[mask]),
            actions=self.tensor(rollout.actions[mask]),
            logp=self.tensor(rollout.extras["logp"][mask]),
            advantages=self.tensor(adv[mask].astype(np.float32)),
            returns=self.tensor(ret[mask].astype(np.float32)),
            values=self.tensor(values[mask].astype(np.float32)),
        )

    # ---- acting, state --------------------------------------------------------------------------
    @torch.no_grad()
    def act(self, obs: Any) -> Any:
        action = self.model.act(self.tensor(np.asarray(obs)[None]))[0].cpu().numpy()
        if self.model.discrete:
            return int(action)
        space = self.pool.action_space
        return np.clip(action, space.low, space.high)

    def get_state(self) -> dict[str, Any]:
        return {
            "model": {k: v.cpu() for k, v in self.model.state_dict().items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers().items()},
            "pool": self.pool.get_state(),
            "reward_scaler": self.reward_scaler.get_state(),
            "generator": self.generator.get_state(),
            "episode_window": self.window.get_state(),
            "env_steps": self.env_steps,
            "extra": self.extra_state(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        for name, opt in self.optimizers().items():
            restore_optimizer(opt, state["optimizers"][name])
        self.pool.set_state(state["pool"])
        self.reward_scaler.set_state(state["reward_scaler"])
        self.generator.set_state(state["generator"])
        self.window.set_state(state["episode_window"])
        self.env_steps = state["env_steps"]
        self.set_extra_state(state["extra"])

    def load_policy(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])  # observation normalisation included

    def extra_state(self) -> dict[str, Any]:
        """Algorithm-specific counters beyond the shared ones (e.g. a schedule's progress)."""
        return {}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        self.pool.close()
