"""How a command ends on the terminal: an exit code and, on error, exactly one line.

A user mistake (bad arguments, a bad spec) is one `error:` line and exit 2. An error
trainfleet did not foresee is one line too, naming a log file that holds the full traceback
(created 0600 outside any run directory: tracebacks quote paths and values).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from trainfleet.errors import UserError, excerpt

MAX_LINE = 900  # characters of one error line
LOG_DIR_ENV = "TRAINFLEET_LOG_DIR"


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line that says where the help is (exit 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]  # argparse's hook never returns
        print(error_line(f"{self.prog}: {message} (see `{self.prog} --help`)"), file=sys.stderr)
        raise SystemExit(2)


def error_line(message: object) -> str:
    """`error: ...` on one line, cut to MAX_LINE characters."""
    return "error: " + excerpt(" ".join(str(message).split()), MAX_LINE, quote=False)


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parse `argv` and run the chosen command; returns its exit code, whatever happens."""
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help (0) or a usage error already printed (2)
        return stop.code if isinstance(stop.code, int) else 2
    command: Callable[[argparse.Namespace], int | None] = args.func
    try:
        return int(command(args) or 0)
    except UserError as err:
        print(error_line(err), file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # the last resort: one line, the traceback in a file
        log = write_traceback(err)
        print(error_line(f"unexpected {type(err).__name__}: {excerpt(err, 300, quote=False)} "
                         f"(full traceback in {log}; please report it)"), file=sys.stderr)
        return 1


def write_traceback(err: BaseException) -> Path:
    """The traceback of `err` in a new 0600 file under the log directory; returns its path."""
    text = "".join(traceback.format_exception(err))
    name = f"trainfleet-error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    for folder in _log_dirs():
        try:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = folder / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except OSError:
            continue
        with os.fdopen(fd, "w") as f:
            f.write(f"trainfleet {' '.join(sys.argv[1:])}\n{text}")
        return path
    raise err  # nowhere to write: let Python print it rather than lose it


def _log_dirs() -> list[Path]:
    """TRAINFLEET_LOG_DIR, else the user's cache folder, else the temp folder."""
    if os.environ.get(LOG_DIR_ENV):
        return [Path(os.environ[LOG_DIR_ENV]).expanduser()]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return [cache / "trainfleet" / "logs", Path(tempfile.gettempdir())]
