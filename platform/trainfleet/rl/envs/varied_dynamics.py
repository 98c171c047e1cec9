"""Classic-control task families whose physics vary per task.

- Pendulum with pole mass m and length l drawn from a range (the swing-up needs a different
  torque profile per task);
- CartPole with pole length and gravity drawn from a range: the notes' MAML example trains on
  ten identical CartPoles (course notes L3035-3146), which gives adaptation nothing to do; here
  each task is a different pole under a different gravity.
Both keep gymnasium's own dynamics code and only set its physical constants.
"""

from __future__ import annotations

from gymnasium.envs.classic_control.cartpole import CartPoleEnv
from gymnasium.envs.classic_control.pendulum import PendulumEnv

from trainfleet.rl.envs.tasks import Task, TaskFamily


class PendulumTaskEnv(TaskFamily, PendulumEnv):
    task_ranges = {"m": (0.5, 2.0), "l": (0.5, 1.5)}


class CartPoleTaskEnv(TaskFamily, CartPoleEnv):
    # `length` is half the pole's length, as in gymnasium (default 0.5); gravity around 9.8
    task_ranges = {"length": (0.25, 1.0), "gravity": (4.9, 14.7)}

    def set_task(self, task: Task) -> None:
        super().set_task(task)
        self.polemass_length = self.masspole * self.length
