"""Episode bookkeeping behind every deep RL algorithm's episode_return_mean: the window of recent
finished episodes, and (for envs stepped in the trial process) the per-env running returns feeding it."""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from trainfleet import results


class EpisodeWindow:
    """Returns, lengths (and safety costs, where the env reports them) of the last `size` finished
    episodes, plus the lifetime episode count."""

    def __init__(self, size: int) -> None:
        self.returns: deque[float] = deque(maxlen=size)
        self.lengths: deque[int] = deque(maxlen=size)
        self.costs: deque[float] = deque(maxlen=size)
        self.episodes = 0

    def add(self, returns: list[float], lengths: list[int], costs: list[float] | None = None) -> None:
        self.returns.extend(returns)
        self.lengths.extend(lengths)
        self.costs.extend(costs or [])
        self.episodes += len(returns)

    def return_mean(self) -> float:
        return float(np.mean(self.returns)) if self.returns else float("nan")

    def len_mean(self) -> float:
        return float(np.mean(self.lengths)) if self.lengths else float("nan")

    def cost_metrics(self) -> dict[str, float]:
        """{"episode_cost_mean": ...} once an env reported costs, else nothing."""
        return {results.EPISODE_COST_MEAN: float(np.mean(self.costs))} if self.costs else {}

    def get_state(self) -> dict[str, Any]:
        return {"returns": list(self.returns), "lengths": list(self.lengths), "costs": list(self.costs),
                "episodes": self.episodes}

    def set_state(self, state: dict[str, Any]) -> None:
        self.returns.clear()
        self.returns.extend(state["returns"])
        self.lengths.clear()
        self.lengths.extend(state["lengths"])
        self.costs.clear()
        self.costs.extend(state.get("costs", []))
        self.episodes = state["episodes"]


class EpisodeTracker:
    """Per-env running return/length feeding an EpisodeWindow of finished episodes."""

    def __init__(self, num_envs: int, window: int) -> None:
        self.ret = np.zeros(num_envs)
        self.len = np.zeros(num_envs, np.int64)
        self.window = EpisodeWindow(window)
        self.finished_since_report = 0

    def step(self, rewards: np.ndarray, valid: np.ndarray, ended: np.ndarray) -> None:
        self.ret += rewards * valid
        self.len += valid
        if ended.any():
            self.add(self.ret[ended].tolist(), self.len[ended].tolist())
            self.ret[ended] = 0.0
            self.len[ended] = 0

    def add(self, returns: list[float], lengths: list[int]) -> None:
        """Episodes that finished elsewhere (a rollout worker counted them)."""
        self.window.add(returns, lengths)
        self.finished_since_report += len(returns)

    def report(self) -> dict[str, float]:
        """Running means (NaN when no episode ended since the last report)."""
        fresh = self.finished_since_report > 0
        self.finished_since_report = 0
        return {
            results.EPISODES: self.window.episodes,
            results.EPISODE_RETURN_MEAN: self.window.return_mean() if fresh else float("nan"),
            results.EPISODE_LEN_MEAN: self.window.len_mean() if fresh else float("nan"),
        }

    def get_state(self) -> dict[str, Any]:
        return {"ret": self.ret.copy(), "len": self.len.copy(), "window": self.window.get_state(),
                "finished_since_report": self.finished_since_report}

    def set_state(self, state: dict[str, Any]) -> None:
        self.ret, self.len = state["ret"].copy(), state["len"].copy()
        self.window.set_state(state["window"])
        self.finished_since_report = state["finished_since_report"]
