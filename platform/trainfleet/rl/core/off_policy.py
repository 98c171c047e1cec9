"""What DQN, DDPG and TD3 share: collect into replay, then take gradient steps from it.

The loop (the same in SB3 and CleanRL): step the envs `train_freq` times with the
behaviour policy, store the transitions, then -- once `learning_starts` transitions are in
the buffer -- take `gradient_steps` updates on minibatches sampled from replay. Before
`learning_starts` actions are uniformly random, which fills the buffer with diverse data.

Experience comes from a vector env in the trial process (`rollout_workers: 0`, fastest
for cheap envs and exactly resumable) or streams from the rollout worker pool
(`rl/core/workers.py`): each worker rolls out `train_freq` steps with its copy of the
exploration policy, the learner adds them to replay, trains in proportion and sends that
worker fresh weights.

An algorithm subclasses `OffPolicyAlgorithm` and supplies its exploration policy
(`behaviour`, an nn.Module that also runs on workers), `update` (one gradient step: the
algorithm's math) and `networks` (what to checkpoint). Everything else -- envs, workers,
replay, episode statistics, counters, exact checkpoints -- lives here once. The deterministic
actor, the Q(s, a) critic and their bundle used by DDPG and TD3 are in
`rl/core/deterministic_actor_critic.py`.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from pydantic import Field, field_validator
from torch import nn

from trainfleet import results
from trainfleet.fields import Width
from trainfleet.rl.core.algorithm import Algorithm, Hparams, RunContext, ensure_finite
from trainfleet.rl.core.checkpoint import optimizer_lr
from trainfleet.rl.core.episodes import EpisodeTracker
from trainfleet.rl.core.learner import configure_threads, learner_device
from trainfleet.rl.core.replay import ReplayBuffer, ReplaySample
from trainfleet.rl.core.schedules import Schedule, set_lr
from trainfleet.rl.core.workers import EnvConfig, PolicyBuilder, WorkerPool
from trainfleet.rl.core.wrappers import env_state, make_vec_env, set_env_state


class OffPolicyHparams(Hparams):
    gamma: float = Field(0.99, ge=0, le=1, description="discount")
    lr: float | Schedule = Field(
        1e-3, description="Adam learning rate: a number, or a schedule over env steps "
        "({schedule: linear, start: 1e-3, end: 1e-5, steps: 100000}); decaying it keeps a learned policy stable",
    )
    buffer_size: int = Field(100_000, ge=1, description="replay capacity (transitions)")
    batch_size: int = Field(128, ge=1, description="minibatch size per gradient step")
    learning_starts: int = Field(1000, ge=0, description="env steps of random actions before learning")
    train_freq: int = Field(1, ge=1, description="env steps collected between gradient phases")
    gradient_steps: int = Field(1, ge=1, description="gradient steps per phase")
    hidden: list[Width] = Field(default_factory=lambda: [256, 256], description="hidden layer widths")
    steps_per_iteration: int = Field(1000, ge=1, description="env steps per reported iteration")
    episode_window: int = Field(100, ge=1, description="episodes in the running mean of episode return")

    @field_validator("lr")
    @classmethod
    def _positive_lr(cls, lr: float | Schedule) -> float | Schedule:
        values = (lr.start, lr.end) if isinstance(lr, Schedule) else (lr,)
        if min(values) < 0 or values[0] == 0:
            raise ValueError("the learning rate must start above 0 and never go below 0")
        return lr


def adam(params: Any, lr: float) -> torch.optim.Adam:
    """Adam with the fused kernel: one op for all parameters. On CPU torch's default is a
    Python loop over tensors, which measured ~3x slower per step for these small networks."""
    return torch.optim.Adam(params, lr=lr, fused=True)


class OffPolicyAlgorithm(Algorithm):
    """Collection, replay and bookkeeping for replay-based learners (see the module doc).

    A subclass sets `self.behaviour` (an nn.Module with `explore(obs, generator, random=False,
    **kwargs) -> (actions, {})`, the exploration policy) and implements `update`, `networks`,
    `explore_kwargs` and `worker_policy`.
    """

    Hparams = OffPolicyHparams
    behaviour: nn.Module

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        configure_threads(1)
        torch.manual_seed(ctx.seed)
        self.device = learner_device(ctx.resources)
        self.num_workers = getattr(ctx.resources, "rollout_workers", 0) if ctx.resources is not None else 0
        env = EnvConfig(ctx.env_id, dict(ctx.env_kwargs), ctx.num_envs)
        if self.num_workers == 0:
            self.pool: WorkerPool | None = None
            self.envs = make_vec_env(env.env_id, env.kwargs, env.num_envs, ctx.seed)
            self.obs_space, self.action_space = self.envs.single_observation_space, self.envs.single_action_space
            self.obs, _ = self.envs.reset(seed=ctx.seed)
            # NEXT_STEP autoreset: an env that ended is reset by its next step, which is no transition
            self.resetting = np.zeros(ctx.num_envs, bool)
        else:
            cpus = getattr(ctx.resources, "cpus_per_worker", 1.0)
            self.pool = WorkerPool(env, self.worker_policy(), self.num_workers, ctx.seed, cpus)
            self.obs_space, self.action_space = self.pool.observation_space, self.pool.action_space
        self.require_spaces(self.obs_space, self.action_space)
        self.tracker = EpisodeTracker(ctx.num_envs, self.hp.episode_window)
        self.rng = np.random.default_rng(ctx.seed)
        self.torch_rng = torch.Generator(self.device).manual_seed(ctx.seed)
        self.replay = self.make_replay()
        self.env_steps = 0
        self.gradient_steps = 0
        self._next_train = self.hp.train_freq
        self._update_credit = 0.0

    @classmethod
    def memory_needed(cls, hparams: Any, observation_space: gym.Space, action_space: gym.Space) -> int:
        return ReplayBuffer.nbytes(hparams.buffer_size, observation_space, action_space)

    # ---- what an algorithm provides -------------------------------------------------------
    def make_replay(self) -> ReplayBuffer:
        """Uniform replay; DQN swaps in prioritized replay when asked."""
        return ReplayBuffer(self.hp.buffer_size, self.obs_space, self.action_space, self.ctx.seed + 1, self.device)

    def worker_policy(self) -> PolicyBuilder:
        """Picklable builder of `behaviour` for rollout workers (called before the subclass's init)."""
        raise NotImplementedError

    def explore_kwargs(self, remote: bool) -> dict[str, Any]:
        """Keyword arguments of `behaviour.explore` now (epsilon, noise...); `remote`: for a worker."""
        return {}

    def update(self, batch: ReplaySample) -> dict[str, torch.Tensor]:
        """One gradient step; returns detached loss terms (averaged into the iteration's metrics)."""
        raise NotImplementedError

    def networks(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        """Modules and optimisers whose state_dicts a checkpoint holds."""
        raise NotImplementedError

    def replay_beta(self) -> float:
        """Importance-sampling exponent for prioritized replay (unused by uniform replay)."""
        return 1.0

    def episodes_ended(self, ended: np.ndarray) -> None:
        """Hook for per-episode state (e.g. resetting OU noise); `ended` is a mask over envs."""

    def extra_metrics(self) -> dict[str, float]:
        return {}

    def learning_rate(self) -> float:
        """The learning rate now: `lr`, or its schedule's value at the current env step."""
        lr = self.hp.lr
        return lr.value(self.env_steps) if isinstance(lr, Schedule) else lr

    def stepped_lr(self) -> float:
        """The learning rate of the latest gradient phase, read from the optimiser (after any restore)."""
        return next(optimizer_lr(p) for p in self.networks().values() if isinstance(p, torch.optim.Optimizer))

    def _apply_learning_rate(self) -> None:
        """Set the learning rate (the number, or the schedule's value now) on every optimiser before a
        gradient phase: a restored optimiser state never decides it (PBT's perturbed `lr` takes effect)."""
        set_lr((p for p in self.networks().values() if isinstance(p, torch.optim.Optimizer)), self.learning_rate())

    # ---- collection -------------------------------------------------------------------------
    @property
    def learning(self) -> bool:
        return self.env_steps >= self.hp.learning_starts

    def behave(self, obs: np.ndarray) -> np.ndarray:
        """Exploration actions in this process (uniformly random before learning_starts)."""
        kwargs = self.explore_kwargs(remote=False) if self.learning else {"random": True}
        with torch.no_grad():
            actions, _ = self.behaviour.explore(self.obs_tensor(obs), self.torch_rng, **kwargs)
        return actions.cpu().numpy()

    def collect_step(self) -> None:
        """One vector-env step in this process; stores the valid transitions."""
        actions = self.behave(self.obs)
        next_obs, rewards, terminated, truncated, _ = self.envs.step(actions)
        valid = ~self.resetting
        if valid.all():
            self.replay.add(self.obs, actions, rewards, next_obs, terminated)
        else:
            self.replay.add(self.obs[valid], actions[valid], rewards[valid], next_obs[valid], terminated[valid])
        ended = (terminated | truncated) & valid
        self.tracker.step(rewards, valid, ended)
        if ended.any():
            self.episodes_ended(ended)
        self.resetting = ended
        self.obs = next_obs
        self.env_steps += int(valid.sum())

    def train(self, losses: dict[str, list[torch.Tensor]], n: int | None = None) -> None:
        """One burst of `n` updates (default `gradient_steps`) on replay minibatches."""
        self._apply_learning_rate()
        n = self.hp.gradient_steps if n is None else n
        for batch in self.replay.sample_burst(n, self.hp.batch_size, self.replay_beta()):
            terms = self.update(batch)
            self.gradient_steps += 1
            for k, v in terms.items():
                losses.setdefault(k, []).append(v)

    def _iterate_local(self, stop_at: int, losses: dict[str, list[torch.Tensor]]) -> None:
        while self.env_steps < stop_at:
            self.collect_step()
            if self.env_steps >= self._next_train:
                self._next_train = self.env_steps + self.hp.train_freq
                if self.learning:
                    self.train(losses)

    def _iterate_streaming(self, stop_at: int, losses: dict[str, list[torch.Tensor]]) -> None:
        """Workers roll out while the learner trains; each returning worker gets fresh weights.

        The learner keeps the ratio of gradient steps to env steps of the local loop
        (gradient_steps per train_freq) by banking credit per arriving transition. Every request
        is collected before the iteration ends, so a checkpoint never misses transitions in flight.
        """
        assert self.pool is not None
        hp, pool = self.hp, self.pool
        steps = max(1, hp.train_freq // self.ctx.num_envs)
        for w in range(len(pool.workers)):
            pool.submit(w, steps, weights=self.behaviour, act_kwargs=self._worker_kwargs())
        outstanding = len(pool.workers)
        while outstanding:
            for done in pool.wait(num_returns=1):
                outstanding -= 1
                t = done.rollout.transitions()
                self.replay.add(t["obs"], t["actions"], t["rewards"], t["next_obs"], t["terminated"])
                self.tracker.add(done.rollout.episode_returns, done.rollout.episode_lengths)
                self.env_steps += done.rollout.num_steps
                if self.env_steps < stop_at:
                    pool.submit(done.worker, steps, weights=self.behaviour, act_kwargs=self._worker_kwargs())
                    outstanding += 1
                if self.learning:
                    self._update_credit += done.rollout.num_steps * hp.gradient_steps / hp.train_freq
            if self._update_credit >= 1:  # credit only accrues once learning has started
                burst = int(self._update_credit)
                self._update_credit -= burst
                self.train(losses, burst)

    def _worker_kwargs(self) -> dict[str, Any]:
        return self.explore_kwargs(remote=True) if self.learning else {"random": True}

    def train_iteration(self) -> dict[str, float]:
        stop_at = self.env_steps + self.hp.steps_per_iteration
        losses: dict[str, list[torch.Tensor]] = {}
        if self.pool is None:
            self._iterate_local(stop_at, losses)
        else:
            self._iterate_streaming(stop_at, losses)
        metrics: dict[str, float] = {results.ENV_STEPS: self.env_steps, **self.tracker.report()}
        for k, vs in losses.items():
            metrics[results.loss_key(k)] = float(torch.stack(vs).mean())
        ensure_finite(**{k: metrics[results.loss_key(k)] for k in losses})
        metrics["gradient_steps"] = self.gradient_steps
        metrics["replay_size"] = len(self.replay)
        metrics["lr"] = self.stepped_lr()
        if self.pool is not None:
            metrics["worker_restarts"] = self.pool.restarts
        metrics.update(self.extra_metrics())
        return metrics

    # ---- state ------------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        state = {
            "networks": {k: v.state_dict() for k, v in self.networks().items()},
            "replay": self.replay.get_state(),
            "tracker": self.tracker.get_state(),
            "rng": self.rng.bit_generator.state,
            "torch_rng": self.torch_rng.get_state(),
            "counters": {"env_steps": self.env_steps, "gradient_steps": self.gradient_steps,
                         "next_train": self._next_train, "update_credit": self._update_credit},
            "extra": self.extra_state(),
        }
        if self.pool is None:
            state["envs"] = {"env": env_state(self.envs), "obs": np.array(self.obs), "resetting": self.resetting.copy()}
        else:
            state["workers"] = self.pool.get_state()
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        for k, v in self.networks().items():
            v.load_state_dict(state["networks"][k])
        self.replay.set_state(state["replay"])
        if self.pool is None and "envs" in state:
            set_env_state(self.envs, state["envs"]["env"])
            self.obs, self.resetting = state["envs"]["obs"].copy(), state["envs"]["resetting"].copy()
        elif self.pool is not None and "workers" in state:
            self.pool.set_state(state["workers"])
        self.tracker.set_state(state["tracker"])
        self.rng.bit_generator.state = state["rng"]
        self.torch_rng.set_state(state["torch_rng"])
        c = state["counters"]
        self.env_steps, self.gradient_steps = c["env_steps"], c["gradient_steps"]
        self._next_train, self._update_credit = c["next_train"], c["update_credit"]
        self.set_extra_state(state["extra"])

    def load_policy(self, state: dict[str, Any]) -> None:
        for k, v in self.networks().items():
            if isinstance(v, nn.Module):  # the optimisers only matter for training on
                v.load_state_dict(state["networks"][k])

    def extra_state(self) -> dict[str, Any]:
        return {}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def obs_tensor(self, obs: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(obs, device=self.device)

    def close(self) -> None:
        if self.pool is None:
            self.envs.close()
        else:
            self.pool.close()
