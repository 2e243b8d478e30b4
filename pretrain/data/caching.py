"""Cache locations, stable hashes and all-or-nothing writes shared by the data layer.

Every cache entry is keyed by a hash of *what* produced it (corpus fingerprint,
settings, code version), so a changed input can never be served a stale file, and
every entry is written to a temporary path first and renamed into place, so an
interrupted run never leaves a half-written cache behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

CACHE_ENV_VAR = "PRETRAIN_CACHE_DIR"


def default_cache_dir() -> Path:
    """Where data caches live when the caller gives no directory: $PRETRAIN_CACHE_DIR or ~/.cache/pretrain."""
    return Path(os.environ.get(CACHE_ENV_VAR, Path.home() / ".cache" / "pretrain"))


def resolve_cache_dir(cache_dir: str | Path | None) -> Path:
    path = default_cache_dir() if cache_dir is None else Path(cache_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def stable_hash(*parts: object, length: int = 16) -> str:
    """A short hex digest of JSON-serialisable parts; identical across runs and machines."""
    payload = json.dumps(parts, sort_keys=True, default=str).encode("utf-8")
    return hashlib.sha256(payload).hexdigest()[:length]


def current_umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it; restored at once
    os.umask(mask)
    return mask


@contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``target`` only if the block finishes without error."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes it 0700; the result should follow the umask
    try:
        yield tmp
        if target.exists():
            # Another process (e.g. a second DDP rank) finished first; its result is identical by construction.
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# atomic_write's temp files: ".<target name>.<mkstemp's 8 random characters><target suffix>" beside the target.
_TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}(?P<suffix>\.[^.]*)?$")


def atomic_write(target: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` and rename the result onto ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes it 0600; the result should follow the umask
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def remove_stale_temp_files(directory: Path, suffix: str) -> list[Path]:
    """Delete the temp files that an atomic_write killed mid-write (SIGKILL, power loss: no `except` ran) left
    in `directory` for targets ending in `suffix`; return them. Call it only while nothing writes there."""
    stale = []
    for path in directory.glob(f".*{suffix}") if directory.is_dir() else []:
        match = _TEMP_NAME.match(path.name)
        if match and match["target"].endswith(suffix) and (match["suffix"] or "") == Path(match["target"]).suffix:
            path.unlink(missing_ok=True)
            stale.append(path)
    return stale
