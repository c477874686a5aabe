"""Where the application keeps its files: SDGAS_HOME, else ~/.sdgas."""
from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The repository (or installed package) folder: relative paths in bundled records start here."""
    return Path(__file__).resolve().parents[2]


def models_dir() -> Path:
    """The bundled models (resources/models in the repository or the installed package)."""
    return project_root() / "resources" / "models"


def app_dir() -> Path:
    return Path(os.environ.get("SDGAS_HOME") or Path.home() / ".sdgas")
