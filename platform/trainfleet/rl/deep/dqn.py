"""DQN with Double DQN, the dueling head and prioritized replay as independent switches.

- DQN (Mnih et al. 2015, "Human-level control through deep reinforcement learning"):
  minimise Huber(r + γ max_a' Q(s', a'; θ⁻) − Q(s, a; θ)) (or, with `loss: mse`, its square:
  the notes' L1904 and Keras `build_dqn`) on minibatches from a replay buffer, with θ⁻ a
  target network copied from θ every `target_update_interval` env steps; behave ε-greedily with ε decayed over training.
- `double` (van Hasselt, Guez & Silver 2016, "Deep RL with Double Q-learning"): the online
  network picks the next action and the target network evaluates it,
  y = r + γ Q(s', argmax_a' Q(s', a'; θ); θ⁻), which removes the max operator's
  overestimation bias.
- `dueling` (Wang et al. 2016, "Dueling Network Architectures"): Q(s, a) = V(s) + A(s, a)
  − mean_a A(s, a). The course notes write V + A; without the mean subtraction V and A are
  not identifiable (any constant moves freely between them), so we subtract it as the paper does.
- `prioritized` (Schaul et al. 2016): replay proportional to |δ|^α with importance weights
  annealed by β -> 1 (see `rl/core/replay.py`); priorities are refreshed after each step.

Deviations from the papers, all standard in SB3/CleanRL: Adam instead of RMSProp, the
target update counted in env steps and optionally soft (`tau` < 1), gradient-norm clipping
instead of clipping the TD error.
"""

from __future__ import annotations

import copy
import functools
from typing import Any, Literal

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from trainfleet.rl.core.algorithm import RunContext
from trainfleet.rl.core.networks import DuelingHead, layer_init, soft_update, torso
from trainfleet.rl.core.off_policy import OffPolicyAlgorithm, OffPolicyHparams, adam
from trainfleet.rl.core.replay import PrioritizedReplayBuffer, ReplayBuffer, ReplaySample
from trainfleet.rl.core.schedules import Schedule
from trainfleet.rl.core.workers import PolicyBuilder


class DQNHparams(OffPolicyHparams):
    double: bool = Field(False, description="Double DQN target (online argmax, target evaluation)")
    dueling: bool = Field(False, description="dueling head: Q = V + A - mean A")
    prioritized: bool = Field(False, description="proportional prioritized replay")
    per_alpha: float = Field(0.6, ge=0, description="PER: priority exponent (0 = uniform)")
    per_beta: Schedule = Field(
        Schedule(schedule="linear", start=0.4, end=1.0, steps=100_000),
        description="PER: importance-weight exponent, annealed to 1 over env steps",
    )
    per_eps: float = Field(1e-6, gt=0, description="PER: added to |TD error| so no priority is 0")
    epsilon: Schedule = Field(
        Schedule(schedule="linear", start=1.0, end=0.05, steps=10_000),
        description="exploration rate over env steps",
    )
    target_update_interval: int = Field(1000, ge=1, description="env steps between target-network updates")
    tau: float = Field(1.0, gt=0, le=1, description="target update weight (1 = hard copy)")
    max_grad_norm: float = Field(10.0, gt=0, description="gradient-norm clip")
    loss: Literal["huber", "mse"] = Field("huber", description="TD-error loss: huber (the papers' clipped "
                                          "gradient) or mse (the notes' squared error, L1904, Keras build_dqn)")


class QNetwork(nn.Module):
    """Torso (MLP or Nature CNN) then a linear Q head, or a dueling head on its last layer."""

    def __init__(self, obs_space: gym.Space, n_actions: int, hidden: list[int], dueling: bool,
                 activation: str = "relu") -> None:
        super().__init__()
        if dueling:  # the last hidden layer becomes the width of the V and A streams
            self.torso, features = torso(obs_space, hidden[:-1], activation)
            self.head: nn.Module = DuelingHead(features, n_actions, hidden[-1])
        else:
            self.torso, features = torso(obs_space, hidden, activation)
            self.head = layer_init(nn.Linear(features, n_actions), gain=1.0)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head(self.torso(obs))


class EpsilonGreedy(nn.Module):
    """The behaviour policy: a uniformly random action with probability epsilon, else argmax Q."""

    def __init__(self, q: QNetwork, n_actions: int) -> None:
        super().__init__()
        self.q, self.n_actions = q, n_actions

    def explore(self, obs: torch.Tensor, generator: torch.Generator | None = None, random: bool = False,
                epsilon: float = 1.0) -> tuple[torch.Tensor, dict]:
        n = obs.shape[0]
        actions = torch.randint(self.n_actions, (n,), generator=generator, device=obs.device)
        if random:
            return actions, {}
        explore = torch.rand(n, generator=generator, device=obs.device) < epsilon
        if bool(explore.all()):  # skip the network while exploration dominates
            return actions, {}
        return torch.where(explore, actions, self.q(obs).argmax(dim=1)), {}


def _epsilon_greedy(obs_space: gym.Space, action_space: gym.spaces.Discrete, hidden: list[int],
                    dueling: bool, activation: str) -> EpsilonGreedy:
    """A rollout worker's copy of the behaviour policy (weights arrive from the learner)."""
    return EpsilonGreedy(QNetwork(obs_space, int(action_space.n), hidden, dueling, activation), int(action_space.n))


# ---- ALGORITHM LOGIC ------------------------------------------------------------------------

def q_targets(rewards: torch.Tensor, terminated: torch.Tensor, gamma: float, next_q_target: torch.Tensor,
              next_q_online: torch.Tensor | None) -> torch.Tensor:
    """y = r + γ(1 − terminated)·Q⁻(s', a*); a* = argmax Q⁻ (DQN) or argmax Q_online (Double DQN)."""
    if next_q_online is None:
        next_v = next_q_target.max(dim=1).values
    else:
        next_v = next_q_target.gather(1, next_q_online.argmax(dim=1, keepdim=True)).squeeze(1)
    return rewards + gamma * (1.0 - terminated) * next_v


class DQN(OffPolicyAlgorithm):
    Hparams = DQNHparams

    @classmethod
    def space_problem(cls, observation_space: gym.Space, action_space: gym.Space) -> str | None:
        return None if isinstance(action_space, gym.spaces.Discrete) else "dqn needs a Discrete action space"

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        hp = self.hp
        self.n_actions = int(self.action_space.n)
        self.q = QNetwork(self.obs_space, self.n_actions, hp.hidden, hp.dueling, hp.activation).to(self.device)
        self.target = copy.deepcopy(self.q).requires_grad_(False)
        self.behaviour = EpsilonGreedy(self.q, self.n_actions)
        self.optimizer = adam(self.q.parameters(), self.learning_rate())
        self.last_target_update = 0

    def make_replay(self) -> ReplayBuffer:
        hp, seed = self.hp, self.ctx.seed + 1
        if hp.prioritized:
            return PrioritizedReplayBuffer(hp.buffer_size, self.obs_space, self.action_space, seed,
                                           hp.per_alpha, hp.per_eps, self.device)
        return super().make_replay()

    def epsilon(self) -> float:
        return self.hp.epsilon.value(self.env_steps)

    def replay_beta(self) -> float:
        return self.hp.per_beta.value(self.env_steps)

    def worker_policy(self) -> PolicyBuilder:
        return functools.partial(_epsilon_greedy, hidden=list(self.hp.hidden), dueling=self.hp.dueling,
                                 activation=self.hp.activation)

    def explore_kwargs(self, remote: bool) -> dict[str, Any]:
        return {"epsilon": self.epsilon()}

    def update(self, batch: ReplaySample) -> dict[str, torch.Tensor]:
        hp = self.hp
        if self.env_steps - self.last_target_update >= hp.target_update_interval:
            soft_update(self.target, self.q, hp.tau)
            self.last_target_update = self.env_steps
        with torch.no_grad():
            next_online = self.q(batch.next_obs) if hp.double else None
            y = q_targets(batch.rewards, batch.terminated, hp.gamma, self.target(batch.next_obs), next_online)
        q = self.q(batch.obs).gather(1, batch.actions.long().unsqueeze(1)).squeeze(1)
        td_loss = F.smooth_l1_loss if hp.loss == "huber" else F.mse_loss
        # importance weights (all ones without PER) correct the prioritized sampling bias
        loss = (batch.weights * td_loss(q, y, reduction="none")).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.q.parameters(), hp.max_grad_norm)
        self.optimizer.step()
        if hp.prioritized:
            self.replay.update_priorities(batch.indices, (y - q).detach().abs().cpu().numpy())
        return {"q": loss.detach()}

# ---- END ALGORITHM LOGIC --------------------------------------------------------------------

    def extra_metrics(self) -> dict[str, float]:
        m = {"epsilon": self.epsilon()}
        if self.hp.prioritized:
            m["per_beta"] = self.replay_beta()
        return m

    def networks(self) -> dict[str, Any]:
        return {"q": self.q, "target": self.target, "optimizer": self.optimizer}

    def extra_state(self) -> dict[str, Any]:
        return {"last_target_update": self.last_target_update}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.last_target_update = state["last_target_update"]

    def act(self, obs: Any) -> int:
        with torch.no_grad():
            return int(self.q(self.obs_tensor(np.asarray(obs))[None]).argmax(dim=1))
