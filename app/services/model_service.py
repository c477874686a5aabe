"""Loads weights through the ``Detector`` facade in a background thread."""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.services.background import Background
from core.config import LIVE_CONF_FLOOR


class ModelService(QObject):
    """``load(weights, source=...)`` -> ``loaded(predictor, path)`` or ``failed(message)``; ``weights``
    may name a bundled or a registered model (``default`` picks the demo model for the demo line)."""

    loaded = Signal(object, str)
    failed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._bg = Background(self, name="model-loader")

    def load(self, weights: str, device: str = "auto", imgsz: int | None = None, source: str | None = None):
        def work():
            from core.detector import Detector

            d = Detector(weights, device, source=source)
            return d.predictor(conf=LIVE_CONF_FLOOR, imgsz=imgsz), str(d.weights)

        def failed(e):  # any failure becomes a message naming the file
            self.failed.emit(str(e) if str(e).startswith(str(weights)) else f"{weights}: {e}")

        self._bg.submit(work, lambda r: self.loaded.emit(*r), failed)

    def busy(self) -> bool:
        return self._bg.busy()
