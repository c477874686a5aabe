"""Where the application keeps its files, and its persisted settings (JSON, written atomically)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from core.config import APP_DEFAULTS
from core.util.io import atomic_write_text
from core.util.paths import app_dir  # noqa: F401 - part of this module's face

DEFAULTS = APP_DEFAULTS


def recipes_dir() -> Path:
    return app_dir() / "recipes"


class Settings:
    """A small JSON settings file; unknown keys are dropped, a corrupt file is set aside."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else app_dir() / "settings.json"
        self.values = dict(DEFAULTS)
        self.problem: str | None = None
        if self.path.exists():
            try:
                data = json.loads(self.path.read_text())
                if not isinstance(data, dict):
                    raise ValueError("not a JSON object")
                self.values.update({k: v for k, v in data.items() if k in DEFAULTS})
            except (OSError, ValueError) as e:
                self.problem = f"{self.path}: unreadable settings ({e}); defaults used, the file kept as .bad"
                try:
                    os.replace(self.path, self.path.with_suffix(".bad"))
                except OSError:
                    pass

    def __getitem__(self, k):
        return self.values[k]

    def __setitem__(self, k, v):
        if k not in DEFAULTS:
            raise KeyError(f"unknown setting '{k}'")
        self.values[k] = v

    def save(self):
        atomic_write_text(self.path, json.dumps(self.values, indent=2))
