"""TD control: SARSA, Expected SARSA and Q-learning (Sutton & Barto ch. 6).

All three update Q(s,a) <- Q(s,a) + alpha [r + gamma * target(s') - Q(s,a)] after every
step; they differ only in target(s'):
  SARSA           Q(s', a')                        the next action actually taken (on-policy)
  Expected SARSA  sum_a pi(a|s') Q(s', a)          expectation under the behaviour policy
  Q-learning      max_a Q(s', a)                   the greedy policy (off-policy)
A terminal s' has target 0; a time-limit truncation bootstraps (the state is not terminal).
"""

from __future__ import annotations

import numpy as np

from trainfleet.rl.tabular.agent import TabularAgent


class _TDControl(TabularAgent):
    def next_value(self, next_state: int, next_action: int) -> float:
        raise NotImplementedError

    def run_episode(self) -> tuple[float, int]:
        hp, q = self.hp, self.q
        state = self.reset_env()
        action = self.behave(state)
        total, length = 0.0, 0
        while True:
            next_state, reward, terminated, truncated, _ = self.env.step(action)
            next_state = int(next_state)
            total += float(reward)
            length += 1
            next_action = self.behave(next_state)
            target = reward if terminated else reward + hp.gamma * self.next_value(next_state, next_action)
            q[state, action] += hp.alpha * (target - q[state, action])
            if terminated or truncated:
                break
            state, action = next_state, next_action
        self.env_steps += length
        return total, length


class Sarsa(_TDControl):
    """On-policy: learns the value of the epsilon-greedy policy it follows (the safe cliff path)."""

    def next_value(self, next_state: int, next_action: int) -> float:
        return self.q[next_state, next_action]


class ExpectedSarsa(_TDControl):
    """Lower-variance SARSA: the expectation over the behaviour policy replaces the sample."""

    def next_value(self, next_state: int, next_action: int) -> float:
        row = self.q[next_state]
        return float(np.dot(self.explorer.probabilities(row), row))


class QLearning(_TDControl):
    """Off-policy: learns the greedy policy's value whatever it does (the optimal cliff-edge path)."""

    def next_value(self, next_state: int, next_action: int) -> float:
        return self.q[next_state].max()
