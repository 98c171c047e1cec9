"""MCTS: UCT search for discrete actions (Kocsis & Szepesvári 2006; seed L2811–2833).

Before every real move, `simulations` trajectories are played on a simulator of the env from
the current state. Each one walks down the search tree choosing, at a node visited N times,
    a = argmax_a Q(a) + c·sqrt(ln N / N(a))        (untried actions first)
adds one new node where it leaves the tree, finishes with a uniformly random rollout (to
`max_depth` steps in all), and backs the discounted return up the path as running means. The
real move is the root's most visited action. A node's children are keyed by (action, next
state), so stochastic transitions (slippery FrozenLake) get one subtree per outcome.

On deterministic envs with sparse rewards (the 15-step maze robot) the mean of the wandering
simulations hides the one path that reached the goal. `backup: max` passes up each node's best
action value instead (a Bellman backup, Q(s,a) = r + gamma * max Q(s',.)), and with `share_states`
(one node per state) the search becomes value iteration steered by UCB: the shortest path emerges.

Simulators (the true model, where the env can be copied):
- `TableSimulator`: envs exposing FrozenLake's `P[s][a] = [(prob, s', r, terminated)]`
  (FrozenLake, CliffWalking, Taxi, trainfleet's grid worlds);
- `StateSimulator`: classic-control envs whose `unwrapped.state` is the full state (CartPole):
  a private copy of the env is set to the state and stepped.
A learned model is not wired in yet (see README: model-based RL).
"""

from __future__ import annotations

import bisect
import itertools
import math
from typing import Any, Literal, Protocol

import gymnasium as gym
import numpy as np
from pydantic import Field

from trainfleet import results
from trainfleet.errors import SpecError
from trainfleet.rl.core.algorithm import Algorithm, Hparams, RunContext
from trainfleet.rl.core.episodes import EpisodeWindow
from trainfleet.rl.core.wrappers import single_env


class MCTSHparams(Hparams):
    simulations: int = Field(200, ge=1, le=1_000_000, description="simulated trajectories per real move (the search budget)")
    exploration_c: float = Field(1.4, ge=0, description="UCB1 exploration constant c")
    gamma: float = Field(0.99, ge=0, le=1, description="discount of simulated returns (below 1 prefers shorter paths)")
    max_depth: int = Field(100, ge=1, description="steps of a simulation, tree and rollout together")
    rollout: Literal["random", "none"] = Field("random", description="leaf evaluation: a uniformly random rollout, "
                                               "or none (0: the tree alone must reach the rewards)")
    share_states: bool = Field(False, description="one node per state (a transposition table), kept for the "
                               "whole episode: a state reached by many paths or moves pools its statistics")
    backup: Literal["mean", "max"] = Field("mean", description="what a node passes up: the mean of its simulated "
                                           "returns (UCT), or its best action's value (deterministic envs: the "
                                           "shortest path's return, not the average of the wandering ones)")
    episodes_per_iteration: int = Field(1, ge=1, description="real episodes per reported iteration")
    episode_window: int = Field(10, ge=1, description="episodes in the running mean of episode return")


class Simulator(Protocol):
    deterministic: bool

    def step(self, state: Any, action: int, rng: np.random.Generator) -> tuple[Any, float, bool]:
        """(next state, reward, episode ended) from `state`; states are hashable."""


class TableSimulator:
    """Samples P[s][a]'s outcomes: the env's own transition table."""

    def __init__(self, table: dict) -> None:
        self.table = {s: {a: (list(itertools.accumulate(o[0] for o in outs)), outs) for a, outs in acts.items()}
                      for s, acts in table.items()}
        self.deterministic = all(sum(o[0] > 0 for o in outs) == 1 for acts in table.values() for outs in acts.values())

    def step(self, state: Any, action: int, rng: np.random.Generator) -> tuple[Any, float, bool]:
        cumulative, outcomes = self.table[state][action]
        i = 0 if len(outcomes) == 1 else min(bisect.bisect(cumulative, rng.random() * cumulative[-1]), len(outcomes) - 1)
        _, nxt, reward, terminated = outcomes[i]
        return int(nxt), float(reward), bool(terminated)


class StateSimulator:
    """A private copy of a classic-control env, set to a state tuple and stepped once per call."""

    deterministic = True  # classic-control dynamics; no env with noisy steps has both internals

    def __init__(self, env: gym.Env) -> None:
        self.env = env.unwrapped

    def step(self, state: Any, action: int, rng: np.random.Generator) -> tuple[Any, float, bool]:
        # `state` and `steps_beyond_terminated` are classic-control internals, not on gym.Env
        # (simulator_for checks the unwrapped env has both)
        self.env.state = np.array(state)  # type: ignore[attr-defined]
        self.env.steps_beyond_terminated = None  # type: ignore[attr-defined]  # the copy is reused after it ended an episode
        _, reward, terminated, _, _ = self.env.step(action)
        return tuple(np.asarray(self.env.state).tolist()), float(reward), bool(terminated)  # type: ignore[attr-defined]


def simulator_for(env: gym.Env, env_id: str) -> tuple[Simulator, Any]:
    """The true-model simulator of `env` (a private copy) and how to read a state from an observation."""
    u = env.unwrapped
    if hasattr(u, "P"):
        return TableSimulator(u.P), int
    if hasattr(u, "state") and hasattr(u, "steps_beyond_terminated"):
        return StateSimulator(env), lambda obs: tuple(np.asarray(obs).tolist())
    raise SpecError(f"mcts needs an env it can copy: one with a transition table P (FrozenLake, CliffWalking, Taxi, "
                    f"trainfleet grid worlds) or a classic-control state (CartPole); {env_id} has neither",
                    path="env.id")


class Node:
    """Visit counts and mean returns per action; children keyed by (action, next state)."""

    __slots__ = ("action_visits", "children", "values", "visits")

    def __init__(self, n_actions: int) -> None:
        self.visits = 0
        self.action_visits = np.zeros(n_actions)
        self.values = np.zeros(n_actions)
        self.children: dict[tuple[int, Any], Node] = {}


class UCT:
    """The search itself, independent of any env: a simulator, the action count and the budget."""

    def __init__(self, sim: Simulator, n_actions: int, hp: MCTSHparams, rng: np.random.Generator) -> None:
        self.sim, self.n_actions, self.hp, self.rng = sim, n_actions, hp, rng
        self.nodes: dict[Any, Node] = {}

    def forget(self) -> None:
        """Drop the shared nodes (a new episode)."""
        self.nodes = {}

    def search(self, state: Any) -> tuple[int, Node]:
        """The root's most visited action after `simulations` simulations from `state`."""
        if not self.hp.share_states:
            self.nodes = {}
        root = self.nodes.setdefault(state, Node(self.n_actions))
        for _ in range(self.hp.simulations):
            self._simulate(root, state, 0)
        if self.hp.backup == "max":
            tried = np.flatnonzero(root.action_visits > 0)
            return int(tried[np.argmax(root.values[tried])]), root
        best = np.flatnonzero(root.action_visits == root.action_visits.max())
        return int(best[np.argmax(root.values[best])]), root

    def _select(self, node: Node) -> int:
        untried = np.flatnonzero(node.action_visits == 0)
        if len(untried):
            return int(self.rng.choice(untried))
        ucb = node.values + self.hp.exploration_c * np.sqrt(math.log(node.visits) / node.action_visits)
        return int(self.rng.choice(np.flatnonzero(ucb == ucb.max())))

    def _simulate(self, node: Node, state: Any, depth: int) -> float:
        a = self._select(node)
        nxt, reward, ended = self.sim.step(state, a, self.rng)
        ret = reward
        if not ended and depth + 1 < self.hp.max_depth:
            child = node.children.get((a, nxt))
            expand = child is None and not (self.hp.share_states and nxt in self.nodes)
            if child is None:
                child = node.children[(a, nxt)] = self.nodes.setdefault(nxt, Node(self.n_actions)) \
                    if self.hp.share_states else Node(self.n_actions)
            ret += self.hp.gamma * (self._rollout(nxt, depth + 1) if expand else self._simulate(child, nxt, depth + 1))
        node.visits += 1
        node.action_visits[a] += 1
        if self.hp.backup == "max":
            node.values[a] = ret
            return float(node.values[node.action_visits > 0].max())
        node.values[a] += (ret - node.values[a]) / node.action_visits[a]
        return ret

    def _rollout(self, state: Any, depth: int) -> float:
        """Uniformly random actions until the episode ends or the depth runs out (0 without rollouts)."""
        ret, discount = 0.0, 1.0
        if self.hp.rollout == "none":
            return ret
        for _ in range(depth, self.hp.max_depth):
            state, reward, ended = self.sim.step(state, int(self.rng.integers(self.n_actions)), self.rng)
            ret += discount * reward
            discount *= self.hp.gamma
            if ended:
                break
        return ret


class MCTS(Algorithm):
    """Plays real episodes, searching before every move; nothing is learned with the true model."""

    Hparams = MCTSHparams

    def __init__(self, ctx: RunContext) -> None:
        super().__init__(ctx)
        self.env = single_env(ctx.env_id, ctx.env_kwargs)
        self.require_spaces(self.env.observation_space, self.env.action_space)
        assert isinstance(self.env.action_space, gym.spaces.Discrete)  # space_problem
        sim, self.state_of = simulator_for(single_env(ctx.env_id, ctx.env_kwargs), ctx.env_id)
        if self.hp.backup == "max" and not sim.deterministic:
            raise SpecError(f"backup: max assumes deterministic moves, and {ctx.env_id} has random outcomes: "
                            "a lucky outcome would pass for the action's value; use backup: mean",
                            path="hparams.backup")
        self.rng = np.random.default_rng(ctx.seed)
        self.uct = UCT(sim, int(self.env.action_space.n), self.hp, self.rng)
        self.window = EpisodeWindow(self.hp.episode_window)
        self.env_steps = 0
        self.episode_seed = ctx.seed

    @classmethod
    def space_problem(cls, observation_space: gym.Space, action_space: gym.Space) -> str | None:
        return None if isinstance(action_space, gym.spaces.Discrete) else "mcts searches Discrete actions"

    def play_episode(self) -> None:
        obs, _ = self.env.reset(seed=self.episode_seed)
        self.uct.forget()
        self.episode_seed += 1
        total, steps, done = 0.0, 0, False
        while not done:
            obs, reward, terminated, truncated, _ = self.env.step(self.act(obs))
            total, steps, done = total + float(reward), steps + 1, terminated or truncated
        self.env_steps += steps
        self.window.add([total], [steps])

    def train_iteration(self) -> dict[str, float]:
        for _ in range(self.hp.episodes_per_iteration):
            self.play_episode()
        return {results.ENV_STEPS: self.env_steps, "episode_return_mean": self.window.return_mean(),
                "episode_len_mean": self.window.len_mean(), "episodes": self.window.episodes,
                "simulations_per_move": self.hp.simulations}

    def act(self, obs: Any) -> int:
        return self.uct.search(self.state_of(obs))[0]

    def get_state(self) -> dict[str, Any]:
        return {"window": self.window.get_state(), "rng": self.rng.bit_generator.state,
                "counters": {"env_steps": self.env_steps, "episode_seed": self.episode_seed}}

    def set_state(self, state: dict[str, Any]) -> None:
        self.window.set_state(state["window"])
        self.rng.bit_generator.state = state["rng"]
        self.env_steps, self.episode_seed = state["counters"]["env_steps"], state["counters"]["episode_seed"]

    def close(self) -> None:
        self.env.close()
