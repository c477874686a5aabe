"""Runs one inspection session (``core.Detector.inspect``) for a view and turns its states into signals.

The session's threads only queue states here; a GUI-thread timer emits them. Results are kept
as 'latest' for the view to pull at its own pace; every result still reaches the counters and
the records.
"""
from __future__ import annotations

import collections
import traceback

from PySide6.QtCore import QObject, QTimer, Signal

from core.inspect.options import InspectOptions


class InspectionService(QObject):
    state = Signal(str, str)
    error = Signal(str)
    finished = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.session = None      # the running core.inspect.session.InspectionSession
        self._states: collections.deque = collections.deque(maxlen=100)
        self.last_error: str | None = None
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._drain)
        self._timer.start(50)

    def start(self, detector, options: InspectOptions) -> bool:
        """Inspect with ``detector`` (a ``core.Detector``) as ``options`` say, through the facade as
        the CLI does; False (and ``error``) when the session cannot start."""
        self.stop()
        try:
            self.session = detector.inspect(options, on_state=self._on_state, wait_outputs=False).start()
            return True
        except Exception as e:  # noqa: BLE001 - the session closed what it opened
            self.session = None
            self.last_error = f"cannot start '{options.source}': {e}"
            self.error.emit(self.last_error)
            traceback.print_exc()
            return False

    def _on_state(self, state: str, msg: str):  # any thread: only queued here
        self._states.append((state, msg))

    def _drain(self):  # GUI thread
        while self._states:
            state, msg = self._states.popleft()
            self.state.emit(state, msg)
            if state == "finished":
                self.finished.emit()

    def take_latest(self):
        return self.session.take_latest() if self.session else None

    def snapshot(self):
        """The counters now (``StatsSnapshot``), or None before the first start."""
        return self.session.snapshot() if self.session else None

    def pause(self):
        if self.session:
            self.session.pause()

    def resume(self):
        if self.session:
            self.session.resume()

    def step(self):
        if self.session:
            self.session.step()

    def set_recipe(self, recipe):
        if self.session:
            self.session.set_recipe(recipe)

    def output_states(self) -> list:
        return self.session.output_states() if self.session else []

    def recipe(self):
        """The recipe in force (a PLC may have switched it)."""
        return self.session.recipe if self.session else None

    def running(self) -> bool:
        return self.session is not None and self.session.running()

    def stop(self):
        if self.session:
            self.session.stop()
            self.session = None
