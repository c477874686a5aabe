"""Atomic file writes (a temp file in the same folder, fsync, then os.replace), and reading only
regular files (a FIFO or a device named like an image would block the reader forever)."""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


class NotRegularFile(OSError):
    """A path that names a FIFO, a device, a socket or a folder: never opened to be read."""

    def __init__(self, path, what: str):
        super().__init__(f"{path}: not a regular file ({what})")
        self.filename, self.strerror = str(path), f"not a regular file ({what})"   # after: OSError() clears them

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


def _kind(mode: int) -> str:
    return ("a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a socket"
            if stat.S_ISSOCK(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a file")


def read_regular(path: str | os.PathLike) -> bytes:
    """The bytes of the regular file ``path``; NotRegularFile for anything else. Checked before the
    open (opening a FIFO waits for a writer, a device may do something), and again on what was opened,
    without waiting (O_NONBLOCK), in case the name was swapped in between."""
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotRegularFile(path, _kind(mode))
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with open(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(path, _kind(mode))
        return f.read()


def atomic_write_bytes(path: str | os.PathLike, data: bytes, mode: int | None = None) -> None:
    """Write ``data`` to ``path`` so that readers see either the old or the new file, never half.
    ``mode``: the file's permissions (0o600 for a file of secrets); else the old file's, or 0644."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:  # mkstemp makes 0600 files: keep the old file's mode, or the usual 0644
            os.chmod(tmp, mode if mode is not None else path.stat().st_mode & 0o7777 if path.exists() else 0o644)
        except OSError:
            pass
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8", mode: int | None = None) -> None:
    atomic_write_bytes(path, text.encode(encoding), mode)


def write_json(path: str | os.PathLike, obj, indent: int = 2, mode: int | None = None) -> None:
    """``obj`` as JSON, written atomically."""
    import json

    atomic_write_text(path, json.dumps(obj, indent=indent), mode=mode)


def to_plain(obj):
    """A value safe for ``weights_only`` loading, JSON and YAML: dicts, lists and Python scalars."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    return obj
