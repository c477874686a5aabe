"""A camera on its own thread for the settings dialog: the newest frame for a live preview, and
feature writes queued to the thread that owns the device (a camera is driven from one thread).
The caller polls ``latest`` and ``features``; nothing here calls back into a GUI."""
from __future__ import annotations

import queue
import threading

from . import features, parse_uri
from .base import CameraError
from .source import CameraSource


class CameraPreview:
    def __init__(self, uri: str):
        scheme, ident, q = parse_uri(uri)
        cti = f"?cti={q['cti']}" if q.get("cti") else ""
        self.source = CameraSource(f"{scheme}://{ident}{cti}")   # free-run, whatever the line's trigger
        self.error: str | None = None
        self.messages: list[str] = []                  # refused writes, lost camera...
        self._features: list = []
        self._latest = None
        self._cmds: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self.source.on_state = lambda state, msg: self.messages.append(msg) if state != "live" else None
        self._thread = threading.Thread(target=self._run, name="camera-preview", daemon=True)
        self._thread.start()

    def _run(self):
        try:
            self.source.open()
        except (CameraError, OSError) as e:
            self.error = str(e)
            return
        self._refresh()
        while not self.source.stop_event.is_set():
            self._do_commands()
            f = self.source.read()
            if f is None:
                break
            with self._lock:
                self._latest = f
        self.source.close()

    def _do_commands(self):
        changed = False
        while True:
            try:
                name, value = self._cmds.get_nowait()
            except queue.Empty:
                break
            changed = True
            from . import settings

            dev = self.source.device
            if dev is None:
                self.messages.append(f"{name}: the camera is not connected")
                continue
            stop = name in settings.NEEDS_STOP
            if stop:
                dev.stop()
            try:
                dev.set(name, value)
            except CameraError as e:
                self.messages.append(str(e))
            finally:
                if stop:
                    dev.start(self.source.buffers)
        if changed:
            self._refresh()

    def _refresh(self):
        """Read the features with acquisition stopped: ROI and pixel format are locked while a camera
        acquires, and the dialog must show what can be set, not what is locked this instant."""
        dev = self.source.device
        if dev is not None:
            dev.stop()
            try:
                fs = features(dev)
            finally:
                dev.start(self.source.buffers)
            with self._lock:
                self._features = fs

    def set(self, name: str, value) -> None:
        """Write ``name`` on the camera's thread; ``features`` shows what it read back."""
        self._cmds.put((name, value))

    def latest(self):
        """The newest frame not yet taken (a ``Frame``), or None."""
        with self._lock:
            f, self._latest = self._latest, None
            return f

    def features(self) -> list:
        with self._lock:
            return list(self._features)

    def close(self) -> None:
        self.source.stop_event.set()
        self._thread.join(5)
