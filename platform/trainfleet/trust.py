"""Signatures on the run-directory files only code can read, so `run --resume` loads no one else's pickle.

Resuming means handing Tune its experiment state (`tuner.pkl`, experiment state with pickled
parts, searcher state) and RLlib its checkpoints: unpickling them runs whatever code they name.
So while a run writes them, trainfleet signs every file under RUN_DIR/tune/ with an HMAC-SHA256
(over the file's relative path and bytes) keyed by a per-user secret, created on first use with
mode 0600, and `--resume` goes on only when every such file verifies. A run directory from
another user or machine, or one changed after the run, is refused before anything is loaded.
`eval` and `report` need none of this: they read only weights-only tensors, JSON and Parquet.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from trainfleet import results
from trainfleet.errors import UserError

SECRET_ENV = "TRAINFLEET_SECRET_FILE"
SIGNATURES_FILE = "signatures.json"
SIGNED_DIR = "tune"
# Written and read by Tune as plain text or TensorBoard records, never unpickled; they grow with
# every result, so signing them would only widen the window a killed driver leaves unsigned.
_INERT = ("events.out.tfevents.", "result.json", "progress.csv")
# trainfleet's own files at the top of a checkpoint (state.pt, progress.json, trial_spec.json, ...):
# read back only through weights-only torch.load, JSON and spec validation, so they run no code
# signed or not, and a driver killed between writing them and signing them stays resumable; `verify`
# checks instead that each state.pt loads. RLlib's subfolder and Tune's .pkl files stay signed.
_CHECKPOINT_DATA = (".json", ".pt", ".npy", ".parquet")


def secret_path() -> Path:
    return Path(os.environ.get(SECRET_ENV) or Path.home() / ".config" / "trainfleet" / "secret")


def user_secret() -> bytes:
    """The per-user HMAC key: created on first use (mode 0600), refused when others can read it."""
    path = secret_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another trainfleet process created it meanwhile
            pass
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(secrets.token_bytes(32))
    if path.stat().st_mode & 0o077:
        raise UserError(f"{path}: trainfleet's signing secret is readable by other users; `chmod 600 {path}`")
    key = path.read_bytes()
    if len(key) < 32:
        raise UserError(f"{path}: trainfleet's signing secret is damaged; delete it (runs signed with it "
                        "can then no longer be resumed, only started afresh)")
    return key


def _mac(key: bytes, rel: str, path: Path) -> str:
    digest = hmac.new(key, rel.encode() + b"\0", hashlib.sha256)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _signed_files(run_dir: Path) -> dict[str, Path]:
    root = run_dir / SIGNED_DIR
    out = {}
    for path in sorted(root.rglob("*")) if root.is_dir() else ():
        if not (path.is_file() or path.is_symlink()) or path.name.startswith(_INERT):
            continue
        if not _checkpoint_data(path):
            out[path.relative_to(run_dir).as_posix()] = path
    return out


def _checkpoint_data(path: Path) -> bool:
    return path.parent.name.startswith("checkpoint_") and path.suffix in _CHECKPOINT_DATA


class Signer:
    """Signs the run's Tune files as they appear or change (cheap: unchanged files are skipped).

    Tune pickles its callbacks (and so this signer) into the run directory: the key is never
    part of that state.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.key = user_secret()
        self.macs: dict[str, str] = {}
        self._seen: dict[str, tuple[int, int]] = {}

    def __getstate__(self) -> dict:
        return {"run_dir": self.run_dir, "macs": {}, "_seen": {}}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.key = user_secret()

    def sign(self) -> None:
        changed = False
        for rel, path in _signed_files(self.run_dir).items():
            if path.is_symlink():
                continue  # never vouch for a link: its target is not the run's
            st = path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
            if self._seen.get(rel) != stamp:
                self._seen[rel] = stamp
                self.macs[rel] = _mac(self.key, rel, path)
                changed = True
        if changed:
            results.write_json(self.run_dir / SIGNATURES_FILE, {"hmac_sha256": self.macs})


def verify(run_dir: str | Path) -> None:
    """Every file Tune or RLlib would unpickle on resume carries this user's signature, or a UserError."""
    run_dir = Path(run_dir)
    how = (f"resume only runs this user's trainfleet wrote; to continue from it anyway, start a fresh run "
           f"from its spec: `trainfleet run {run_dir / 'spec.yaml'}`")
    path = run_dir / SIGNATURES_FILE
    if not path.is_file():
        raise UserError(f"{path}: missing, so the pickled Tune state in {run_dir / SIGNED_DIR} cannot be "
                        f"verified; {how}")
    recorded = results.read_json(path)
    macs = recorded.get("hmac_sha256") if isinstance(recorded, dict) else None
    if not isinstance(macs, dict):
        raise UserError(f"{path}: not a signature list; {how}")
    key = user_secret()
    for rel, file in _signed_files(run_dir).items():
        expected = macs.get(rel)
        if file.is_symlink() or not isinstance(expected, str) or not hmac.compare_digest(expected, _mac(key, rel, file)):
            raise UserError(f"{file}: not signed by this user's trainfleet (changed, added, or from another "
                            f"user or machine); {how}")
    for state in (run_dir / SIGNED_DIR).rglob("*.pt"):
        if _checkpoint_data(state):
            from trainfleet.rl.core.checkpoint import load_weights_only

            load_weights_only(state)  # a damaged checkpoint is a one-line error before Tune starts
