"""User-facing errors: each one becomes a one-paragraph message and exit code 2 in the CLI."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(Exception):
    """A mistake the user can fix (bad spec, unknown name, missing file). Never a traceback."""

    exit_code = 2


class SpecError(UserError):
    """A job spec problem, located by file and dotted field path."""

    def __init__(self, message: str, *, file: str | None = None, path: str | None = None) -> None:
        self.file = file
        self.path = path
        self.detail = message
        where = ": ".join(excerpt(p, 240, quote=False) for p in (file, path) if p)
        super().__init__(f"{where}: {message}" if where else message)


class TrainingError(Exception):
    """Training cannot go on (NaN loss, failed trial); the last good checkpoint is kept."""

    exit_code = 1


def excerpt(value: object, limit: int = 60, *, quote: bool = True) -> str:
    """`repr(value)` (or `str` with quote=False) cut to `limit` characters: a message quotes what
    was given, never all of it (a pasted blob would otherwise print megabytes on one line)."""
    text = repr(value) if quote else str(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def first_line(err: BaseException, limit: int = 200) -> str:
    """An exception as one short line for a user message (its type when it says nothing)."""
    text = str(err).strip()
    return text.splitlines()[0][:limit] if text else type(err).__name__


def failure_line(err: BaseException) -> str:
    """Why a trial failed, in one line: trainfleet's own errors verbatim, others as `Type: first line`."""
    text = str(err).strip()
    if isinstance(err, (TrainingError, UserError)):
        return text.splitlines()[0] if text else type(err).__name__
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """' did you mean X?' for the closest choice, or '' when nothing is close."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class NonFiniteLossError(TrainingError):
    """A loss became NaN/inf: the run stops, and the last good checkpoint stays the final one."""
