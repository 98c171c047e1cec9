"""Learned levels that tests assert, kept where a seed sweep can measure their room.

Seeded learning curves differ between CPUs, so a bar tuned on one machine's trajectory can
fail on another. Each learning test is therefore split in two: a `measure(seed)` that trains
and returns scores, and `Bar`s on those scores. The test runs one seed; the same `Learned`
case is what `benchmarks/learning_margins.py` runs over many seeds, recording the spread
beside each bar (benchmarks/results/learning_margins.md). A bar belongs where every seed of
that sweep clears it with room, so no test depends on one seed's exact trajectory.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq,
}


@dataclass(frozen=True)
class Bar:
    """`score OP value`: e.g. Bar("env_steps_to_195", "<=", 80_000). NaN never clears a bar."""

    score: str
    op: str
    value: float

    def holds(self, result: dict[str, float]) -> bool:
        got = result.get(self.score, math.nan)
        return not math.isnan(got) and _OPS[self.op](got, self.value)

    def __str__(self) -> str:
        return f"{self.score} {self.op} {self.value:g}"


@dataclass(frozen=True)
class Learned:
    """One learning test's configuration: what it trains, the bars it asserts, the seed it runs."""

    name: str
    measure: Callable[[int], dict[str, float]]
    bars: tuple[Bar, ...]
    seed: int = 0


CASES: dict[str, Learned] = {}


def learned(name: str, measure: Callable[[int], dict[str, float]], *bars: Bar, seed: int = 0) -> Learned:
    """Register a learning test's case (by a name unique across the suite) and return it."""
    case = Learned(name, measure, bars, seed)
    CASES[name] = case
    return case


def describe(result: dict[str, Any]) -> str:
    """The scores of one run as text; never raises (NaN, inf and None included)."""
    return ", ".join(f"{k}={_text(v)}" for k, v in result.items())


def curve_text(values: Iterable[float]) -> str:
    """A learning curve for an assertion message, e.g. `[22, 31, nan, 480]`; never raises."""
    return "[" + ", ".join(_text(v, ".0f") for v in values) + "]"


def _text(value: Any, spec: str = ".4g") -> str:
    try:
        return format(value, spec)
    except (TypeError, ValueError):
        return repr(value)


def check(case: Learned) -> dict[str, float]:
    """Run the case's own seed and assert every bar; returns the scores for further checks."""
    result = case.measure(case.seed)
    failed = [str(bar) for bar in case.bars if not bar.holds(result)]
    assert not failed, f"{case.name} seed {case.seed}: failed {failed}; got {describe(result)}"
    return result
