"""TD control: SARSA, Expected SARSA and Q-learning (notes L2083-2151; Sutton & Barto ch. 6).

All three update Q(s,a) <- Q(s,a) + alpha [r + gamma * target(s', a') - Q(s,a)] after every
step and differ only in the target:
  SARSA           Q(s', a')                     the next action actually taken (on-policy)
  Expected SARSA  sum_a pi(a|s') Q(s', a)       expectation under the behaviour policy
  Q-learning      max_a Q(s', a)                the greedy policy (off-policy)
A terminal s' has target 0; a time-limit truncation bootstraps (the state is not terminal).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from trainfleet.rl.tabular.agent import ControlAgent

Target = Callable[[int, int], float]  # (next_state, next_action) -> value of s'
Transition = Callable[[int, int, float, int, bool], None]  # (s, a, r, s', terminated)


def td_update(q: np.ndarray, state: int, action: int, reward: float, terminated: bool, next_value: float, alpha: float, gamma: float) -> None:
    """Q(s,a) <- Q(s,a) + alpha [r + gamma * next_value - Q(s,a)], with no bootstrap past a terminal."""
    td_target = reward if terminated else reward + gamma * next_value
    q[state, action] += alpha * (td_target - q[state, action])


def td_control_episode(agent: ControlAgent, target: Target, after_update: Transition | None = None) -> tuple[float, int]:
    """One episode of one-step TD control; `after_update` lets Dyna-Q learn its model and plan."""
    hp, q = agent.hp, agent.q
    state = agent.reset_env()
    action = agent.behave(state)
    total, length = 0.0, 0
    while True:
        next_state, reward, terminated, truncated, _ = agent.env.step(action)
        next_state, reward = int(next_state), float(reward)
        total += reward
        length += 1
        next_action = agent.behave(next_state)
        next_value = 0.0 if terminated else target(next_state, next_action)
        td_update(q, state, action, reward, terminated, next_value, hp.alpha, hp.gamma)
        if after_update is not None:
            after_update(state, action, reward, next_state, terminated)
        if terminated or truncated:
            break
        state, action = next_state, next_action
    agent.env_steps += length
    return total, length


class Sarsa(ControlAgent):
    """On-policy: learns the value of the epsilon-greedy policy it follows (the safe cliff path)."""

    def run_episode(self) -> tuple[float, int]:
        return td_control_episode(self, lambda s, a: self.q[s, a])


class ExpectedSarsa(ControlAgent):
    """Lower-variance SARSA: the expectation over the behaviour policy replaces the sampled a'."""

    def expected_value(self, next_state: int, _next_action: int) -> float:
        row = self.q[next_state]
        return float(np.dot(self.explorer.probabilities(row), row))

    def run_episode(self) -> tuple[float, int]:
        return td_control_episode(self, self.expected_value)


def max_target(q: np.ndarray) -> Target:
    """Q-learning's target max_a Q(s', a), whatever action the agent takes next."""
    return lambda s, _a: q[s].max()


class QLearning(ControlAgent):
    """Off-policy: learns the greedy policy's value whatever it does (the optimal cliff-edge path)."""

    def run_episode(self) -> tuple[float, int]:
        return td_control_episode(self, max_target(self.q))
