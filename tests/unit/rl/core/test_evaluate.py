"""`trainfleet eval --gif` on an env that draws nothing: a one-line error before any episode runs."""

from __future__ import annotations

import pytest

from trainfleet.errors import UserError
from trainfleet.rl.core.evaluate import evaluate_policy


def test_a_gif_of_an_env_without_frames_is_a_clear_error():
    def never(obs):
        raise AssertionError("no episode may run")

    with pytest.raises(UserError, match="DataCentreCooling-v0 draws no frames"):
        evaluate_policy("trainfleet/DataCentreCooling-v0", {}, never, episodes=1, record_frames=True)


def test_a_gif_of_an_env_with_frames_records_them():
    returns, frames = evaluate_policy("CartPole-v1", {}, lambda obs: 0, episodes=1, record_frames=True)
    assert len(returns) == 1 and frames and frames[0].ndim == 3
