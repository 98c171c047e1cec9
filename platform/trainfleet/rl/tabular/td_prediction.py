"""TD(0) prediction (notes L2057-2081): evaluate a fixed policy one step at a time.

  V(s) <- V(s) + alpha [r + gamma V(s') - V(s)]     (notes L2067)
With `alpha: null` the step is 1/N(s), a schedule under which it converges to v_pi.
Unlike Monte Carlo it bootstraps from its own estimate of V(s'), so it learns before the
episode ends, with lower variance and some bias. A terminal s' has value 0.
"""

from __future__ import annotations

from trainfleet.rl.tabular.agent import PredictionAgent


class TD0Prediction(PredictionAgent):
    def run_episode(self) -> tuple[float, int]:
        hp, v = self.hp, self.v
        state, total, length = self.reset_env(), 0.0, 0
        while True:
            next_state, reward, terminated, truncated, _ = self.env.step(self.sample_action(state))
            next_state = int(next_state)
            total += float(reward)
            length += 1
            target = reward if terminated else reward + hp.gamma * v[next_state]
            v[state] += self.step_size(state) * (target - v[state])
            if terminated or truncated:
                break
            state = next_state
        self.env_steps += length
        return total, length
