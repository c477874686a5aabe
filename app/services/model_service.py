"""Loads weights through the ``Detector`` facade in a background thread.

Worker threads never touch Qt objects nor emit Qt signals: results wait in futures that a
GUI-thread timer polls, and the signals are emitted from there (emitting from plain Python
threads corrupted reference counts in PySide6 6.12 here).
"""
from __future__ import annotations

import concurrent.futures as cf

from PySide6.QtCore import QObject, QTimer, Signal

from core.config import LIVE_CONF_FLOOR


class ModelService(QObject):
    """``load(weights, source=...)`` -> ``loaded(predictor, path)`` or ``failed(message)``; ``weights``
    may name a bundled model (``default`` picks the demo model for the demo line)."""

    loaded = Signal(object, str)
    failed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-loader")
        self._pending: list[tuple[str, cf.Future]] = []
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._poll)

    def load(self, weights: str, device: str = "auto", imgsz: int | None = None, source: str | None = None):
        def work():
            from core.detector import Detector

            d = Detector(weights, device, source=source)
            return d.predictor(conf=LIVE_CONF_FLOOR, imgsz=imgsz), str(d.weights)

        self._pending.append((weights, self._pool.submit(work)))
        self._timer.start(50)

    def busy(self) -> bool:
        return bool(self._pending)

    def _poll(self):
        still = []
        for weights, fut in self._pending:
            if not fut.done():
                still.append((weights, fut))
                continue
            try:
                self.loaded.emit(*fut.result())
            except Exception as e:  # noqa: BLE001 - any failure becomes a message naming the file
                msg = str(e) if str(e).startswith(str(weights)) else f"{weights}: {e}"
                self.failed.emit(msg)
        self._pending = still
        if not still:
            self._timer.stop()
