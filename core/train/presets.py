"""Named training presets: the settings of the training dialogs, saved and loaded by name."""
from __future__ import annotations

from pathlib import Path

from core.config import TrainConfig
from core.util.json_store import JsonStore
from core.util.paths import app_dir

_RUN_ONLY = ("data", "teacher", "ensemble_teachers", "weights", "out", "resume", "events")   # what belongs to one run, not a preset


def presets_dir() -> Path:
    return app_dir() / "train_presets"


class PresetStore(JsonStore):
    def __init__(self, folder: str | Path | None = None):
        super().__init__(folder or presets_dir(), "training preset")

    def save(self, name: str, settings: dict) -> Path:
        """Checks the settings (``TrainConfig``'s names and ranges) and saves all but the run's own."""
        d = {k: v for k, v in settings.items() if k not in _RUN_ONLY}
        TrainConfig.from_dict({**d, "data": "x"})
        return self.save_dict(name, d)

    def load(self, name: str) -> dict:
        d = {k: v for k, v in self.load_dict(name).items() if k not in _RUN_ONLY}
        try:
            TrainConfig.from_dict({**d, "data": "x"})
        except (TypeError, ValueError) as e:
            raise ValueError(f"{self._path(name)}: {e}") from None
        return d
