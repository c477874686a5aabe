"""Where the application keeps its files: SDGAS_HOME, else ~/.sdgas."""
from __future__ import annotations

import os
from pathlib import Path


def app_dir() -> Path:
    return Path(os.environ.get("SDGAS_HOME") or Path.home() / ".sdgas")
