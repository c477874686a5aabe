"""Work off the GUI thread: a function runs in a worker thread, its result comes back on the GUI thread.

Worker threads never touch Qt objects nor emit Qt signals (emitting from plain Python threads
corrupted reference counts in PySide6 6.12 here): futures wait until a GUI-thread timer polls them.
"""
from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer


class Background(QObject):
    """``submit(fn, done, failed)``: ``done(result)`` or ``failed(exception)`` is called on the GUI thread."""

    def __init__(self, parent=None, workers: int = 1, name: str = "background"):
        super().__init__(parent)
        self._pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._pending: list[tuple[cf.Future, Callable, Callable | None]] = []
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._poll)

    def submit(self, fn: Callable, done: Callable, failed: Callable | None = None) -> None:
        self._pending.append((self._pool.submit(fn), done, failed))
        self._timer.start(40)

    def busy(self) -> bool:
        return bool(self._pending)

    def _poll(self):
        ready = [p for p in self._pending if p[0].done()]
        self._pending = [p for p in self._pending if not p[0].done()]
        if not self._pending:
            self._timer.stop()
        for fut, done, failed in ready:
            try:
                result = fut.result()
            except Exception as e:  # noqa: BLE001 - handed to the caller as a message
                if failed is None:
                    raise
                failed(e)
                continue
            done(result)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the work submitted so far has run (only at exit: the GUI thread then waits)."""
        _, not_done = cf.wait([p[0] for p in self._pending], timeout)
        return not not_done

    def shutdown(self):
        self._timer.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
