"""RLlib backend (`backend: rllib`): a job spec becomes an RLlib new-API-stack `AlgorithmConfig`.

One base class, `RLlibRunner`, does everything the five algorithms share: env
registration, env runners and learner device from `resources`, seeding, the rename of
RLlib's result dict to the platform's metric names, checkpoints and greedy actions for
`trainfleet eval`. Each algorithm below only names its config class and its typed
hyperparameters, which are RLlib's own `training()` / model-config argument names with
defaults that work on CartPole (Pendulum for SAC), so RLlib's documentation applies as is.

Why `episode_return_mean` is recomputed here: RLlib reports the mean over the episodes that
ended *in this iteration* (and a mean of means across env runners). The platform's metric is
a running mean over the last `episode_window` episodes, as the native algorithms report it, so
the two backends can be compared and stopped on the same number. A small episode-end
callback ships every finished episode's return and length back with the results.

RLlib is imported lazily: `trainfleet validate` and `list` load the `Hparams` only.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import json
import math
import shutil
import tempfile
from pathlib import Path
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np
from pydantic import Field, model_validator

from trainfleet import results
from trainfleet.devices import torch_device
from trainfleet.fields import Width
from trainfleet.rl import rllib_policy
from trainfleet.rl.core.algorithm import Hparams, RunContext
from trainfleet.rl.core.envs import make_env
from trainfleet.rl.core.episodes import EpisodeWindow

RLLIB_DIR = "rllib"  # the Algorithm's own checkpoint, inside the trial checkpoint directory
WINDOW_FILE = "episode_window.json"
EPISODE_RETURNS = "trainfleet_episode_returns"  # per-episode values shipped by the callback
EPISODE_LENGTHS = "trainfleet_episode_lengths"
# RLlib learner result keys -> the platform's `loss_<term>` names.
LOSS_NAMES = {
    "policy_loss": "policy",
    "vf_loss": "value",
    "total_loss": "total",
    "mean_kl_loss": "kl",
    "qf_loss": "q",
    "alpha_loss": "alpha",
}


REPORTING_FIELDS = ("min_sample_timesteps_per_iteration", "min_time_s_per_iteration")


class RLlibHparams(Hparams):
    """What every RLlib algorithm here takes; field names are RLlib's own."""

    gamma: float = Field(0.99, ge=0, le=1, description="discount")
    train_batch_size: int = Field(
        2000, ge=1, description="env steps per learner update (RLlib's train_batch_size_per_learner)"
    )
    fcnet_hiddens: list[Width] = Field(default_factory=lambda: [64, 64], description="hidden layer widths")
    fcnet_activation: Literal["tanh", "relu", "swish", "linear"] = Field("tanh", description="hidden activation")
    episode_window: int = Field(100, ge=1, description="episodes in the running mean of episode return")

    def rl_module_config(self) -> dict[str, Any]:
        """The fields that are RLlib `DefaultModelConfig` settings."""
        from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

        names = {f.name for f in dataclasses.fields(DefaultModelConfig)}
        return {k: v for k, v in self.model_dump().items() if k in names}

    def reporting_args(self) -> dict[str, Any]:
        """The fields that are `AlgorithmConfig.reporting()` settings (what one iteration is)."""
        return {k: v for k, v in self.model_dump().items() if k in REPORTING_FIELDS}

    def training_args(self) -> dict[str, Any]:
        """Keyword arguments for `AlgorithmConfig.training()`: everything else."""
        skip = {"episode_window", "train_batch_size", *self.rl_module_config(), *self.reporting_args()}
        args = {k: v for k, v in self.model_dump().items() if k not in skip}
        args["train_batch_size_per_learner"] = self.train_batch_size
        return args


class PPOHparams(RLlibHparams):
    lr: float = Field(1e-3, gt=0, description="Adam learning rate")
    lambda_: float = Field(1.0, ge=0, le=1, description="GAE lambda")
    clip_param: float = Field(0.3, gt=0, description="PPO clip range of the probability ratio")
    vf_loss_coeff: float = Field(0.01, ge=0, description="value loss weight (small: the torso is shared)")
    vf_clip_param: float = Field(10.0, gt=0, description="value-function loss clip")
    entropy_coeff: float = Field(0.0, ge=0, description="entropy bonus weight")
    use_kl_loss: bool = Field(True, description="adaptive KL penalty on top of the clip")
    num_epochs: int = Field(10, ge=1, description="passes over each train batch")
    minibatch_size: int = Field(500, ge=1, description="SGD minibatch size")
    fcnet_hiddens: list[Width] = Field(default_factory=lambda: [32], description="hidden layer widths")
    fcnet_activation: Literal["tanh", "relu", "swish", "linear"] = Field(
        "linear", description="hidden activation (RLlib's tuned CartPole PPO uses one linear layer)"
    )
    vf_share_layers: bool = Field(True, description="policy and value heads share the torso")

    @model_validator(mode="after")
    def _minibatch_fits(self) -> PPOHparams:
        if self.minibatch_size > self.train_batch_size:
            raise ValueError(f"minibatch_size {self.minibatch_size} exceeds train_batch_size {self.train_batch_size}")
        return self


class DQNHparams(RLlibHparams):
    """DQN with RLlib's Rainbow switches; the replay buffer fields become `replay_buffer_config`."""

    lr: float = Field(5e-4, gt=0, description="Adam learning rate")
    train_batch_size: int = Field(32, ge=1, description="replayed transitions per gradient step")
    double_q: bool = Field(True, description="double DQN target (online argmax, target value)")
    dueling: bool = Field(True, description="dueling value/advantage heads")
    n_step: int = Field(3, ge=1, description="n-step returns")
    prioritized_replay: bool = Field(True, description="prioritized experience replay (else uniform)")
    buffer_capacity: int = Field(50_000, ge=1, description="replay capacity (env steps)")
    per_alpha: float = Field(0.6, ge=0, description="PER priority exponent")
    per_beta: float = Field(0.4, ge=0, le=1, description="PER importance-sampling exponent")
    epsilon_final: float = Field(0.02, ge=0, le=1, description="final epsilon of the linear decay from 1.0")
    epsilon_timesteps: int = Field(10_000, ge=1, description="env steps of the epsilon decay")
    target_network_update_freq: int = Field(500, ge=1, description="env steps between target syncs")
    num_steps_sampled_before_learning_starts: int = Field(1000, ge=0, description="warm-up env steps")
    min_sample_timesteps_per_iteration: int = Field(1000, ge=1, description="env steps per reported iteration")
    training_intensity: float | None = Field(None, gt=0, description="trained/sampled step ratio (None: RLlib's)")
    fcnet_hiddens: list[Width] = Field(default_factory=lambda: [256], description="torso widths")
    head_fcnet_hiddens: list[Width] = Field(default_factory=lambda: [256], description="Q-head (value/advantage) widths")

    def training_args(self) -> dict[str, Any]:
        args = super().training_args()
        for key in ("prioritized_replay", "buffer_capacity", "per_alpha", "per_beta", "epsilon_final", "epsilon_timesteps"):
            del args[key]
        if self.prioritized_replay:
            buffer = {"type": "PrioritizedEpisodeReplayBuffer", "alpha": self.per_alpha, "beta": self.per_beta}
        else:
            buffer = {"type": "EpisodeReplayBuffer"}
        args["replay_buffer_config"] = {**buffer, "capacity": self.buffer_capacity}
        args["epsilon"] = [(0, 1.0), (self.epsilon_timesteps, self.epsilon_final)]
        if self.training_intensity is None:
            del args["training_intensity"]
        return args


class SACHparams(RLlibHparams):
    """SAC (RLlib's tuned Pendulum settings); the replay buffer fields become `replay_buffer_config`."""

    actor_lr: float = Field(2e-4, gt=0, description="policy learning rate")
    critic_lr: float = Field(8e-4, gt=0, description="Q-networks learning rate")
    alpha_lr: float = Field(9e-4, gt=0, description="entropy temperature learning rate")
    tau: float = Field(0.005, gt=0, le=1, description="soft target update rate")
    initial_alpha: float = Field(1.0, gt=0, description="initial entropy temperature")
    twin_q: bool = Field(True, description="clipped double-Q (two critics)")
    n_step: int = Field(1, ge=1, description="n-step returns")
    buffer_capacity: int = Field(100_000, ge=1, description="replay capacity (env steps)")
    num_steps_sampled_before_learning_starts: int = Field(256, ge=0, description="warm-up env steps")
    min_sample_timesteps_per_iteration: int = Field(1000, ge=1, description="env steps per reported iteration")
    train_batch_size: int = Field(256, ge=1, description="replayed transitions per gradient step")
    fcnet_hiddens: list[Width] = Field(default_factory=lambda: [256, 256], description="hidden layer widths")
    fcnet_activation: Literal["tanh", "relu", "swish", "linear"] = Field("relu", description="hidden activation")

    def training_args(self) -> dict[str, Any]:
        args = super().training_args()
        args["replay_buffer_config"] = {"type": "EpisodeReplayBuffer", "capacity": args.pop("buffer_capacity")}
        return args


class ImpalaHparams(RLlibHparams):
    """IMPALA: V-trace off-policy correction of actor-learner lag."""

    lr: float = Field(5e-4, gt=0, description="learning rate")
    train_batch_size: int = Field(500, ge=1, description="env steps per learner update")
    vf_loss_coeff: float = Field(0.05, ge=0, description="value loss weight")
    entropy_coeff: float = Field(0.0, ge=0, description="entropy bonus weight")
    vtrace_clip_rho_threshold: float = Field(1.0, gt=0, description="V-trace rho-bar (importance weight clip)")
    grad_clip: float = Field(40.0, gt=0, description="global gradient-norm clip")
    vf_share_layers: bool = Field(True, description="policy and value heads share the torso")
    min_time_s_per_iteration: float = Field(
        10.0, gt=0, description="seconds per reported iteration (sampling and learning run asynchronously)"
    )


class APPOHparams(ImpalaHparams):
    """APPO: IMPALA's asynchronous V-trace learner with PPO's clipped surrogate."""

    clip_param: float = Field(0.4, gt=0, description="clip range of the probability ratio")
    use_kl_loss: bool = Field(False, description="KL penalty against the target network")
    target_network_update_freq: int = Field(2, ge=1, description="learner updates between target syncs")


def _env_creator(env_id: str, env_config: dict[str, Any]) -> Any:
    """Runs in every env runner: builds the env with trainfleet's registrations in place."""
    return make_env(env_id, dict(env_config))


def _record_episode(*, episode: Any, metrics_logger: Any, prev_episode_chunks: Any = (), **_: Any) -> None:
    """Episode-end callback (in the env runners): ship the whole episode's return and length.

    `episode` is only the chunk sampled in this `sample()` call; earlier chunks of a long
    episode come as `prev_episode_chunks`.
    """
    chunks = [episode, *prev_episode_chunks]
    metrics_logger.log_value(EPISODE_RETURNS, float(sum(c.get_return() for c in chunks)), reduce="item_series")
    metrics_logger.log_value(EPISODE_LENGTHS, sum(len(c) for c in chunks), reduce="item_series")


def _config_lr_to_optimizers(learner: Any) -> None:
    """Runs on the learner after a restore: the config's learning rate back onto its optimisers.

    RLlib loads the optimiser's param groups (lr included) with the checkpoint and puts the
    config's lr back only after the next update, so the first update after a PBT exploit would
    step at the donor's rate (ray-project/ray#62173). Private Learner members: check them on
    every Ray upgrade.
    """
    for optimizer, schedule in learner._optimizer_lr_schedules.items():
        learner._set_optimizer_lr(optimizer, float(schedule.get_current_value()))


def _optimizer_lr(learner: Any) -> float:
    """Runs on the learner: the learning rate its (first) optimiser will step with."""
    module_id = next(iter(learner.module.keys()))
    (_, optimizer), *_ = learner.get_optimizers_for_module(module_id)
    return float(optimizer.param_groups[0]["lr"])


class RLlibRunner:
    """The Runner for `backend: rllib`; subclasses set `Hparams` and `config_class`.

    The Algorithm (and its env runner actors) is built on the first training call. `trainfleet
    eval` never builds this runner: it reads the weights-only policy files `save` writes.
    """

    Hparams: ClassVar[type[RLlibHparams]] = RLlibHparams
    config_class: ClassVar[str] = ""  # "module:ConfigClass"
    # submodules on the greedy path, each as its candidate names (rl/rllib_policy.py)
    greedy_path: ClassVar[tuple[tuple[str, ...], ...]] = (("encoder.actor_encoder", "encoder.encoder"), ("pi",))

    @classmethod
    def space_problem(cls, observation_space: gym.Space, action_space: gym.Space) -> str | None:
        """What the RLlib algorithm needs of the env's spaces and they lack (see Algorithm.space_problem)."""
        return None

    @classmethod
    def memory_needed(cls, hparams: Any, observation_space: gym.Space, action_space: gym.Space) -> int:
        """RLlib sizes its own buffers; trainfleet does not estimate them."""
        return 0

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.hp = ctx.hparams
        self.algo: Any = None
        self._module: Any = None
        self._pending_restore: Path | None = None
        self.window = EpisodeWindow(self.hp.episode_window)
        self._spaces: tuple[Any, Any] | None = None

    # -- building ------------------------------------------------------------------

    def env_name(self) -> str:
        return f"trainfleet/{self.ctx.env_id}"

    def algorithm_config(self) -> Any:
        """The RLlib AlgorithmConfig this job describes (not built)."""
        from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

        module_name, cls_name = self.config_class.split(":")
        config_cls = getattr(importlib.import_module(module_name), cls_name)
        ctx, r = self.ctx, self.ctx.resources
        return (
            config_cls()
            .environment(self.env_name(), env_config=dict(ctx.env_kwargs))
            .env_runners(
                num_env_runners=r.rollout_workers,
                num_envs_per_env_runner=ctx.num_envs,
                num_cpus_per_env_runner=r.cpus_per_worker,
            )
            .learners(num_learners=0, num_gpus_per_learner=int(torch_device(r.learner_gpus).type == "cuda"))
            .training(**self.hp.training_args())
            .rl_module(model_config=DefaultModelConfig(**self.hp.rl_module_config()))
            .reporting(**self.hp.reporting_args())
            .callbacks(on_episode_end=_record_episode)
            .debugging(seed=ctx.seed, log_level="ERROR")
        )

    def _algorithm(self) -> Any:
        if self.algo is None:
            import torch
            from ray.tune.registry import register_env

            torch.set_num_threads(1)
            register_env(self.env_name(), functools.partial(_env_creator, self.ctx.env_id))
            self.algo = self.algorithm_config().build_algo()
            if self._pending_restore is not None:
                self._restore_algorithm(self._pending_restore)
                self._drop_pending_restore()
        return self.algo

    def _restore_algorithm(self, directory: Path) -> None:
        self.algo.restore_from_path(str(directory / RLLIB_DIR))
        self._on_learner(_config_lr_to_optimizers)

    def _on_learner(self, func: Any) -> Any:
        """`func(learner)` on the (first) learner; the learner lives in the trial (num_learners=0)."""
        (result,) = self.algo.learner_group.foreach_learner(func)
        return result.get()

    def _drop_pending_restore(self) -> None:
        if self._pending_restore is not None:
            shutil.rmtree(self._pending_restore, ignore_errors=True)
            self._pending_restore = None

    # -- Runner protocol -----------------------------------------------------------

    def train_iteration(self) -> dict[str, Any]:
        algo = self._algorithm()
        lr = self._on_learner(_optimizer_lr)  # what this iteration's updates step with
        return {**self.platform_metrics(algo.train()), "lr": lr}

    def platform_metrics(self, result: dict[str, Any]) -> dict[str, Any]:
        """RLlib's result dict in the platform's vocabulary (results.py)."""
        runners = result.get("env_runners", {})
        # One finished episode comes back as a scalar, several as a list.
        new_returns = np.atleast_1d(runners.get(EPISODE_RETURNS, [])).tolist()
        self.window.add(new_returns, np.atleast_1d(runners.get(EPISODE_LENGTHS, [])).tolist())
        fresh = bool(new_returns)
        out: dict[str, Any] = {
            results.ENV_STEPS: int(result.get("num_env_steps_sampled_lifetime", 0)),
            results.EPISODES: int(runners.get("num_episodes_lifetime", 0)),
            results.EPISODE_RETURN_MEAN: self.window.return_mean() if fresh else math.nan,
            results.EPISODE_LEN_MEAN: self.window.len_mean() if fresh else math.nan,
        }
        learner = result.get("learners", {}).get("default_policy", {})
        for key, term in LOSS_NAMES.items():
            if key in learner:
                out[results.loss_key(term)] = float(learner[key])
        if "entropy" in learner:
            out["entropy"] = float(learner["entropy"])
        return out

    def save(self, directory: Path) -> None:
        self._algorithm().save_to_path(str(directory / RLLIB_DIR))
        (directory / WINDOW_FILE).write_text(json.dumps(self.window.get_state()))
        self.export_policy(directory)

    def export_policy(self, directory: Path) -> bool:
        """The greedy policy as weights-only files (rl/rllib_policy.py): what `eval` reads, without Ray."""
        module = self.inference_module()
        layers = rllib_policy.greedy_layers(module, self.greedy_path)
        if layers is None:
            return False
        obs_space = self.spaces()[0]
        if not isinstance(obs_space, gym.spaces.Box):
            return False  # RLlib one-hot encodes other spaces before the module; not rebuilt here
        obs_space.seed(self.ctx.seed)
        sample = np.stack([obs_space.sample() for _ in range(16)]).astype(np.float32)
        action = "mean" if isinstance(self.action_space(), gym.spaces.Box) else "argmax"
        return rllib_policy.export(directory, layers, action, self._deterministic, sample)

    def restore(self, directory: Path) -> None:
        self.window.set_state(json.loads((directory / WINDOW_FILE).read_text()))
        self._module = None
        if self.algo is not None:
            self._restore_algorithm(directory)
        else:
            # Tune may delete `directory` once restore() returns; keep a private copy until the
            # algorithm is built (training) or the module is loaded (eval).
            self._pending_restore = Path(tempfile.mkdtemp(prefix="trainfleet-rllib-"))
            shutil.copytree(directory / RLLIB_DIR, self._pending_restore / RLLIB_DIR)

    def inference_module(self) -> Any:
        """The trained RLModule of the live algorithm (restored first when a restore is pending)."""
        if self._module is None:
            self._module = self._algorithm().get_module()
        return self._module

    def _deterministic(self, obs: Any) -> Any:
        """The module's greedy output for a batch of observations, before unsquashing."""
        import torch
        from ray.rllib.core.columns import Columns

        module = self.inference_module()
        with torch.no_grad():
            out = module.forward_inference({Columns.OBS: torch.as_tensor(obs, dtype=torch.float32)})
        if Columns.ACTIONS in out:
            return out[Columns.ACTIONS]
        dist = module.get_inference_action_dist_cls().from_logits(out[Columns.ACTION_DIST_INPUTS])
        return dist.to_deterministic().sample()

    def act(self, obs: Any) -> Any:
        """Greedy action: the module's deterministic inference output, mapped to the env's action space."""
        action = self._deterministic(np.asarray(obs)[None])[0].cpu().numpy()
        space = self.action_space()
        if isinstance(space, gym.spaces.Box):
            return rllib_policy.unsquash(action, space)
        return int(action)

    def action_space(self) -> Any:
        return self.spaces()[1]

    def spaces(self) -> tuple[Any, Any]:
        """(observation space, action space) of one env, as the module sees them."""
        if self._spaces is None:
            env = make_env(self.ctx.env_id, self.ctx.env_kwargs)
            self._spaces = (env.observation_space, env.action_space)
            env.close()
        return self._spaces

    def close(self) -> None:
        self._drop_pending_restore()
        if self.algo is not None:
            self.algo.stop()
            self.algo = None


class RLlibPPO(RLlibRunner):
    """RLlib PPO."""

    Hparams = PPOHparams
    config_class = "ray.rllib.algorithms.ppo:PPOConfig"


class RLlibDQN(RLlibRunner):
    """RLlib DQN; double Q, dueling heads and prioritized replay are RLlib's own switches."""

    Hparams = DQNHparams
    config_class = "ray.rllib.algorithms.dqn:DQNConfig"
    greedy_path = (("encoder",), ("af",))

    @classmethod
    def space_problem(cls, observation_space: gym.Space, action_space: gym.Space) -> str | None:
        return None if isinstance(action_space, gym.spaces.Discrete) else "dqn needs a Discrete action space"


class RLlibSAC(RLlibRunner):
    """RLlib soft actor-critic (continuous actions)."""

    Hparams = SACHparams
    config_class = "ray.rllib.algorithms.sac:SACConfig"
    greedy_path = (("pi_encoder",), ("pi",))


class RLlibAPPO(RLlibRunner):
    """RLlib asynchronous PPO."""

    Hparams = APPOHparams
    config_class = "ray.rllib.algorithms.appo:APPOConfig"


class RLlibIMPALA(RLlibRunner):
    """RLlib IMPALA (V-trace)."""

    Hparams = ImpalaHparams
    config_class = "ray.rllib.algorithms.impala:IMPALAConfig"
