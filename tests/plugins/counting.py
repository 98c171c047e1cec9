"""Base of the test-only algorithms: state is an iteration counter, and every action is 0."""

from __future__ import annotations

from typing import Any

from trainfleet.rl.core.algorithm import Algorithm


class Counting(Algorithm):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.iteration = 0

    def get_state(self) -> dict[str, Any]:
        return {"iteration": self.iteration}

    def set_state(self, state: dict[str, Any]) -> None:
        self.iteration = int(state["iteration"])

    def act(self, obs: Any) -> int:
        return 0
