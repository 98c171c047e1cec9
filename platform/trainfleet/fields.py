"""Constrained field types shared by the job spec and the hparams models of RL and DL.

They carry the limits that a run needs and a plain `int` cannot say: a layer needs at least
one unit, a seed must fit numpy's and torch's generators with room for per-worker offsets.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

MAX_SEED = 2**31 - 1  # numpy legacy seeding takes < 2**32; workers add small offsets to the job seed

Seed = Annotated[int, Field(ge=0, le=MAX_SEED, description=f"0 .. {MAX_SEED}")]
Width = Annotated[int, Field(ge=1, le=16_384, description="units (or channels) of one layer")]
