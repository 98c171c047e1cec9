"""MPC: model-predictive control on a learned dynamics model (seed L2759–2833), PETS and SimpleMBRL.

The loop of the notes: collect experience -> fit the model -> plan with it -> collect more.
  1. the first `random_episodes` episodes act uniformly at random (a model needs data first:
     the notes' SimpleMBRL planned with an unfitted model);
  2. every env step, the planner (`planners.py`) scores candidate action sequences by their
     imagined return under the model and the first action of the best one is executed; the
     next step plans again (receding horizon);
  3. at each episode's end, the model's one-step and k-step errors are measured on that
     episode (data it has not been trained on), then it is refitted on *all* the data so far
     (SimpleMBRL refitted on the last episode only).
With `model: {probabilistic: true, members: 5}`, the CEM planner and `particles` > 0 this is
PETS (Chua et al. 2018): each candidate is rolled out by `particles` particles, particle p
propagated by ensemble member p mod members with sampled next states (trajectory sampling,
TS-∞), and scored by the mean return over its particles.

`known_reward` / `known_termination` give the planner the task's reward and termination rule
(`known.py`), as PETS does, instead of the model's reward head; the dynamics are always learned.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from pydantic import Field, model_validator

from trainfleet import results
from trainfleet.errors import SpecError
from trainfleet.rl.core.algorithm import Algorithm, Hparams, RunContext
from trainfleet.rl.core.episodes import EpisodeWindow
from trainfleet.rl.core.learner import configure_threads
from trainfleet.rl.core.replay import ReplayBuffer
from trainfleet.rl.core.wrappers import single_env
from trainfleet.rl.model_based import known
from trainfleet.rl.model_based.models import (
    Dynamics,
    DynamicsHparams,
    Transitions,
    build_model,
    holdout_errors,
)
from trainfleet.rl.model_based.planners import Planner, PlannerHparams, make_planner


class MPCHparams(Hparams):
    model: DynamicsHparams = Field(default_factory=DynamicsHparams, description="the learned dynamics model")
    planner: PlannerHparams = Field(default_factory=PlannerHparams, description="the action-sequence optimiser")
    particles: int = Field(0, ge=0, le=1000, description="trajectory-sampling particles per candidate, a multiple "
                           "of model.members; 0 = one per member")
    known_reward: bool = Field(False, description="plan with the env's reward function (known.py) instead of the learned one")
    known_termination: bool = Field(False, description="stop imagined rollouts by the env's termination rule (known.py)")
    random_episodes: int = Field(1, ge=1, description="episodes of uniform random actions before the first fit")
    buffer_size: int = Field(100_000, ge=1, description="transitions kept for model fitting")
    steps_per_iteration: int = Field(200, ge=1, description="env steps per reported iteration")
    episode_window: int = Field(5, ge=1, description="episodes in the running mean of episode return")
    error_horizon: int = Field(5, ge=1, description="k of the k-step model error metric")

    @model_validator(mode="after")
    def _particles_per_member(self) -> MPCHparams:
        if self.particles % self.model.members:
            raise ValueError(f"particles ({self.particles}) must be a multiple of model.members ({self.model.members})")
        if self.planner.kind == "cem" and self.planner.elites > self.planner.candidates:
            raise ValueError("planner.elites must not exceed planner.candidates")
        return self


def encode_actions(actions: torch.Tensor, space: gym.Space) -> torch.Tensor:
    """The model's action input: one-hot for Discrete actions, the float vector for Box."""
    if isinstance(space, gym.spaces.Discrete):
        return torch.nn.functional.one_hot(actions.long(), int(space.n)).float()
    return actions.float()


def action_dim(space: gym.Space) -> int:
    if isinstance(space, gym.spaces.Discrete):
        return int(space.n)
    assert isinstance(space, gym.spaces.Box), "model-based control plans Box or Discrete actions"
    return int(np.prod(space.shape))


def imagined_returns(model: Dynamics, obs: np.ndarray, seqs: torch.Tensor, space: gym.Space, particles: int,
                     reward_fn: known.RewardFn | None, termination_fn: known.TerminationFn | None,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """Mean imagined return of each candidate sequence over its particles: one batched model call per step.

    Rows are laid out (members, k·N): row b of member m is candidate b mod N, so each of a candidate's
    particles = members·k keeps one member for the whole rollout.
    """
    n, members = len(seqs), model.members
    k = max(1, particles // members)
    raw = seqs.repeat(k, *([1] * (seqs.dim() - 1)))
    enc = encode_actions(raw, space)
    s = torch.as_tensor(obs, dtype=torch.float32).expand(members, k * n, -1)
    total = torch.zeros(members, k * n)
    alive = torch.ones(members, k * n)
    for t in range(seqs.shape[1]):
        nxt, r = model.step(s, enc[:, t].expand(members, -1, -1), generator)
        if reward_fn is not None:
            r = reward_fn(s, raw[:, t].float(), nxt)
        total += alive * r
        if termination_fn is not None:
            alive = alive * (~termination_fn(nxt)).float()
        s = nxt
    return torch.nan_to_num(total, nan=-float("inf")).reshape(members * k, n).mean(0)


class MPC(Algorithm):
    Hparams = MPCHparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        configure_threads(1)
        torch.manual_seed(ctx.seed)
        hp = self.hp
        problem = self.job_problem(ctx.env_id, ctx.num_envs, hp)
        if problem:
            raise SpecError(problem[1], path=problem[0])
        self.env = single_env(ctx.env_id, ctx.env_kwargs)
        self.obs_space, self.action_space = self.env.observation_space, self.env.action_space
        self.require_spaces(self.obs_space, self.action_space)
        assert isinstance(self.obs_space, gym.spaces.Box)  # space_problem: a 1-D Box
        self.reward_fn = known.REWARDS[ctx.env_id] if hp.known_reward else None
        self.termination_fn = known.TERMINATIONS[ctx.env_id] if hp.known_termination else None
        self.model: Dynamics = build_model(int(np.prod(self.obs_space.shape)), action_dim(self.action_space),
                                           hp.model, ctx.seed)
        self.planner: Planner = make_planner(hp.planner, self.action_space, ctx.seed + 1)
        self.replay = ReplayBuffer(hp.buffer_size, self.obs_space, self.action_space, ctx.seed + 2)
        self.window = EpisodeWindow(hp.episode_window)
        self.action_space.seed(ctx.seed + 3)
        self.obs, _ = self.env.reset(seed=ctx.seed)
        self.episode: list[tuple[np.ndarray, Any, np.ndarray]] = []
        self.episode_return = 0.0
        self.env_steps = 0
        self.fitted = False
        self.model_metrics: dict[str, float] = {}
        self.planned_return = float("nan")

    @classmethod
    def job_problem(cls, env_id: str, num_envs: int, hparams: Any) -> tuple[str, str] | None:
        if num_envs != 1:
            return "env.num_envs", f"{cls.__name__.lower()} plans for one env at a time: set env.num_envs to 1"
        for field, table in (("known_reward", known.REWARDS), ("known_termination", known.TERMINATIONS)):
            if getattr(hparams, field) and env_id not in table:
                what, have = field.split("_")[1], ", ".join(sorted(table))
                return f"hparams.{field}", f"no known {what} function for {env_id}; those with one: {have}. Set {field}: false to learn it"
        return None

    @classmethod
    def space_problem(cls, observation_space: gym.Space, action_space: gym.Space) -> str | None:
        if not (isinstance(observation_space, gym.spaces.Box) and len(observation_space.shape) == 1):
            return f"{cls.__name__.lower()} learns dynamics of vector (1-D Box) observations"
        if not isinstance(action_space, (gym.spaces.Box, gym.spaces.Discrete)):
            return f"{cls.__name__.lower()} plans Box or Discrete actions"
        return None

    # ---- ALGORITHM LOGIC ----------------------------------------------------------------------
    def plan(self, obs: np.ndarray) -> Any:
        """Receding horizon: the first action of the best imagined sequence from `obs`."""
        hp = self.hp

        def score(seqs: torch.Tensor) -> torch.Tensor:
            return imagined_returns(self.model, obs, seqs, self.action_space, hp.particles, self.reward_fn,
                                    self.termination_fn, self.planner.generator)

        action, self.planned_return = self.planner.plan(score)
        return int(action) if isinstance(self.action_space, gym.spaces.Discrete) else action

    def transitions(self, data: dict[str, np.ndarray] | None = None) -> Transitions:
        """Model training data: the replay's contents, or those of a saved replay state."""
        data = data or self.replay.get_state()
        t = torch.as_tensor
        return Transitions(t(data["obs"]), encode_actions(t(data["actions"]), self.action_space),
                           t(data["rewards"]), t(data["next_obs"]))

    def end_episode(self) -> None:
        """Measure the model on the episode it has not seen, then refit it on everything."""
        if self.fitted:
            obs, actions, nxt = (np.array(x) for x in zip(*self.episode))
            enc = encode_actions(torch.as_tensor(actions), self.action_space).numpy()
            starts = np.zeros(len(obs), bool)
            starts[0] = True
            self.model_metrics.update(holdout_errors(self.model, obs, enc, nxt, starts, self.hp.error_horizon))
        self.window.add([self.episode_return], [len(self.episode)])
        if self.window.episodes >= self.hp.random_episodes:
            self.model_metrics.update(self.model.fit(self.transitions()))
            self.fitted = True
        self.episode, self.episode_return = [], 0.0
        self.planner.reset()
    # ---- END ALGORITHM LOGIC ------------------------------------------------------------------

    def train_iteration(self) -> dict[str, float]:
        for _ in range(self.hp.steps_per_iteration):
            action = self.plan(self.obs) if self.fitted else self.action_space.sample()
            next_obs, reward, terminated, truncated, _ = self.env.step(action)
            self.replay.add(self.obs[None], np.asarray(action)[None], np.array([reward]), next_obs[None],
                            np.array([terminated]))
            self.episode.append((self.obs, action, next_obs))
            self.episode_return += float(reward)
            self.env_steps += 1
            self.obs = next_obs
            if terminated or truncated:
                self.end_episode()
                self.obs, _ = self.env.reset()
        return {results.ENV_STEPS: self.env_steps, "episode_return_mean": self.window.return_mean(),
                "episode_len_mean": self.window.len_mean(), "episodes": self.window.episodes,
                "planned_return": self.planned_return, **self.model_metrics}

    def act(self, obs: Any) -> Any:
        return self.plan(np.asarray(obs, dtype=np.float32))

    # ---- state --------------------------------------------------------------------------------
    def get_state(self) -> dict[str, Any]:
        """Model weights and data; the env restarts its episode on resume (an episode is short)."""
        state: dict[str, Any] = {"replay": self.replay.get_state(), "window": self.window.get_state(),
                                 "counters": {"env_steps": self.env_steps, "fitted": self.fitted},
                                 "planner_rng": self.planner.generator.get_state()}
        if isinstance(self.model, torch.nn.Module):
            state["model"] = self.model.state_dict()
            state["model_optimizer"] = self.model.optimizer.state_dict()
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        self.replay.set_state(state["replay"])
        self.window.set_state(state["window"])
        self.env_steps, self.fitted = state["counters"]["env_steps"], state["counters"]["fitted"]
        self.planner.generator.set_state(state["planner_rng"])
        if isinstance(self.model, torch.nn.Module):
            self.model.load_state_dict(state["model"])
            self.model.optimizer.load_state_dict(state["model_optimizer"])
        elif self.fitted:  # a GP is its data: fit it again
            self.model.fit(self.transitions())
        self.episode, self.episode_return = [], 0.0
        self.obs, _ = self.env.reset()

    def load_policy(self, state: dict[str, Any]) -> None:
        """What planning needs: the model (a GP refitted from the saved data, which is not kept)."""
        self.fitted = state["counters"]["fitted"]
        if isinstance(self.model, torch.nn.Module):
            self.model.load_state_dict(state["model"])
        elif self.fitted:
            self.model.fit(self.transitions(state["replay"]))

    def close(self) -> None:
        self.env.close()
