"""Workers and signals between core and the GUI: the GUI thread never runs the model.

Worker threads never touch Qt objects, nor emit Qt signals: they leave results and messages in
thread-safe slots that a GUI-thread timer drains, and the signals are emitted from there.
(Emitting from plain Python threads corrupted reference counts in PySide6 6.12 here.)
"""
from __future__ import annotations

import collections
import concurrent.futures as cf
import threading
import traceback

from PySide6.QtCore import QObject, QTimer, Signal

from core.inspect.pipeline import InspectionResult, Pipeline
from core.inspect.records import RecordsWriter
from core.inspect.sources import open_source


class ModelLoader(QObject):
    """Loads weights in a background thread; emits ``loaded(predictor)`` or ``failed(message)``."""

    loaded = Signal(object)
    failed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-loader")
        self._pending: list[tuple[str, cf.Future]] = []
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._poll)

    def load(self, weights: str, device: str = "auto", imgsz: int | None = None):
        def work():
            from core.infer.predictor import Predictor

            return Predictor(weights, device, imgsz, conf=0.05)

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
                self.loaded.emit(fut.result())
            except Exception as e:  # noqa: BLE001 - any failure becomes a message naming the file
                msg = str(e) if str(e).startswith(str(weights)) else f"{weights}: {e}"
                self.failed.emit(msg)
        self._pending = still
        if not still:
            self._timer.stop()


class InspectionController(QObject):
    """Owns one pipeline run. Results are kept as 'latest' for the view to pull at its own pace;
    every result still reaches the counters and the records."""

    state = Signal(str, str)
    error = Signal(str)
    finished = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.pipeline: Pipeline | None = None
        self.records: RecordsWriter | None = None
        self._latest: InspectionResult | None = None
        self._lock = threading.Lock()
        self._states: collections.deque = collections.deque(maxlen=100)
        self.last_error: str | None = None
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._drain)
        self._timer.start(50)

    def start(self, source_spec: str, predictor, recipe, db: str | None, save_ng: str | None, save_all: bool,
              watch: bool, demo_fps: float) -> bool:
        self.stop()
        try:
            source = open_source(source_spec, watch=watch, demo_fps=demo_fps)
            self.records = RecordsWriter(db) if db else None
            self.pipeline = Pipeline(source, predictor, recipe, self.records, save_ng=save_ng or None,
                                     save_all=save_all, on_result=self._on_result, on_state=self._on_state)
            self.pipeline.start()
            return True
        except Exception as e:  # noqa: BLE001
            self.last_error = f"cannot start '{source_spec}': {e}"
            self.error.emit(self.last_error)
            self.pipeline = None
            if self.records:
                self.records.close()
                self.records = None
            traceback.print_exc()
            return False

    def _on_result(self, r: InspectionResult):  # inference thread
        with self._lock:
            self._latest = r

    def _on_state(self, state: str, msg: str):  # any thread: only queued here
        self._states.append((state, msg))

    def _drain(self):  # GUI thread
        while self._states:
            state, msg = self._states.popleft()
            self.state.emit(state, msg)
            if state == "finished":
                self.finished.emit()

    def take_latest(self) -> InspectionResult | None:
        with self._lock:
            r, self._latest = self._latest, None
            return r

    @property
    def stats(self):
        return self.pipeline.stats if self.pipeline else None

    def pause(self):
        if self.pipeline:
            self.pipeline.pause()

    def resume(self):
        if self.pipeline:
            self.pipeline.resume()

    def step(self):
        if self.pipeline:
            self.pipeline.step()

    def set_recipe(self, recipe):
        if self.pipeline:
            self.pipeline.set_recipe(recipe)

    def running(self) -> bool:
        return self.pipeline is not None and not self.pipeline.finished.is_set()

    def stop(self):
        if self.pipeline:
            self.pipeline.stop()
            self.pipeline = None
        if self.records:
            self.records.close()
            self.records = None
