"""Named JSON documents in a folder, one file per name, written atomically (recipes, presets)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from core.util.io import atomic_write_text

_NAME = re.compile(r"^[^/\\:*?\"<>|\x00-\x1f]{1,80}$")


class JsonStore:
    def __init__(self, folder: str | Path, what: str = "document"):
        self.folder = Path(folder)
        self.what = what

    def _path(self, name: str) -> Path:
        if not _NAME.match(name or "") or name.strip(". ") != name.strip():
            raise ValueError(f"'{name}' is not a usable {self.what} name")
        return self.folder / f"{name}.json"

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.json"))

    def load_dict(self, name: str) -> dict:
        p = self._path(name)
        try:
            d = json.loads(p.read_text())
        except FileNotFoundError:
            raise ValueError(f"no {self.what} named '{name}' in {self.folder}") from None
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"{p}: not a valid {self.what} ({e})") from None
        if not isinstance(d, dict):
            raise ValueError(f"{p}: not a valid {self.what} (not a JSON object)")
        return d

    def save_dict(self, name: str, d: dict) -> Path:
        p = self._path(name)
        atomic_write_text(p, json.dumps(d, indent=2))
        return p

    def delete(self, name: str) -> None:
        self._path(name).unlink(missing_ok=True)
