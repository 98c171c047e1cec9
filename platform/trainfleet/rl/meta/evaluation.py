"""The adaptation metrics every meta-RL algorithm reports, on held-out test tasks.

`episode_return_mean` is the return before any adaptation; `episode_return_mean_adapt_k` the
return after k adaptation steps (MAML: gradient steps; RL²: episodes of experience within the
trial); `adaptation_delta` the last minus the first, i.e. what adapting bought.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from trainfleet import results


def adapt_key(k: int) -> str:
    return f"{results.EPISODE_RETURN_MEAN}_adapt_{k}"


def adaptation_metrics(returns_by_stage: Sequence[Sequence[float]]) -> dict[str, float]:
    """Stage 0 is before adaptation, stage k after k adaptation steps; each a list over tasks."""
    means = [float(np.mean(r)) for r in returns_by_stage]
    out = {results.EPISODE_RETURN_MEAN: means[0]}
    out.update({adapt_key(k): m for k, m in enumerate(means[1:], start=1)})
    out["adaptation_delta"] = means[-1] - means[0]
    return out
