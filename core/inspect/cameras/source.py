"""A GenICam camera as an inspection source, in one of three acquisition modes:

- ``free-run`` (default): the camera runs at its frame rate; the pipeline keeps the newest frame.
- ``software`` (``?trigger=software``): the pipeline asks for a frame (``snap``), on a PLC trigger
  or when it is ready; the camera's ``TriggerSoftware`` fires and exactly that frame comes back,
  never an older buffered one.
- ``hardware`` (``?trigger=hardware[&line=Line1]``): the line's sensor triggers the camera; every
  frame is judged, and frames the transport lost (incomplete buffers, gaps in the frame ids) become
  ERROR frames that say so.

The camera's own frame id and timestamp travel with each frame. A camera that goes away gives a
"no signal" ERROR frame and is reopened with back-off (0.5 s doubling to 8 s), its settings written
again. Camera settings come from the recipe (``set_recipe``): they are written between two grabs
by the thread that grabs, and each frame carries the recipe whose settings it was taken with.
"""
from __future__ import annotations

import collections
import threading
import time

from ..frame import Frame, Source
from . import backend, parse_uri, settings
from .base import CameraError, Device, Grab
from .pixels import PixelFormatError, to_bgr

MODES = ("free-run", "software", "hardware")
BACKOFF = (0.5, 8.0)
HEARTBEAT_S = 2.0     # while no frame comes, read a feature this often: a camera that is gone fails it
SILENCE_S = 5.0       # free-run: this long without a frame and the camera is reopened
MAX_LOST_ROWS = 100   # one ERROR frame per lost frame, up to this many per gap (the rest summed up)


class CameraSource(Source):
    def __init__(self, uri: str, buffers: int = 16, trigger_timeout_s: float = 2.0):
        self.scheme, self.ident, q = parse_uri(uri)
        self.mode = q.get("trigger", "free-run").replace("off", "free-run")
        if self.mode not in MODES:
            raise CameraError(f"'{uri}': trigger={self.mode} is not one of off, software, hardware")
        mode, line = settings.TRIGGER_MODES[self.mode]
        self.trigger = (mode, q.get("line", line) if self.mode == "hardware" else line)
        self.backend = backend(self.scheme, q.get("cti"))
        self.name = f"{self.scheme}://{self.ident}" + ("" if self.mode == "free-run" else f" ({self.mode} trigger)")
        self.live = self.mode == "free-run"        # the pipeline keeps the newest frame
        self.on_demand = self.mode == "software"   # the pipeline calls snap() for each frame
        self.buffers, self.trigger_timeout_s = buffers, trigger_timeout_s
        self.stop_event = threading.Event()
        self.on_state = lambda state, msg: None     # the pipeline's: NO SIGNAL, warnings
        self.on_applied = lambda values: None       # what the camera really took, for the audit trail
        self.device: Device | None = None
        self.index = 0
        self.lost = 0        # frames the transport lost
        self.stale = 0       # buffered frames thrown away before a software trigger
        self.reconnects = 0
        self.applied: dict = {}
        self._recipe = None
        self._pending = None
        self._lock = threading.Lock()
        self._out: collections.deque[Frame] = collections.deque()
        self._last_id: int | None = None
        self._backoff = BACKOFF[0]
        self._bad_format: str | None = None
        self._last_grab = self._last_beat = 0.0

    # ----------------------------------------------------------------------------- recipe
    def set_recipe(self, recipe) -> None:
        """Write ``recipe.camera`` before the next grab; frames from then on carry ``recipe``."""
        with self._lock:
            self._pending = recipe

    def _apply_pending(self) -> None:
        with self._lock:
            recipe, self._pending = self._pending, None
        if recipe is None:
            return
        if self.mode == "hardware":   # frames already taken belong to the old recipe
            self._drain(keep=True)
        camera = getattr(recipe, "camera", None) or {}
        stop = settings.needs_stop(camera, self.device)
        if stop:
            self.device.stop()
        self._recipe = recipe
        self._write(camera)
        if stop:
            self.device.start(self.buffers)
        if self.mode != "hardware":   # frames exposed before the change are not this recipe's
            self._drain(keep=False)

    def _write(self, camera: dict, trigger=None) -> None:
        self.applied, problems = settings.apply(self.device, camera, trigger)
        self.on_applied(dict(self.applied))
        if problems:
            self.on_state("warning", f"{self.name}: " + "; ".join(problems))

    # ----------------------------------------------------------------------------- open
    def open(self) -> None:
        """Open the camera, write the trigger mode and the recipe's settings, start acquiring."""
        dev = self.backend.open(self.ident)
        try:
            self.device = dev
            with self._lock:
                recipe, self._pending = self._pending or self._recipe, None
            self._recipe = recipe
            self._write(getattr(recipe, "camera", None) or {}, self.trigger)
            dev.start(self.buffers)
        except BaseException:
            self.device = None
            dev.close()
            raise
        self._last_id = None
        self._backoff = BACKOFF[0]
        self._last_grab = self._last_beat = time.monotonic()

    def interrupt(self) -> None:
        """Stop: the read in progress ends at its next wait (``Source.interrupt``)."""
        self.stop_event.set()

    def close(self) -> None:
        self.stop_event.set()
        dev, self.device = self.device, None
        if dev is not None:
            try:
                dev.close()
            except Exception:  # noqa: BLE001 - closing a camera that is gone
                pass

    def describe(self) -> str:
        return self.name

    # ----------------------------------------------------------------------------- frames
    def read(self) -> Frame | None:
        """The next frame (free-run and hardware trigger); None once stopping."""
        return self._loop(self._next)

    def snap(self) -> Frame | None:
        """Software trigger: fire the camera now and return exactly that frame."""
        return self._loop(self._fire)

    def _loop(self, attempt) -> Frame | None:
        """Frames owed first; a camera that is gone reopened after the back-off; pending settings
        written; then ``attempt`` until it gives a frame. None once stopping."""
        while not self.stop_event.is_set():
            if self._out:
                return self._out.popleft()
            if self.device is None:
                if (failed := self._reconnect()) is not None:
                    return failed
                continue
            try:
                self._apply_pending()
                f = attempt()
            except Exception as e:  # noqa: BLE001 - any driver failure here means the camera is gone
                return self._lost(e)
            if f is not None:
                return f
        return None

    def _next(self) -> Frame | None:
        g = self.device.grab(0.5)
        if g is None:
            self._check_quiet()
            return None
        self._last_grab = time.monotonic()
        self._take(g)
        return self._out.popleft()

    def _fire(self) -> Frame:
        self._drain(keep=False)     # never an older buffered frame
        t = time.monotonic()
        self.device.execute("TriggerSoftware")
        g = self.device.grab(self.trigger_timeout_s)
        if g is None:
            self._last_beat = 0.0    # is it still there? (raises when gone)
            self._check_quiet()
            return self._error(f"no frame within {self.trigger_timeout_s:.1f} s of the software trigger")
        self._last_grab = time.monotonic()
        self._take(g, t)
        return self._out.popleft()

    def _check_quiet(self) -> None:
        """No frame: normal for a triggered camera waiting for parts; a free-running one that stays
        silent, or a camera that no longer answers a feature read, is gone (CameraError)."""
        now = time.monotonic()
        quiet = now - self._last_grab
        if now - self._last_beat >= HEARTBEAT_S:
            self._last_beat = now
            if self.device.get("PixelFormat").access == "absent":
                raise CameraError("the camera does not answer")
        if self.mode == "free-run" and quiet >= SILENCE_S:
            raise CameraError(f"no frame for {quiet:.0f} s")
        return None

    def _drain(self, keep: bool) -> None:
        """Take what the camera has buffered: kept as frames (hardware), or counted as stale."""
        while (g := self.device.grab(0.001)) is not None:
            if keep:
                self._take(g)
            else:
                self.stale += 1
                self._last_id = g.frame_id if g.frame_id is not None else self._last_id

    def _take(self, g: Grab, t: float | None = None) -> None:
        """A grab -> frame(s) on ``_out``: lost frames before it first, then its own."""
        t = time.monotonic() if t is None else t
        if g.frame_id is not None and self._last_id is not None and g.frame_id > self._last_id + 1 \
                and self.mode != "free-run":
            missing = g.frame_id - self._last_id - 1
            self.lost += missing
            for k in range(min(missing, MAX_LOST_ROWS)):
                fid = self._last_id + 1 + k
                more = f" ({missing - MAX_LOST_ROWS} more not listed)" if k == MAX_LOST_ROWS - 1 < missing - 1 else ""
                self._out.append(self._frame(None, f"lost in transport: frame id {fid} never arrived{more}", t, fid))
            self.on_state("warning", f"{self.name}: {self.lost} frame(s) lost in transport")
        if g.frame_id is not None:
            self._last_id = g.frame_id
        if g.error:
            self.lost += 1
            self.on_state("warning", f"{self.name}: {self.lost} frame(s) lost in transport")
            self._out.append(self._frame(None, f"lost in transport: {g.error}", t, g.frame_id, g.timestamp))
            return
        try:
            img = to_bgr(g.raw, g.pixel_format, g.width, g.height)
        except PixelFormatError as e:
            if self._bad_format != g.pixel_format:
                self._bad_format = g.pixel_format
                self.on_state("warning", f"{self.name}: {e}")
            self._out.append(self._frame(None, f"bad frame: {e}", t, g.frame_id, g.timestamp))
            return
        self._out.append(self._frame(img, None, t, g.frame_id, g.timestamp))

    def _frame(self, img, error, t, frame_id=None, ts=None) -> Frame:
        i = self.index
        self.index += 1
        name = f"{frame_id}" if frame_id is not None else f"{i}"
        return Frame(i, name, img, error, t, self.name, camera_frame_id=frame_id, camera_ts=ts, recipe=self._recipe)

    def _error(self, msg: str) -> Frame:
        return self._frame(None, msg, time.monotonic())

    def _lost(self, e: Exception) -> Frame:
        """The camera went away: close it, say so, and reopen it on the next read."""
        dev, self.device = self.device, None
        try:
            dev.close()
        except Exception:  # noqa: BLE001 - it is gone already
            pass
        self._backoff = BACKOFF[0]
        msg = str(e) if self.name in str(e) or self.scheme in str(e) else f"{self.name}: camera lost ({e})"
        self.on_state("no signal", f"{msg}; reconnecting in {self._backoff:.1f}s")
        return self._error(f"no signal: {msg}")

    def _reconnect(self) -> Frame | None:
        """Wait the back-off, then reopen; an ERROR frame when the camera is still away."""
        if self.stop_event.wait(self._backoff):
            return None
        try:
            self.open()
        except CameraError as e:
            self._backoff = min(self._backoff * 2, BACKOFF[1])
            self.on_state("no signal", f"{e}; reconnecting in {self._backoff:.1f}s")
            return self._error(f"no signal: {e}")
        self.reconnects += 1
        self.on_state("live", f"{self.name} connected again, settings written")
        return None
