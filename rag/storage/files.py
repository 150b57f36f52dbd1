"""Files that must never be seen half-written: atomic replacement, fsync, sha256.

Model caches (the assembled chat model, the converted MiniLM) are written through here so
that a reader, in this process or another, sees either no file or the whole file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def fsync_dir(directory: Path) -> None:
    """Make a rename inside `directory` durable. Best effort: not every platform lets a
    directory be opened or synced."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temp_beside(target: Path, suffix: str = ".tmp") -> Path:
    """A new empty temp file in `target`'s directory, so that moving it onto `target` is an
    atomic rename."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    os.close(fd)
    return Path(name)


def publish(tmp: Path, target: Path) -> None:
    """Flush `tmp` to disk and rename it onto `target`, durably."""
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, target)
    fsync_dir(target.parent)


def write_atomically(target: Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` and then publish `tmp` as `target`; if `write` fails, nothing is
    left behind and `target` is untouched."""
    tmp = temp_beside(target)
    try:
        write(tmp)
        publish(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
