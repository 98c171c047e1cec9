"""The window of recent finished episodes behind every deep RL algorithm's episode_return_mean."""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np


class EpisodeWindow:
    """Returns and lengths of the last `size` finished episodes, plus the lifetime episode count."""

    def __init__(self, size: int) -> None:
        self.returns: deque[float] = deque(maxlen=size)
        self.lengths: deque[int] = deque(maxlen=size)
        self.episodes = 0

    def add(self, returns: list[float], lengths: list[int]) -> None:
        self.returns.extend(returns)
        self.lengths.extend(lengths)
        self.episodes += len(returns)

    def return_mean(self) -> float:
        return float(np.mean(self.returns)) if self.returns else float("nan")

    def len_mean(self) -> float:
        return float(np.mean(self.lengths)) if self.lengths else float("nan")

    def get_state(self) -> dict[str, Any]:
        return {"returns": list(self.returns), "lengths": list(self.lengths), "episodes": self.episodes}

    def set_state(self, state: dict[str, Any]) -> None:
        self.returns.clear(), self.returns.extend(state["returns"])
        self.lengths.clear(), self.lengths.extend(state["lengths"])
        self.episodes = state["episodes"]
