"""Signatures on the run-directory files only code can read, so `run --resume` loads no one else's pickle.

Resuming means handing Tune its experiment state (`tuner.pkl`, experiment state with pickled
parts, searcher state) and RLlib its checkpoints: unpickling them runs whatever code they name.
So while a run writes them, trainfleet signs every file under RUN_DIR/tune/ with an HMAC-SHA256
(over the file's relative path and bytes) keyed by a per-user secret, created on first use with
mode 0600, and `--resume` goes on only when every such file verifies. A run directory from
another user or machine, or one changed after the run, is refused before anything is loaded.
`eval` and `report` need none of this: they read only weights-only tensors, JSON and Parquet.
Tune rewrites its experiment state while the run goes; how a driver killed mid-rewrite stays
resumable is told in `Signer`.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

from trainfleet import results
from trainfleet.errors import UserError

SECRET_ENV = "TRAINFLEET_SECRET_FILE"
SIGNATURES_FILE = "signatures.json"
SIGNED_DIR = "tune"
SNAPSHOT_DIR = ".signed_state"
# Versions of one file accepted on resume: Tune's background copy may not have caught up with the
# newest state when the driver dies, and every version it could have left was signed.
_VERSIONS_KEPT = 3
# A file changed within this many seconds is hashed again even when its stamp is unchanged.
_FRESH_S = 2.0
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


def _mac_bytes(key: bytes, rel: str, data: bytes) -> str:
    return hmac.new(key, rel.encode() + b"\0" + data, hashlib.sha256).hexdigest()


def _signable(path: Path) -> bool:
    return (path.is_file() or path.is_symlink()) and not path.name.startswith(_INERT)


def _signed_files(run_dir: Path) -> dict[str, Path]:
    root = run_dir / SIGNED_DIR
    out = {}
    for path in sorted(root.rglob("*")) if root.is_dir() else ():
        if _signable(path) and not _checkpoint_data(path):
            out[path.relative_to(run_dir).as_posix()] = path
    return out


def _checkpoint_data(path: Path) -> bool:
    return path.parent.name.startswith("checkpoint_") and path.suffix in _CHECKPOINT_DATA


def _snapshot(run_dir: Path, rel: str) -> Path:
    return run_dir / SNAPSHOT_DIR / rel


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with results.atomic_write(path) as tmp:  # renamed over the file, a planted symlink included
        tmp.write_bytes(data)


class Signer:
    """Signs the run's Tune files as they appear or change (cheap: unchanged files are skipped).

    Tune writes its experiment, searcher and callback state into a staging directory on the
    driver and copies it into RUN_DIR/tune/ from a background thread. Those files are signed
    from the staging copy, right after Tune writes it (`on_step_end`): whichever of the last few
    versions the copy left in the run directory when a driver is killed, its bytes are signed.
    The newest signed bytes are also kept in RUN_DIR/.signed_state/ for a copy cut short.

    Tune pickles its callbacks (and so this signer) into the run directory: the key is never
    part of that state.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.key = user_secret()
        self.staging: Path | None = None
        self.macs: dict[str, list[str]] = {}
        self._seen: dict[str, tuple[int, ...]] = {}

    def __getstate__(self) -> dict:
        return {"run_dir": self.run_dir, "staging": None, "macs": {}, "_seen": {}}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.key = user_secret()

    def sign(self, staging: str | Path | None = None) -> None:
        """Sign what changed: Tune's staged state (when its directory is known) and RUN_DIR/tune/."""
        if staging is not None:
            self.staging = Path(staging)
        staged = self._sign_staged()
        changed = bool(staged)
        for rel, path in _signed_files(self.run_dir).items():
            if rel in staged or path.is_symlink():
                continue  # a staged file is signed from the bytes Tune wrote; a link is never vouched for
            if self.staging is not None and (self.staging / Path(rel).relative_to(SIGNED_DIR)).is_file():
                continue  # a copy of a staged file: its staged bytes are what was signed
            if self._unchanged(rel, path):
                continue
            changed = self._accept(rel, _mac(self.key, rel, path)) or changed
        if changed:
            results.write_json(self.run_dir / SIGNATURES_FILE, {"hmac_sha256": self.macs})

    def _sign_staged(self) -> set[str]:
        if self.staging is None or not self.staging.is_dir():
            return set()
        signed = set()
        for path in sorted(self.staging.rglob("*")):
            if not _signable(path) or path.is_symlink():
                continue
            rel = (Path(SIGNED_DIR) / path.relative_to(self.staging)).as_posix()
            if self._unchanged(rel, path):
                continue
            data = path.read_bytes()  # hash and keep the very bytes read, whatever Tune writes next
            if self._accept(rel, _mac_bytes(self.key, rel, data)):
                _write_bytes(_snapshot(self.run_dir, rel), data)
                signed.add(rel)
        return signed

    def _unchanged(self, rel: str, path: Path) -> bool:
        """Same stamp as when last signed. A file changed in the last seconds is hashed again:
        timestamps tick coarsely, so a rewrite of the same size can keep its stamp."""
        st = path.stat()
        stamp = (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
        if self._seen.get(rel) == stamp:
            return True
        if time.time_ns() - st.st_mtime_ns > _FRESH_S * 1e9:
            self._seen[rel] = stamp
        return False

    def _accept(self, rel: str, mac: str) -> bool:
        """Add a MAC to the file's accepted versions (the newest few); True when it is new."""
        versions = self.macs.setdefault(rel, [])
        if versions and versions[-1] == mac:
            return False
        if mac in versions:
            versions.remove(mac)
        versions.append(mac)
        del versions[:-_VERSIONS_KEPT]
        return True


def verify(run_dir: str | Path) -> list[str]:
    """Every file Tune or RLlib would unpickle on resume carries this user's signature, or a UserError.

    Returns the files put back from their last signed copy (a driver killed while Tune copied
    them into the run directory leaves them cut short).
    """
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
    restored = []
    for rel, file in _signed_files(run_dir).items():
        accepted = macs.get(rel)
        accepted = [accepted] if isinstance(accepted, str) else accepted if isinstance(accepted, list) else []
        if not file.is_symlink() and _mac(key, rel, file) in accepted:
            continue
        if _restore_signed_copy(run_dir, rel, key, accepted):
            restored.append(rel)
            continue
        raise UserError(f"{file}: not signed by this user's trainfleet (changed, added, or from another "
                        f"user or machine); {how}")
    for state in (run_dir / SIGNED_DIR).rglob("*.pt"):
        if _checkpoint_data(state):
            from trainfleet.rl.core.checkpoint import load_weights_only

            load_weights_only(state)  # a damaged checkpoint is a one-line error before Tune starts
    return restored


def _restore_signed_copy(run_dir: Path, rel: str, key: bytes, accepted: list[str]) -> bool:
    """Put the newest signed bytes of a staged state file back in place; False if there are none."""
    copy = _snapshot(run_dir, rel)
    if copy.is_symlink() or not copy.is_file() or not accepted:
        return False
    data = copy.read_bytes()
    if not hmac.compare_digest(accepted[-1], _mac_bytes(key, rel, data)):
        return False
    _write_bytes(run_dir / rel, data)
    return True
