"""Stable-Baselines3 backend (`backend: sb3`): SB3's PPO, A2C, DQN, SAC and TD3 behind the Runner seam.

One platform iteration is `steps_per_iteration` env steps of SB3's own loop
(`model.learn(n, reset_num_timesteps=False)`), so the trial loop's stop rules, checkpoint cadence
and metric names apply unchanged. Hyperparameters are SB3's constructor argument names with SB3's
defaults, so SB3's documentation applies as is; the jobs set the RL-Zoo values.

Checkpoints are data, not code: SB3's `.zip` holds pickled objects, so it is never written into a
run directory or read from one. `save` writes the tensors of SB3's `get_parameters()` (policy and
optimisers), its few torch variables (SAC's entropy coefficient) and the filled part of the replay
buffer with `torch.save` (read back `weights_only`), and the counters as JSON; `restore` loads them
into a freshly built model, which is also what `trainfleet eval` does.

SB3 is an optional extra (`pip install -e '.[sb3]'`) imported only when a runner is built:
`validate` and `list` read the `Hparams` alone.
"""

from __future__ import annotations

import importlib
import json
import math
from pathlib import Path
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np
from pydantic import Field

from trainfleet import results
from trainfleet.devices import torch_device
from trainfleet.errors import UserError
from trainfleet.fields import Width
from trainfleet.rl.core.algorithm import Hparams, RunContext, ensure_finite
from trainfleet.rl.core.checkpoint import load_state, save_state, weights_fit
from trainfleet.rl.core.episodes import EpisodeWindow
from trainfleet.rl.core.wrappers import single_env

COUNTERS_FILE = "sb3.json"
FORMAT = 1
# SB3 logger keys (train/...) -> the platform's `loss_<term>` names
LOSS_NAMES = {
    "policy_gradient_loss": "policy",  # PPO
    "policy_loss": "policy",  # A2C
    "value_loss": "value",
    "entropy_loss": "entropy",
    "loss": "total",  # PPO's total; DQN's TD loss
    "actor_loss": "actor",
    "critic_loss": "critic",
    "ent_coef_loss": "alpha",
}
ACTIVATIONS = {"tanh": "Tanh", "relu": "ReLU", "elu": "ELU", "leaky_relu": "LeakyReLU", "silu": "SiLU", "gelu": "GELU"}
# Hparams fields that are the platform's, not SB3 constructor arguments
PLATFORM_FIELDS = {"steps_per_iteration", "net_arch", "activation_fn", "schedule_steps", "action_noise_sigma"}
REPLAY_ARRAYS = ("observations", "next_observations", "actions", "rewards", "dones", "timeouts")


class SB3Hparams(Hparams):
    """What every SB3 algorithm here takes; names are SB3's constructor arguments."""

    steps_per_iteration: int = Field(2048, ge=1, description="env steps of `model.learn` per platform iteration")
    learning_rate: float = Field(3e-4, gt=0, description="Adam learning rate (RMSProp for A2C)")
    gamma: float = Field(0.99, ge=0, le=1, description="discount")
    net_arch: list[Width] | None = Field(None, description="hidden layer widths (None: SB3's default for the algorithm)")
    activation_fn: Literal["tanh", "relu", "elu", "leaky_relu", "silu", "gelu"] | None = Field(
        None, description="hidden activation (None: SB3's default, tanh on-policy, relu off-policy)")
    stats_window_size: int = Field(100, ge=1, description="episodes in the running mean of episode return")

    def policy_kwargs(self) -> dict[str, Any]:
        import torch

        kwargs: dict[str, Any] = {}
        if self.net_arch is not None:
            kwargs["net_arch"] = list(self.net_arch)
        if self.activation_fn is not None:
            kwargs["activation_fn"] = getattr(torch.nn, ACTIVATIONS[self.activation_fn])
        return kwargs

    def constructor_args(self) -> dict[str, Any]:
        """Keyword arguments for the SB3 algorithm's constructor."""
        args = {k: v for k, v in self.model_dump().items() if k not in PLATFORM_FIELDS}
        return {**args, "policy_kwargs": self.policy_kwargs()}


class OnPolicyHparams(SB3Hparams):
    """What PPO and A2C share (SB3's OnPolicyAlgorithm arguments)."""

    n_steps: int = Field(2048, ge=1, description="steps per env per rollout")
    gae_lambda: float = Field(0.95, ge=0, le=1, description="GAE lambda (1 = plain n-step returns)")
    ent_coef: float = Field(0.0, ge=0, description="entropy bonus weight")
    vf_coef: float = Field(0.5, ge=0, description="value loss weight")
    max_grad_norm: float = Field(0.5, gt=0, description="global gradient-norm clip")
    normalize_advantage: bool = Field(True, description="normalise advantages (per minibatch for PPO)")


class PPOHparams(OnPolicyHparams):
    batch_size: int = Field(64, ge=2, description="minibatch size")
    n_epochs: int = Field(10, ge=1, description="passes over each rollout")
    clip_range: float = Field(0.2, gt=0, description="clip range of the probability ratio")
    target_kl: float | None = Field(None, gt=0, description="stop an update's epochs early past this KL")


class A2CHparams(OnPolicyHparams):
    learning_rate: float = Field(7e-4, gt=0, description="learning rate")
    steps_per_iteration: int = Field(1000, ge=1, description="env steps of `model.learn` per platform iteration")
    n_steps: int = Field(5, ge=1, description="steps per env per update (n of n-step returns)")
    gae_lambda: float = Field(1.0, ge=0, le=1, description="1 = plain n-step returns")
    normalize_advantage: bool = Field(False, description="normalise advantages per batch")
    use_rms_prop: bool = Field(True, description="RMSProp (else Adam)")
    rms_prop_eps: float = Field(1e-5, gt=0, description="RMSProp epsilon")


class OffPolicyHparams(SB3Hparams):
    steps_per_iteration: int = Field(1000, ge=1, description="env steps of `model.learn` per platform iteration")
    buffer_size: int = Field(1_000_000, ge=1, description="replay capacity (env steps)")
    learning_starts: int = Field(100, ge=0, description="env steps before the first gradient step")
    batch_size: int = Field(256, ge=1, description="replayed transitions per gradient step")
    tau: float = Field(0.005, gt=0, le=1, description="soft target update rate (1 = hard copy)")
    train_freq: int = Field(1, ge=1, description="env steps between training phases")
    gradient_steps: int = Field(1, ge=-1, description="gradient steps per training phase (-1: as many as env steps)")


class DQNHparams(OffPolicyHparams):
    learning_rate: float = Field(1e-4, gt=0, description="Adam learning rate")
    batch_size: int = Field(32, ge=1, description="replayed transitions per gradient step")
    tau: float = Field(1.0, gt=0, le=1, description="target update rate (1 = hard copy)")
    train_freq: int = Field(4, ge=1, description="env steps between gradient phases")
    target_update_interval: int = Field(10_000, ge=1, description="env steps between target updates")
    exploration_fraction: float = Field(0.1, ge=0, le=1, description="share of schedule_steps over which epsilon decays")
    exploration_initial_eps: float = Field(1.0, ge=0, le=1, description="epsilon at the start")
    exploration_final_eps: float = Field(0.05, ge=0, le=1, description="epsilon after the decay")
    max_grad_norm: float = Field(10.0, gt=0, description="global gradient-norm clip")
    schedule_steps: int = Field(100_000, ge=1, description="env steps of the whole run that SB3's progress "
                                "schedules (the epsilon decay) span; SB3 would restart them at every learn() call")


class SACHparams(OffPolicyHparams):
    ent_coef: float | Literal["auto"] = Field("auto", description="entropy temperature, or auto (tuned)")
    target_entropy: float | Literal["auto"] = Field("auto", description="entropy target of the tuning (auto: -action dims)")
    target_update_interval: int = Field(1, ge=1, description="gradient steps between target updates")


class TD3Hparams(OffPolicyHparams):
    learning_rate: float = Field(1e-3, gt=0, description="Adam learning rate")
    policy_delay: int = Field(2, ge=1, description="critic updates per actor update")
    target_policy_noise: float = Field(0.2, ge=0, description="target policy smoothing noise std")
    target_noise_clip: float = Field(0.5, ge=0, description="clip of the smoothing noise")
    action_noise_sigma: float = Field(0.1, ge=0, description="Gaussian exploration noise std, as a share of the "
                                      "action range's half-width (SB3's NormalActionNoise); 0 = none")


class SB3Runner:
    """The Runner for `backend: sb3`; subclasses set `Hparams` and `sb3_class`."""

    Hparams: ClassVar[type[SB3Hparams]] = SB3Hparams
    sb3_class: ClassVar[str] = ""  # the class's name in stable_baselines3
    action_spaces: ClassVar[tuple[type[gym.Space], ...]] = (gym.spaces.Discrete, gym.spaces.Box)

    @classmethod
    def space_problem(cls, observation_space: gym.Space, action_space: gym.Space) -> str | None:
        """What the SB3 algorithm needs of the env's spaces and they lack (see Algorithm.space_problem)."""
        if isinstance(observation_space, gym.spaces.Box) and len(observation_space.shape) > 1:
            return "the sb3 backend builds SB3's MlpPolicy, which needs flat (1-D) observations"
        if not isinstance(action_space, cls.action_spaces):
            kinds = " or ".join(space.__name__ for space in cls.action_spaces)
            return f"{cls.sb3_class.lower()} (sb3) needs a {kinds} action space"
        return None

    @classmethod
    def memory_needed(cls, hparams: Any, observation_space: gym.Space, action_space: gym.Space) -> int:
        return 0

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.hp = ctx.hparams
        self.window = EpisodeWindow(self.hp.stats_window_size)
        sb3 = _import_sb3()
        import torch

        torch.set_num_threads(1)
        from stable_baselines3.common.logger import Logger
        from stable_baselines3.common.monitor import Monitor
        from stable_baselines3.common.vec_env import DummyVecEnv

        def make() -> gym.Env:
            return Monitor(single_env(ctx.env_id, ctx.env_kwargs))

        self.venv = DummyVecEnv([make] * ctx.num_envs)
        algo_cls = getattr(sb3, self.sb3_class)
        self.model = algo_cls("MlpPolicy", self.venv, seed=ctx.seed, verbose=0,
                              device=torch_device(ctx.resources.learner_gpus), **self.extra_args(),
                              **self.hp.constructor_args())
        self.model.set_logger(Logger(folder=None, output_formats=[]))  # values read after learn(), written nowhere
        self.callback = _episode_callback(self.window)

    def extra_args(self) -> dict[str, Any]:
        """Constructor arguments built from platform fields (action noise)."""
        return {}

    # -- Runner protocol -----------------------------------------------------------

    def train_iteration(self) -> dict[str, Any]:
        episodes_before = self.window.episodes
        self.model.learn(self.hp.steps_per_iteration, callback=self.callback, reset_num_timesteps=False)
        logged = dict(self.model.logger.name_to_value)
        self.model.logger.dump()  # clears the values (no output formats)
        out: dict[str, Any] = {
            results.ENV_STEPS: int(self.model.num_timesteps),
            results.EPISODES: self.window.episodes,
            results.EPISODE_RETURN_MEAN: self.window.return_mean() if self.window.episodes > episodes_before else math.nan,
            results.EPISODE_LEN_MEAN: self.window.len_mean() if self.window.episodes > episodes_before else math.nan,
        }
        losses = {term: float(logged[f"train/{key}"]) for key, term in LOSS_NAMES.items() if f"train/{key}" in logged}
        ensure_finite(**losses)
        out.update({results.loss_key(term): value for term, value in losses.items()})
        for key, name in (("train/learning_rate", "lr"), ("train/ent_coef", "alpha"), ("rollout/exploration_rate", "epsilon")):
            if key in logged:
                out[name] = float(logged[key])
        return out

    def save(self, directory: Path) -> None:
        names = self.model._get_torch_save_params()[1]  # SB3's torch variables beside its state dicts
        tensors = {
            "parameters": self.model.get_parameters(),
            "variables": {name: _attr(self.model, name).detach().cpu().clone() for name in names},
            **self.extra_state(),
        }
        save_state(directory, tensors)
        counters = {"format": FORMAT, "num_timesteps": int(self.model.num_timesteps),
                    "n_updates": int(self.model._n_updates), "episode_num": int(self.model._episode_num),
                    "window": self.window.get_state(), **self.extra_counters()}
        (directory / COUNTERS_FILE).write_text(json.dumps(counters))

    def restore(self, directory: Path) -> None:
        """Training state into the freshly built model: resume continues from it. A checkpoint that does not
        fit the spec's model (other shapes, missing entries) is a UserError naming it."""
        state = load_state(directory)
        counters = results.read_json(directory / COUNTERS_FILE)
        if not isinstance(counters, dict) or counters.get("format") != FORMAT:
            raise UserError(f"{directory / COUNTERS_FILE}: not an sb3 checkpoint of format {FORMAT}")
        with weights_fit(directory):
            self.load_policy(state)
            for name, tensor in state["variables"].items():
                _attr(self.model, name).data.copy_(tensor)
            self.model.num_timesteps = counters["num_timesteps"]
            self.model._n_updates = counters["n_updates"]
            self.model._episode_num = counters["episode_num"]
            self.window.set_state(counters["window"])
            self.set_extra_state(state, counters)

    def load_policy(self, state: dict[str, Any]) -> None:
        """SB3's `get_parameters()` tensors of a `save`: the policy (what `eval` acts with) and its optimisers,
        all of them required, so a checkpoint of another model fails here."""
        self.model.set_parameters(state["parameters"], exact_match=True, device=self.model.device)

    def extra_state(self) -> dict[str, Any]:
        return {}

    def extra_counters(self) -> dict[str, Any]:
        return {}

    def set_extra_state(self, state: dict[str, Any], counters: dict[str, Any]) -> None:
        """Inverse of extra_state/extra_counters."""

    def act(self, obs: Any) -> Any:
        action, _ = self.model.predict(np.asarray(obs), deterministic=True)
        if isinstance(self.venv.action_space, gym.spaces.Discrete):
            return int(action)
        return np.asarray(action)

    def close(self) -> None:
        self.venv.close()


class SB3OffPolicy(SB3Runner):
    """The replay-based algorithms: the filled part of the replay buffer travels with the checkpoint."""

    @classmethod
    def memory_needed(cls, hparams: Any, observation_space: gym.Space, action_space: gym.Space) -> int:
        """Observations twice (SB3 keeps next_observations), actions, reward/done/timeout, as float32."""
        obs = int(np.prod(observation_space.shape or (1,)))
        act = int(np.prod(action_space.shape or (1,)))
        return int(hparams.buffer_size) * (2 * obs + act + 3) * 4

    def extra_state(self) -> dict[str, Any]:
        buffer = self.model.replay_buffer
        filled = buffer.buffer_size if buffer.full else buffer.pos
        return {"replay": {name: np.array(getattr(buffer, name)[:filled]) for name in REPLAY_ARRAYS
                           if getattr(buffer, name, None) is not None}}

    def extra_counters(self) -> dict[str, Any]:
        buffer = self.model.replay_buffer
        return {"replay_pos": int(buffer.pos), "replay_full": bool(buffer.full)}

    def set_extra_state(self, state: dict[str, Any], counters: dict[str, Any]) -> None:
        buffer = self.model.replay_buffer
        for name, saved in state["replay"].items():
            target = getattr(buffer, name)
            if saved.shape[1:] != target.shape[1:] or len(saved) > len(target):
                raise ValueError(f"replay {name} of shape {saved.shape} does not fit the buffer's {target.shape}")
            target[: len(saved)] = saved
        buffer.pos, buffer.full = counters["replay_pos"], counters["replay_full"]


class SB3PPO(SB3Runner):
    """SB3 PPO."""

    Hparams = PPOHparams
    sb3_class = "PPO"


class SB3A2C(SB3Runner):
    """SB3 A2C."""

    Hparams = A2CHparams
    sb3_class = "A2C"


class SB3DQN(SB3OffPolicy):
    """SB3 DQN; its epsilon decay spans `schedule_steps` of the whole run, not one learn() call."""

    Hparams = DQNHparams
    sb3_class = "DQN"
    action_spaces = (gym.spaces.Discrete,)

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        horizon = self.hp.schedule_steps
        model = self.model

        def progress(num_timesteps: int, total_timesteps: int) -> None:
            model._current_progress_remaining = max(0.0, 1.0 - num_timesteps / horizon)

        model._update_current_progress_remaining = progress

    def extra_counters(self) -> dict[str, Any]:
        return {**super().extra_counters(), "n_calls": int(self.model._n_calls)}

    def set_extra_state(self, state: dict[str, Any], counters: dict[str, Any]) -> None:
        super().set_extra_state(state, counters)
        self.model._n_calls = counters["n_calls"]


class SB3SAC(SB3OffPolicy):
    """SB3 soft actor-critic."""

    Hparams = SACHparams
    sb3_class = "SAC"
    action_spaces = (gym.spaces.Box,)


class SB3TD3(SB3OffPolicy):
    """SB3 TD3, with Gaussian exploration noise."""

    Hparams = TD3Hparams
    sb3_class = "TD3"
    action_spaces = (gym.spaces.Box,)

    def extra_args(self) -> dict[str, Any]:
        from stable_baselines3.common.noise import NormalActionNoise

        if self.hp.action_noise_sigma == 0:
            return {}
        space = self.venv.action_space
        assert isinstance(space, gym.spaces.Box)  # space_problem
        half = (space.high - space.low) / 2.0
        return {"action_noise": NormalActionNoise(np.zeros(space.shape), self.hp.action_noise_sigma * half)}


def _attr(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _import_sb3() -> Any:
    try:
        return importlib.import_module("stable_baselines3")
    except ImportError:
        raise UserError("backend: sb3 needs Stable-Baselines3: pip install -e '.[sb3]'") from None


def _episode_callback(window: EpisodeWindow) -> Any:
    """An SB3 callback feeding every finished episode (Monitor's `episode` info) into `window`."""
    from stable_baselines3.common.callbacks import BaseCallback

    class EpisodeCallback(BaseCallback):
        def _on_step(self) -> bool:
            for info in self.locals.get("infos", ()):
                episode = info.get("episode")
                if episode is not None:
                    window.add([float(episode["r"])], [int(episode["l"])])
            return True

    return EpisodeCallback()
