"""Copies of the files a class edit rewrites, taken before it, so that the edit can be undone.

A rename or merge rewrites the class list and, for a merge, every label file holding the classes
whose ids move: one slip would otherwise shift every id and colour for good. Each edit leaves
``<root>/.sdgas/backups/<n>/`` (the files as they were, and ``manifest.json``: what the edit was,
when, which files it copied and which did not exist yet, and what the caller needs to undo it, such
as the class list before); ``restore`` puts the files back.

    b = Backups(root)
    b.take("merge 'scratch' into 'dent'", files, names=[...])   # before the edit, with what undoing needs
    b.seal()                                       # after it: the files' times, to tell later edits
    m = b.latest(); b.restore(m); b.drop(m)
"""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from core.util.io import atomic_write_bytes, atomic_write_text

BACKUP_DIR = Path(".sdgas") / "backups"
KEEP = 20


class Backups:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.dir = self.root / BACKUP_DIR

    def _all(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        return sorted((d for d in self.dir.iterdir() if d.name.isdigit() and (d / "manifest.json").is_file()),
                      key=lambda d: int(d.name))

    def take(self, what: str, files: list[Path], **meta) -> Path:
        """Copy ``files`` (those that exist; the others are noted, to be removed on restore); ``meta``
        (JSON) goes into the manifest."""
        old = self._all()
        n = int(old[-1].name) + 1 if old else 1
        dest = self.dir / str(n)
        tmp = self.dir / f".{n}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        copied, absent = [], []
        for i, f in enumerate(dict.fromkeys(Path(f) for f in files)):
            if f.is_file():
                shutil.copy2(f, tmp / str(i))
                copied.append([str(f), str(i)])
            else:
                absent.append(str(f))
        atomic_write_text(tmp / "manifest.json", json.dumps({**meta, "what": what, "time": time.time(),
                                                             "files": copied, "absent": absent, "after": {}}))
        tmp.rename(dest)   # whole or not at all
        for d in old[:max(0, len(old) + 1 - KEEP)]:
            shutil.rmtree(d, ignore_errors=True)
        return dest

    def seal(self) -> None:
        """After the edit: note each file's modification time, so a restore can tell later edits."""
        last = self.latest()
        if last is None:
            return
        files = [f for f, _ in last["files"]] + last["absent"]
        last["after"] = {f: Path(f).stat().st_mtime_ns for f in files if Path(f).is_file()}
        atomic_write_text(Path(last["path"]) / "manifest.json",
                          json.dumps({k: v for k, v in last.items() if k != "path"}))

    def latest(self) -> dict | None:
        """The newest backup's manifest (with its ``path``), or None."""
        for d in reversed(self._all()):
            try:
                m = json.loads((d / "manifest.json").read_text())
            except (OSError, ValueError):
                continue
            return {**m, "path": str(d)}
        return None

    def changed_since(self, m: dict) -> list[str]:
        """Files of backup ``m`` that were written again after its edit (a restore undoes that too)."""
        after = m.get("after") or {}
        out = []
        for f in [f for f, _ in m["files"]] + m["absent"]:
            p = Path(f)
            now = p.stat().st_mtime_ns if p.is_file() else None
            if now != after.get(f):
                out.append(f)
        return out

    def restore(self, m: dict, skip: set[str] = frozenset()) -> None:
        """Put backup ``m``'s files back (atomically, one by one), but those in ``skip``."""
        d = Path(m["path"])
        for f, name in m["files"]:
            if f not in skip:
                atomic_write_bytes(f, (d / name).read_bytes())
        for f in m["absent"]:
            if f not in skip:
                Path(f).unlink(missing_ok=True)

    def drop(self, m: dict) -> None:
        shutil.rmtree(m["path"], ignore_errors=True)
