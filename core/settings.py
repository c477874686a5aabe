"""Where the application keeps its files, and its persisted settings (JSON, written atomically, readable
by the owner only). A password in a connection setting (``SECRET_KEYS``) never stays in the file: it
goes to the secret store (``core.security.secrets``) and the setting keeps the URL without it."""
from __future__ import annotations

import json
import os
from pathlib import Path

from core.config import APP_DEFAULTS
from core.security.secrets import secret_name, set_secret, split_password
from core.util.io import atomic_write_text
from core.util.paths import app_dir  # noqa: F401 - part of this module's face

DEFAULTS = APP_DEFAULTS
SECRET_KEYS = ("db", "mqtt")        # connection settings whose password goes to the secret store


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
            else:
                try:
                    if self._move_secrets() or self.path.stat().st_mode & 0o077:
                        self.save()       # a file of an older version: its passwords leave it now
                except OSError as e:
                    self.problem = f"{self.path}: its passwords could not be moved to the secret store ({e})"

    def __getitem__(self, k):
        return self.values[k]

    def __setitem__(self, k, v):
        if k not in DEFAULTS:
            raise KeyError(f"unknown setting '{k}'")
        self.values[k] = v

    def _move_secrets(self) -> bool:
        moved = False
        for k in SECRET_KEYS:
            v = self.values.get(k)
            if isinstance(v, str) and v:
                bare, pw = split_password(v)
                if pw is not None:
                    set_secret(secret_name(v), pw)
                    self.values[k], moved = bare, True
        return moved

    def save(self):
        self._move_secrets()
        atomic_write_text(self.path, json.dumps(self.values, indent=2), mode=0o600)
