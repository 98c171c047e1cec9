"""`trainfleet submit | status | logs | stop`: jobs on a Ray cluster through the Ray Jobs API.

A submitted job is exactly `trainfleet run JOB.yaml [--set ...]` run by the cluster, with the
project directory as its working_dir (what goes into it: launch/upload.py) and the local
trainfleet package shipped alongside, so the cluster runs the code you submitted.

Ray 2.60 clusters have token authentication on by default. The client sends the token as a
bearer header, taken from RAY_AUTH_TOKEN, else the file at RAY_AUTH_TOKEN_PATH, else
~/.ray/auth_token (where `ray start --head` writes it); auth is never switched off.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import re
import shlex
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainfleet import jobs
from trainfleet.errors import SpecError, UserError
from trainfleet.launch import upload

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # .../trainfleet
_PROGRESS = re.compile(r"iter\s+(\d+) \| env_steps ([\d,]+) \| return (\S+)")
_PROGRESS_LINE = re.compile(r"(iter\s+\d+ \| env_steps |epoch\s+\d+ \| train_loss |trial\s+status|[0-9a-f]{5}_\d{5}\s|best so far: )")
_OUTCOME_PREFIXES = ("stopped:", "interrupted:", "error:", "training failed", "run dir:")
EXIT = {"SUCCEEDED": 0, "STOPPED": 130}


def auth_token() -> str | None:
    """The cluster token, from where Ray itself looks for it."""
    token = os.environ.get("RAY_AUTH_TOKEN", "").strip()
    if token:
        return token
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token").expanduser()
    if path.is_file():
        return path.read_text().strip() or None
    return None


def dashboard_address(address: str | None) -> str:
    address = address or os.environ.get("RAY_ADDRESS")
    if not address:
        raise UserError("give the cluster's dashboard address: --address http://HEAD:8265 (or set RAY_ADDRESS)")
    if "://" not in address:
        address = f"http://{address}"
    if not address.startswith(("http://", "https://")):
        raise UserError(f"{address}: the Jobs API needs the dashboard's http://HEAD:8265 address")
    return address.rstrip("/")


def client(address: str | None) -> Any:
    """A JobSubmissionClient that carries the token; connection or auth trouble is a UserError."""
    from ray.exceptions import AuthenticationError
    from ray.job_submission import JobSubmissionClient

    address = dashboard_address(address)
    warn_if_plain_http(address)
    token = auth_token()
    headers = {"Authorization": f"Bearer {token}"} if token else None
    try:
        return JobSubmissionClient(address, headers=headers)
    except (AuthenticationError, ConnectionError, RuntimeError, ValueError) as err:
        raise UserError(_connection_message(address, err)) from None


_warned: set[str] = set()


def warn_if_plain_http(address: str) -> None:
    """Once per address and process: over plain http to another machine, the token and the
    uploaded project can be read (or changed) by anyone on the path."""
    parsed = urllib.parse.urlsplit(address)
    if parsed.scheme != "http" or _is_loopback(parsed.hostname or "") or address in _warned:
        return
    _warned.add(address)
    print(f"warning: {address} is plain http: the cluster token and your project travel unencrypted; "
          "use an https:// address (TLS in front of the dashboard) or an SSH tunnel to 127.0.0.1", file=sys.stderr)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _connection_message(address: str, err: BaseException) -> str:
    text = str(err)
    if "401" in text or "Unauthorized" in text or "Authentication required" in text:
        return (
            f"{address}: the cluster requires a token and none was found. Copy the head node's "
            "~/.ray/auth_token to this machine, or set RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH)."
        )
    if "403" in text or "Forbidden" in text or "Invalid authentication token" in text:
        return (
            f"{address}: the cluster rejected the token{' (from RAY_AUTH_TOKEN)' if os.environ.get('RAY_AUTH_TOKEN') else ''}; "
            "use the head node's ~/.ray/auth_token."
        )
    first = text.strip().splitlines()[0] if text.strip() else type(err).__name__
    return f"cannot reach the Ray dashboard at {address}: {first}"


def entrypoint(job_path: str, sets: list[str], output: str | None) -> str:
    args = ["trainfleet", "run", job_path] + [a for s in sets for a in ("--set", s)]
    if output:
        args += ["--output", output]
    return shlex.join(args)


def submit(job: str, *, address: str | None, wait: bool, sets: list[str], output: str | None = None,
           working_dir: str | None = None) -> int:
    overrides = jobs.parse_set_args(sets)
    spec, _ = jobs.load_job(job, overrides)  # a bad spec fails here, before any upload
    if spec.resources.executor == "in_process":
        raise SpecError("in_process runs in the trainfleet process; a submitted job runs on the cluster's Ray: "
                        "use executor: auto or ray", file=job, path="resources.executor")
    job_path = Path(job).resolve()
    root = upload.project_root(job_path, working_dir)
    excludes = upload.excludes(jobs.read_yaml(job), overrides, job_path.parent, root, file=job)
    c = client(address)
    # py_modules puts this trainfleet first on the cluster's sys.path, whatever version it has installed.
    runtime_env = {"working_dir": str(root), "excludes": excludes, "py_modules": [str(PACKAGE_DIR)]}
    submission_id = _submit_with_retry(
        c, entrypoint=entrypoint(job_path.relative_to(root).as_posix(), sets, output), runtime_env=runtime_env
    )
    print(f"submitted: {submission_id}", flush=True)
    if not wait:
        print(f"follow it with: trainfleet status {submission_id} / trainfleet logs {submission_id}")
        return 0
    try:
        asyncio.run(_stream(c, submission_id))
    except KeyboardInterrupt:
        print(f"\nstopped following; the job keeps running (trainfleet stop {submission_id} stops it)")
        return 130
    return _outcome(c, submission_id)


def _submit_with_retry(c: Any, *, attempts: int = 10, delay_s: float = 3.0, **kwargs: Any) -> str:
    """submit_job, retried while a freshly started head has no job agent yet (Ray says 'try again later')."""
    for attempt in range(attempts):
        try:
            return c.submit_job(**kwargs)
        except RuntimeError as err:
            if "No available agent" not in str(err) or attempt == attempts - 1:
                raise UserError(f"the cluster did not accept the job: {str(err).strip().splitlines()[0]}") from None
            time.sleep(delay_s)
    raise AssertionError("unreachable")


async def _stream(c: Any, submission_id: str, keep: Callable[[str], bool] | None = None) -> None:
    """Print the job's log as it grows: all of it, or only the whole lines `keep` accepts."""
    partial = ""
    async for chunk in c.tail_job_logs(submission_id):
        if keep is None:
            print(chunk, end="", flush=True)
            continue
        *lines, partial = (partial + chunk).split("\n")
        for line in lines:
            if keep(line):
                print(line, flush=True)
    if keep is not None and partial and keep(partial):
        print(partial, flush=True)


def _is_progress(line: str) -> bool:
    """A local run's own lines: progress per iteration or epoch, a sweep's trial table, how it ended."""
    return bool(_PROGRESS_LINE.match(line)) or line.startswith(_OUTCOME_PREFIXES)


def watch(submission_id: str, *, address: str | None) -> int:
    """Follow a submitted job's training live, with the progress lines of a local run; exit with its outcome."""
    c = client(address)
    _info(c, submission_id)
    try:
        asyncio.run(_stream(c, submission_id, keep=_is_progress))
    except KeyboardInterrupt:
        print(f"\nstopped watching; the job keeps running (trainfleet stop {submission_id} stops it)")
        return 130
    return _outcome(c, submission_id)


def _outcome(c: Any, submission_id: str) -> int:
    info = c.get_job_info(submission_id)
    status = str(info.status)
    print(f"job {submission_id}: {status}" + (f" ({info.message})" if status != "SUCCEEDED" and info.message else ""))
    if status in EXIT:
        return EXIT[status]
    code = getattr(info, "driver_exit_code", None)
    return int(code) if code else 1


def last_progress(logs: str) -> dict[str, Any] | None:
    """Iteration, env steps and return from the last progress line of a run's log."""
    matches = list(_PROGRESS.finditer(logs))
    if not matches:
        return None
    m = matches[-1]
    ret = m.group(3)
    return {"iteration": int(m.group(1)), "env_steps": int(m.group(2).replace(",", "")),
            "episode_return_mean": None if ret == "n/a" else float(ret)}


def status(submission_id: str, *, address: str | None) -> int:
    c = client(address)
    info = _info(c, submission_id)
    print(f"job:        {submission_id}")
    print(f"status:     {info.status}")
    if info.message:
        print(f"message:    {info.message}")
    print(f"entrypoint: {info.entrypoint}")
    progress = last_progress(c.get_job_logs(submission_id))
    if progress:
        ret = progress["episode_return_mean"]
        print(f"progress:   iteration {progress['iteration']}, env steps {progress['env_steps']:,}, "
              f"return {'n/a' if ret is None else f'{ret:.2f}'}")
    print(f"dashboard:  {dashboard_address(address)}/#/jobs/{submission_id}")
    return 0


def logs(submission_id: str, *, address: str | None) -> int:
    c = client(address)
    _info(c, submission_id)
    sys.stdout.write(c.get_job_logs(submission_id))
    return 0


def stop(submission_id: str, *, address: str | None) -> int:
    c = client(address)
    _info(c, submission_id)
    stopped = c.stop_job(submission_id)
    print(f"job {submission_id}: {'stop requested' if stopped else 'already finished'}")
    return 0


def _info(c: Any, submission_id: str) -> Any:
    try:
        return c.get_job_info(submission_id)
    except RuntimeError as err:
        if "does not exist" in str(err) or "404" in str(err):
            raise UserError(f"no job {submission_id!r} on this cluster") from None
        raise
