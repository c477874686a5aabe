"""Following a file another process appends to."""
from __future__ import annotations

import os
from pathlib import Path


class LineTail:
    """The complete lines added to a growing file since the last ``read`` (a missing file has none
    yet; a line still being written waits for its newline)."""

    def __init__(self, path: str | os.PathLike):
        self.path, self.pos, self.buf = Path(path), 0, ""

    def read(self) -> list[str]:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                f.seek(self.pos)
                chunk = f.read()
                self.pos = f.tell()
        except FileNotFoundError:
            return []
        self.buf += chunk
        *lines, self.buf = self.buf.split("\n")
        return lines
