"""Image sources behind one interface: camera index, video file, RTSP/HTTP URL, image folder
(optionally watched for new files), single image, the synthetic ``demo`` line, and GenICam
industrial cameras (``core.inspect.cameras``: ``pylon://SERIAL``, ``genicam://SERIAL``).

``read()`` returns a ``Frame`` (image or error), or None at the end of a finite source. Live
sources (cameras, streams, demo) are wrapped in a grabber thread that keeps only the newest frame;
folders and videos give every frame. A failing live source yields error frames ("no signal") and
reconnects with back-off; an error frame is never judged OK.
"""
from __future__ import annotations

import stat
import threading
import time
from pathlib import Path
from urllib.parse import quote

import cv2
import numpy as np

from core.data.catalog import parse_demo
from core.data.imageio import IMAGE_EXTS, VIDEO_EXTS, ImageError, read_image, written_whole
from core.data.synth import DEMO_DEFECT_RATE, DEMO_SIZE, demo_frame

from .frame import Frame, Source  # noqa: F401 - where every source and the pipeline take them from


class ImageFileSource(Source):
    def __init__(self, path: str):
        self.path = Path(path)
        self.name = str(self.path)
        self.done = False

    def read(self):
        if self.done:
            return None
        self.done = True
        try:
            return Frame(0, self.path.name, read_image(self.path), None, time.monotonic(), self.name)
        except ImageError as e:
            return Frame(0, self.path.name, None, str(e), time.monotonic(), self.name)


class FolderSource(Source):
    """Every image in a folder, in name order; with ``watch``, new files as they arrive.

    A watched folder that disappears (deleted, a share unmounted) is said once (``on_state``
    "warning") and gives one ERROR frame; it is looked for again with back-off (``poll`` doubling to
    ``MAX_BACKOFF_S``), and judging resumes when it returns, with the files not judged yet (and those
    of an already-judged name written since it went)."""

    MAX_BACKOFF_S = 8.0
    MAX_WRITE_S = 30.0      # a file incomplete for longer than this is judged as it is
    SETTLE_S = 0.5          # a file of a format without an end mark: unchanged this long is whole

    def __init__(self, path: str, watch: bool = False, poll: float = 0.5, stop_event: threading.Event | None = None):
        self.path = Path(path)
        self.name = str(self.path)
        self.watch, self.poll = watch, poll
        self.seen: set[str] = set()
        self.pending: list[Path] = []
        self.index = 0
        self.stop_event = stop_event or threading.Event()
        self.on_state = lambda state, msg: None     # the pipeline's: the folder gone, and back
        self.gone_since: float | None = None          # wall clock, to compare with files' mtimes
        self._growing: dict[str, float] = {}          # name -> when it was first seen still growing

    def open(self):
        if not self.path.is_dir():
            raise FileNotFoundError(f"{self.path}: folder not found")
        self._scan()
        if not self.pending and not self.watch:
            raise ValueError(f"{self.path}: no images in this folder")

    def _scan(self):
        new = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.name not in self.seen)
        for p in new:
            self.seen.add(p.name)
        self.pending.extend(new)

    def _watch_scan(self) -> Frame | None:
        """One look at the watched folder: None, or the ERROR frame that says it has just gone."""
        try:
            if self.gone_since is not None:
                self._back()
            self._scan()
            return None
        except OSError as e:
            if self.gone_since is not None:
                return None
            self.gone_since = time.time()
            why = f"watched folder gone: {self.path} ({e.strerror or e})"
            self.on_state("warning", f"{why}; nothing is judged until it returns")
            i, self.index = self.index, self.index + 1
            return Frame(i, self.path.name or str(self.path), None, why, time.monotonic(), self.name)

    def _back(self):
        """The folder is there again (else OSError): a name judged before that was written again since
        it went is a new image (a camera PC that starts counting again), so it is judged."""
        names = {e.name: e for e in self.path.iterdir() if e.name in self.seen}
        for n, e in names.items():
            try:
                if e.stat().st_mtime >= self.gone_since:
                    self.seen.discard(n)
            except OSError:
                pass
        self.gone_since = None
        self.on_state("running", f"{self.path}: the watched folder is back; judging again")

    def _ready(self, p: Path) -> bool:
        """Whether a file the camera PC may still be writing can be read: complete by its format's
        end mark (JPEG, PNG, BMP), or unchanged for ``SETTLE_S`` (other formats); a file that is
        never complete is read as it is ``MAX_WRITE_S`` after it was first seen (an ERROR row if it
        does not decode). An entry that is gone or no regular file (a FIFO) is read at once: the
        reader says what it is."""
        try:
            st = p.stat()
        except OSError:
            return True
        if not stat.S_ISREG(st.st_mode):
            return True
        whole = written_whole(p) if st.st_size else False
        if whole or (whole is None and time.time() - st.st_mtime >= self.SETTLE_S):
            self._growing.pop(p.name, None)
            return True
        first = self._growing.setdefault(p.name, time.monotonic())
        return time.monotonic() - first >= self.MAX_WRITE_S

    def interrupt(self):
        self.stop_event.set()

    def read(self):
        wait = self.poll
        while not self.pending:
            # waits on the event, not in sleep: Stop wakes a watching reader at once
            if not self.watch or self.stop_event.wait(wait):
                return None
            gone = self._watch_scan()
            if gone is not None:
                return gone
            if self.gone_since is not None:
                wait = min(wait * 2, self.MAX_BACKOFF_S)
        if self.stop_event.is_set():
            return None
        while self.watch and not self._ready(self.pending[0]):
            if self.stop_event.wait(self.poll):
                return None
        p = self.pending.pop(0)
        i = self.index
        self.index += 1
        try:
            return Frame(i, p.name, read_image(p), None, time.monotonic(), self.name)
        except ImageError as e:
            return Frame(i, p.name, None, str(e).removeprefix(f"{p}: "), time.monotonic(), self.name)


class _OpenCVSource(Source):
    """Frames from an OpenCV ``VideoCapture`` (``open`` makes ``self.cap``), numbered as read."""

    cap = None
    index = 0

    def _next(self) -> Frame | None:
        """The next frame, or None where the capture gave none."""
        ok, img = self.cap.read()
        if not ok or img is None:
            return None
        i = self.index
        self.index += 1
        return Frame(i, f"{i}", img, None, time.monotonic(), self.name)

    def close(self):
        if self.cap is not None:
            self.cap.release()
            self.cap = None


class VideoFileSource(_OpenCVSource):
    def __init__(self, path: str):
        self.path = Path(path)
        self.name = str(self.path)

    def open(self):
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path}: video file not found")
        self.cap = cv2.VideoCapture(str(self.path))
        if not self.cap.isOpened():
            raise ValueError(f"{self.path}: cannot open video (unsupported codec or corrupt file)")

    def read(self):
        return self._next()   # None: the end of the file


class CaptureSource(_OpenCVSource):
    """A camera index or an RTSP/HTTP URL through OpenCV."""

    live = True

    def __init__(self, spec: str):
        self.spec = spec
        self.name = f"camera {spec}" if spec.isdigit() else spec

    def open(self):
        self.cap = cv2.VideoCapture(int(self.spec) if self.spec.isdigit() else self.spec)
        if not self.cap.isOpened():
            raise ConnectionError(f"cannot open {self.name}")
        self.cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)

    def read(self):
        frame = self._next()
        if frame is None:
            raise ConnectionError(f"{self.name}: no frame (signal lost)")
        return frame


class DemoSource(Source):
    """The built-in synthetic steel-strip line: deterministic by seed, paced at ``fps``. Endless
    (its first ``ring`` frames over and over), or the first ``frames`` frames once: the frames
    ``--data demo:N:SEED`` scores."""

    live = True

    def __init__(self, seed: int = 0, size: tuple[int, int] = DEMO_SIZE, fps: float = 10.0,
                 defect_rate: float = DEMO_DEFECT_RATE, ring: int = 48, frames: int | None = None):
        self.seed, self.size, self.fps, self.rate = seed, size, fps, defect_rate
        self.frames, self.ring = frames, frames or ring
        self.name = "demo"
        # paced like a camera (newest frame only) when fps > 0; unpaced, every frame is judged
        self.live = fps > 0
        self.index = 0
        self._cache: dict[int, np.ndarray] = {}
        self._next_t = 0.0
        self._stop = threading.Event()

    def frame_image(self, k: int):
        """Frame ``k`` of the line (frames repeat after ``ring``; each is made once)."""
        j = k % self.ring
        if j not in self._cache:
            self._cache[j] = demo_frame(self.seed, j, self.size, self.rate)
        return self._cache[j]

    def open(self):
        self._stop.clear()

    def interrupt(self):
        self._stop.set()

    def read(self):
        if self.frames is not None and self.index >= self.frames:
            return None
        if self.fps > 0:
            now = time.monotonic()
            if self._next_t > now and self._stop.wait(self._next_t - now):
                return None
            self._next_t = max(now, self._next_t) + 1.0 / self.fps
        img, _, _ = self.frame_image(self.index)
        i = self.index
        self.index += 1
        return Frame(i, f"{i}", img.copy(), None, time.monotonic(), self.name)


def open_source(spec: str, watch: bool = False, demo_fps: float = 10.0) -> Source:
    """A source from what the user typed: ``demo`` (endless) or ``demo:N[:SEED]`` (N frames of line
    SEED, as ``--data`` reads it), a camera index, a URL, a folder, a video, an image, or an
    industrial camera (``pylon://SERIAL``, ``genicam://SERIAL``; ``genicam:PATH.cti#N`` as before)."""
    spec = str(spec).strip()
    demo = parse_demo(spec)
    if demo is not None:
        return DemoSource(seed=demo[1], fps=demo_fps, frames=demo[0] if ":" in spec else None)
    from .cameras import is_camera_uri   # the camera SDKs themselves load only when a camera is named

    if spec.startswith("genicam:") and not is_camera_uri(spec):
        cti, _, dev = spec[len("genicam:"):].partition("#")
        spec = f"genicam://?index={int(dev or 0)}&cti={quote(cti)}"
    if is_camera_uri(spec):
        from .cameras.source import CameraSource

        return CameraSource(spec)
    if spec.isdigit() or spec.lower().startswith(("rtsp://", "rtmp://", "http://", "https://")):
        return CaptureSource(spec)
    p = Path(spec)
    if not p.exists():
        raise FileNotFoundError(f"'{spec}': not a file, folder, camera index, URL or 'demo'")
    if p.is_dir():
        return FolderSource(spec, watch=watch)
    if p.suffix.lower() in VIDEO_EXTS:
        return VideoFileSource(spec)
    if p.suffix.lower() in IMAGE_EXTS or p.is_file():
        return ImageFileSource(spec)
    raise FileNotFoundError(f"'{spec}': not a file, folder, camera index, URL or 'demo'")


class LiveGrabber:
    """Runs a live source in its own thread, keeping only the newest frame.

    On failure it publishes an error frame and reopens the source with exponential back-off
    (0.5 s doubling to 8 s), so a dropped camera shows "no signal" and comes back by itself.
    """

    def __init__(self, source: Source, on_state=None, freeze_limit: int = 30):
        self.source = source
        # A live camera never delivers bit-identical frames (sensor noise); a run of them means a
        # stuck driver or a frozen stream, which must not be judged OK again and again.
        self.freeze_limit = freeze_limit
        self._last_fp: bytes | None = None
        self._same = 0
        self.on_state = on_state or (lambda state, msg: None)
        self._lock = threading.Condition()
        self._latest: Frame | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="grabber", daemon=True)
        self.dropped = 0
        self.state = "connecting"

    def start(self):
        self._thread.start()

    def _publish(self, f: Frame):
        with self._lock:
            if self._latest is not None and self._latest.error is None:
                self.dropped += 1
            self._latest = f
            self._lock.notify_all()

    def _run(self):
        backoff = 0.5
        opened = False
        while not self._stop.is_set():
            try:
                if not opened:
                    self.source.open()
                    opened = True
                    backoff = 0.5
                    self.state = "live"
                    self.on_state("live", f"{self.source.describe()} connected")
                t0 = time.perf_counter()
                f = self.source.read()
                if f is None:
                    break
                f.capture_ms = (time.perf_counter() - t0) * 1e3
                self._check_frozen(f)
                self._publish(f)
            except Exception as e:  # noqa: BLE001 - any driver failure means "no signal"
                msg = str(e) or type(e).__name__
                if opened:
                    try:
                        self.source.close()
                    except Exception:  # noqa: BLE001
                        pass
                opened = False
                self.state = "no signal"
                self.on_state("no signal", f"{msg}; reconnecting in {backoff:.1f}s")
                self._publish(Frame(-1, "no signal", None, f"no signal: {msg}", time.monotonic(), self.source.describe()))
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 8.0)
        if opened:
            try:
                self.source.close()
            except Exception:  # noqa: BLE001
                pass
        self.state = "stopped"
        with self._lock:
            self._lock.notify_all()

    def _check_frozen(self, f: Frame) -> None:
        if f.image is None or self.freeze_limit <= 0:
            return
        fp = f.image[::7, ::7].tobytes()
        self._same = self._same + 1 if fp == self._last_fp else 0
        self._last_fp = fp
        if self._same >= self.freeze_limit:
            if self._same == self.freeze_limit:
                self.on_state("frozen", f"{self.source.describe()}: {self._same + 1} identical frames (image frozen)")
            f.error = f"image frozen: {self._same + 1} identical frames in a row"
            f.image = None

    def get(self, timeout: float = 1.0) -> Frame | None:
        """The newest frame not yet taken (waits up to ``timeout``); None if there is none."""
        with self._lock:
            if self._latest is None:
                self._lock.wait(timeout)
            f, self._latest = self._latest, None
            return f

    def alive(self) -> bool:
        return self._thread.is_alive()

    def request_stop(self):
        """Ask the thread to end (it closes the source itself); returns at once."""
        self._stop.set()
        self.source.interrupt()

    def join(self, timeout: float = 5.0) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stop(self):
        self.request_stop()
        self.join()
