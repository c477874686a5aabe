"""Runs one inspection session (``core.Detector.inspect``) for a view and turns its states into signals.

The session's threads only queue states here; a GUI-thread timer emits them. Results are kept
as 'latest' for the view to pull at its own pace; every result still reaches the counters and
the records.

Stop never waits on the GUI thread: it asks the session to stop (the frame in hand is still
judged and recorded), and a worker thread then waits for the session's threads and closes its
records and line connections; ``closed`` says when that is done. Until then Start waits
(``closing()``): a new run must not share the PLC's port or the records with one still closing.
"""
from __future__ import annotations

import collections
import traceback

from PySide6.QtCore import QObject, QTimer, Signal

from app.services.background import Background
from core.inspect.options import InspectOptions


class InspectionService(QObject):
    state = Signal(str, str)
    error = Signal(str)
    finished = Signal()
    closed = Signal()     # the last run's threads have ended, its records and connections are closed

    def __init__(self, parent=None):
        super().__init__(parent)
        self.session = None          # the current or last InspectionSession (its counters stay readable after Stop)
        self._run = 0                # which run a queued state belongs to: a closing run's states are dropped
        self._closing: set[int] = set()   # runs (id of the session) handed to the closer, not yet closed
        self._states: collections.deque = collections.deque(maxlen=100)
        self.last_error: str | None = None
        self._closer = Background(self, name="session-closer")
        self._bg = Background(self, name="rejudge")
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._drain)
        self._timer.start(50)

    def start(self, detector, options: InspectOptions) -> bool:
        """Inspect with ``detector`` (a ``core.Detector``) as ``options`` say, through the facade as
        the CLI does; False (and ``error``) when the session cannot start or the last one is still
        closing."""
        if self.running():
            self.stop()
        if self._closing:
            self.last_error = "the last run is still closing its records; press Start again in a moment"
            self.error.emit(self.last_error)
            return False
        self._run += 1
        run = self._run
        try:
            self.session = detector.inspect(options, on_state=lambda s, m: self._states.append((run, s, m)),
                                            wait_outputs=False).start()
            return True
        except Exception as e:  # noqa: BLE001 - the session closed what it opened
            self.session = None
            self.last_error = f"cannot start '{options.source}': {e}"
            self.error.emit(self.last_error)
            traceback.print_exc()
            return False

    def _drain(self):  # GUI thread
        while self._states:
            run, state, msg = self._states.popleft()
            if run != self._run:
                continue      # a run that has been stopped says nothing more
            self.state.emit(state, msg)
            if state == "finished":
                self._close(self.session)
                self.finished.emit()

    def take_latest(self):
        return self.session.take_latest() if self.session else None

    def snapshot(self):
        """The counters now (``StatsSnapshot``) of the current or last run, or None before the first."""
        return self.session.snapshot() if self.session else None

    def pause(self):
        if self.running():
            self.session.pause()

    def resume(self):
        if self.running():
            self.session.resume()

    def step(self):
        if self.running():
            self.session.step()

    def set_recipe(self, recipe, signature=None):
        """``signature``: the edit's signed change (``core.security.users.Signature``), for the audit trail."""
        if self.running():
            self.session.set_recipe(recipe, signature=signature)

    def rejudge(self, result, done, failed) -> None:
        """``result``'s frame judged again under the recipe in force, off the GUI thread (not recorded);
        ``done(InspectionResult)`` on the GUI thread."""
        s = self.session
        if s is None or s.stopping:
            return
        self._bg.submit(lambda: s.rejudge(result), done, failed)

    def output_states(self) -> list:
        return self.session.output_states() if self.running() else []

    def recipe(self):
        """The recipe in force (a PLC may have switched it)."""
        return self.session.recipe if self.session else None

    def running(self) -> bool:
        return self.session is not None and self.session.running()

    def closing(self) -> bool:
        """A stopped run is still ending its threads and closing its records."""
        return bool(self._closing)

    def stop(self):
        """Stop judging at once; the session closes on a worker thread (``closed`` when done)."""
        s = self.session
        if s is None or s.stopping:
            return
        self._run += 1          # its last states (finished, warnings) are not this view's news any more
        s.request_stop()
        self._close(s)

    def _close(self, s):
        if s is None or id(s) in self._closing:
            return
        key = id(s)
        self._closing.add(key)

        def done(_=None):
            self._closing.discard(key)
            self.closed.emit()

        def failed(e):
            traceback.print_exception(e)
            done()

        self._closer.submit(s.stop, done, failed)

    def shutdown(self, timeout: float = 60.0) -> None:
        """At exit: stop, and wait until the records are written (the window is closing anyway)."""
        self.stop()
        self._closer.wait(timeout)
        self._closer.shutdown()
        self._bg.shutdown()
