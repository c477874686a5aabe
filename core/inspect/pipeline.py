"""The inspection pipeline: capture -> preprocess -> model -> postprocess -> verdict -> records.

Capture and inference run on their own threads (a GUI draws the results on its own thread);
queues are bounded so memory stays flat over hours: a live source keeps only its newest frame,
a folder or video blocks the reader until the model has caught up (every frame is judged). Each
result carries per-stage timings and its frame age. A frame that cannot be read or judged is an
ERROR record, never OK.
"""
from __future__ import annotations

import collections
import copy
import datetime as dt
import queue
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from core.config import InspectConfig
from core.data.imageio import ImageError, frame_image
from core.util.io import atomic_write_bytes

from .options import InspectOptions
from .recipe import Recipe
from .records import InspectionRecord, RecordsWriter
from .sources import FolderSource, Frame, LiveGrabber, Source

_END = object()
_INSPECT = InspectConfig()


@dataclass
class InspectionResult:
    frame: Frame
    verdict: str                        # OK, NG or ERROR
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    classes: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    defect: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    names: list[str] = field(default_factory=list)
    timings: dict = field(default_factory=dict)   # ms: preprocess, inference, postprocess, total
    frame_age_ms: float = 0.0
    image_path: str | None = None
    error: str | None = None
    ts: str = ""
    trigger: object = None              # the PLC's trigger this frame answers (outputs.handshake.TriggerToken)
    recipe: Recipe | None = None        # the recipe that judged it (and that its record names)
    part_id: str | None = None          # a station of several cameras: the part this view belongs to
    views: list = field(default_factory=list)   # ... and the part's result holds each view's result
    not_recorded: bool = False          # not judged: the records could keep no row (counted, not stored)


def detections_of(r: InspectionResult) -> list[tuple]:
    """A result's detections as record rows: (class_id, class_name, score, x1, y1, x2, y2, is_defect)."""
    return [(int(c), r.names[int(c)], float(s), *map(float, b), int(d))
            for b, s, c, d in zip(r.boxes, r.scores, r.classes, r.defect)]


@dataclass(frozen=True)
class StatsSnapshot:
    """The counters at one moment; ``times`` are (monotonic t, latency ms, verdict)."""
    total: int
    ok: int
    ng: int
    error: int
    per_class: dict
    times: tuple
    summary: dict                       # Stats.summary(): totals, overall rate, median stage times
    fps: float                          # frames/s over the last 5 s

    @property
    def yield_pct(self) -> float:
        return self.summary["yield_pct"]


class Stats:
    """Counters and bounded histories for the view and the summary."""

    def __init__(self, history: int = 600):
        self.total = self.ok = self.ng = self.error = 0
        self.per_class: collections.Counter = collections.Counter()
        self.times: collections.deque = collections.deque(maxlen=history)      # (t, latency_ms, verdict)
        self.stage_ms: dict[str, collections.deque] = {k: collections.deque(maxlen=200) for k in
                                                       ("capture", "preprocess", "inference", "postprocess", "total",
                                                        "frame_age")}
        self.t0 = time.monotonic()
        self._lock = threading.Lock()

    def add(self, r: InspectionResult):
        with self._lock:
            self.total += 1
            if r.verdict == "OK":
                self.ok += 1
            elif r.verdict == "NG":
                self.ng += 1
            else:
                self.error += 1
            for c, d in zip(r.classes, r.defect):
                if d:
                    self.per_class[r.names[int(c)]] += 1
            self.times.append((time.monotonic(), r.timings.get("total", 0.0), r.verdict))
            for k, v in r.timings.items():
                if k in self.stage_ms:
                    self.stage_ms[k].append(v)
            self.stage_ms["frame_age"].append(r.frame_age_ms)

    @property
    def yield_pct(self) -> float:
        judged = self.ok + self.ng
        return 100.0 * self.ok / judged if judged else 0.0

    def fps(self, window: float = 5.0) -> float:
        with self._lock:
            if len(self.times) < 2:
                return 0.0
            now = self.times[-1][0]
            recent = [t for t, _, _ in self.times if now - t <= window]
            if len(recent) < 2:
                return 0.0
            return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-9)

    def median(self, key: str) -> float:
        with self._lock:
            v = list(self.stage_ms[key])
        return float(np.median(v)) if v else 0.0

    def snapshot(self) -> StatsSnapshot:
        """A consistent copy for views and reports (no lock held by the reader)."""
        with self._lock:
            total, ok, ng, error = self.total, self.ok, self.ng, self.error
            per_class, times = dict(self.per_class), tuple(self.times)
        return StatsSnapshot(total, ok, ng, error, per_class, times, self.summary(), self.fps())

    def summary(self) -> dict:
        el = time.monotonic() - self.t0
        return {"frames": self.total, "ok": self.ok, "ng": self.ng, "error": self.error,
                "yield_pct": round(self.yield_pct, 2), "per_class": dict(self.per_class),
                "elapsed_s": round(el, 2), "fps": round(self.total / el, 2) if el > 0 else 0.0,
                **{f"median_{k}_ms": round(self.median(k), 2) for k in self.stage_ms}}


class Pipeline:
    """Runs a source through a predictor and a recipe; results go to ``on_result`` and records."""

    def __init__(self, source: Source, predictor, options: InspectOptions | None = None,
                 records: RecordsWriter | None = None, on_result=None, on_state=None, collector=None, outputs=(),
                 stall_s: float | None = None):
        """``options``: the recipe at start, where images go, ``max_frames``, the line's name (the source
        and records are already open, made by the session)."""
        options = options or InspectOptions()
        self.source = source
        self.outputs = list(outputs)   # core.inspect.outputs: a PLC, a broker
        # an output that drives the inspection (the PLC handshake): one frame judged per trigger
        self.trigger = next((o.trigger for o in self.outputs if o.trigger is not None), None)
        self.line = options.line
        self.user = options.user          # who the session runs under (core.security.users.User), for the audit
        self.collector = collector    # core.inspect.collect.Collector: frames for review
        self.predictor = predictor
        self.recipe = copy.deepcopy(options.recipe)
        self.records = records
        self.save_dir = Path(options.save_ng) if options.save_ng else None
        self.save_all = options.save_all
        self.on_result = on_result or (lambda r: None)
        self.on_state = on_state or (lambda state, msg: None)
        self.max_frames = options.max_frames
        self.stats = Stats()
        self._stop = threading.Event()
        self._run_gate = threading.Event()
        self._run_gate.set()
        self._steps = 0
        self._lock = threading.Lock()
        self._q: queue.Queue = queue.Queue(maxsize=_INSPECT.queue_frames)
        self._grabber: LiveGrabber | None = None
        self._threads: list[threading.Thread] = []
        self._inference_reads = False
        self._close_lock = threading.Lock()
        self._reader_ended = self._close_late = self._source_closed = False
        self._save_q: queue.Queue = queue.Queue(maxsize=_INSPECT.save_queue)
        self.finished = threading.Event()
        self.state = "idle"
        self.stall_s = _INSPECT.stall_s if stall_s is None else stall_s
        self._arrivals: collections.deque = collections.deque(maxlen=30)   # of live frames, for the stall limit
        self._stalled = False
        self.images_not_saved = 0
        self.disk_guard = None
        if self.save_dir is not None:
            from .retention import DiskGuard

            policy = options.retention
            self.disk_guard = DiskGuard(self.save_dir, policy.min_free_gb if policy else 1.0)
        if isinstance(source, FolderSource):
            source.on_state = self._set_state    # a watched folder gone, and back
        self._wire_camera(source)

    def _wire_camera(self, source) -> None:
        """An industrial camera (``core.inspect.cameras.source``) writes the recipe's camera settings
        itself, between two grabs, and reports its state and what it really took (audit trail)."""
        if not hasattr(source, "set_recipe"):
            return
        source.set_recipe(self.recipe)
        source.on_state = self._set_state
        if self.records is not None:
            source.on_applied = lambda values: self.records.audit_if_changed(f"camera {source.describe()}", values,
                                                                             session_user=self.user)

    # -------------------------------------------------------------------------------- control
    def start(self):
        if self.source.live:
            self._grabber = LiveGrabber(self.source, self._set_state)
            self._grabber.start()
        elif getattr(self.source, "on_demand", False):
            self.source.open()   # a software-triggered camera: each frame is asked for (_next_frame)
        else:
            self.source.open()  # a missing folder or video fails here, before any thread starts
            if self.trigger is None:   # triggered: each file is read when its trigger comes (_frame_for)
                self._threads.append(threading.Thread(target=self._capture, name="capture", daemon=True))
        # who reads the source closes it: the grabber, the capture thread, else the inference thread
        self._inference_reads = self._grabber is None and not self._threads
        self._threads.append(threading.Thread(target=self._infer, name="inference", daemon=True))
        if self.save_dir:
            self._threads.append(threading.Thread(target=self._saver, name="image-saver", daemon=True))
        for t in self._threads:
            t.start()
        self._set_state("running", f"inspecting {self.source.describe()}")

    def pause(self):
        self._run_gate.clear()
        if self.trigger is not None:
            self.trigger.paused = True     # the PLC's triggers are refused (ERROR), not left waiting
        self._set_state("paused", "paused")

    def resume(self):
        self._run_gate.set()
        if self.trigger is not None:
            self.trigger.paused = False
        self._set_state("running", "running")

    def step(self):
        """While paused, judge exactly one more frame."""
        with self._lock:
            self._steps += 1

    def set_recipe(self, recipe: Recipe):
        """From the next frame on, ``recipe`` judges: the inference thread takes ``self.recipe`` once
        per frame and uses that one object for the detector's floor, the verdict and the record, so
        a frame is judged and recorded under one recipe. A copy: an edit of the caller's object
        later never reaches a frame. A camera's frames carry the recipe whose camera settings they
        were taken with; those judge them (``_judge``)."""
        self.recipe = copy.deepcopy(recipe)
        if hasattr(self.source, "set_recipe"):
            self.source.set_recipe(self.recipe)

    def request_stop(self):
        """End the run without waiting: every thread is woken (a paused gate, a watched folder, a paced
        demo, a camera's grabber) and ends after the frame in hand, which is still judged and recorded.
        Returns at once; a GUI calls this, and ``stop`` off its thread."""
        self._stop.set()
        self._run_gate.set()
        if self._grabber:
            self._grabber.request_stop()
        self.source.interrupt()   # a source blocked waiting (a watched folder, a camera's trigger, a paced demo)

    def stop(self, timeout: float = 10.0) -> bool:
        """``request_stop``, then wait up to ``timeout`` for the threads; True when all have ended. The
        source is closed here once the thread that reads it has ended, else by that thread when it
        ends (a close from here could race a read in progress); a grabber closes its own."""
        self.request_stop()
        deadline = time.monotonic() + timeout
        if self._grabber:
            self._grabber.join(max(0.0, deadline - time.monotonic()))
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        with self._close_lock:       # the source is closed once its reader has ended (here or by it)
            if self._reader_ended or self._grabber is not None or not self._threads:
                self._close_source()
            else:
                self._close_late = True
        self.finished.set()
        return not self.alive_threads()

    def alive_threads(self) -> list[str]:
        """The names of this run's threads still running (none once ``stop`` has returned True)."""
        ts = list(self._threads) + ([self._grabber._thread] if self._grabber else [])
        return [t.name for t in ts if t.is_alive()]

    def _close_source(self):
        if self._source_closed or self._grabber is not None:   # a grabber closes its own source
            return
        self._source_closed = True
        try:
            self.source.close()
        except Exception:  # noqa: BLE001 - closing must not hide why the run ended
            pass

    def _reader_done(self):
        """The thread that reads the source (capture, or inference for a source read on demand) ends:
        a ``stop`` that could not wait for it left the closing to it."""
        with self._close_lock:
            self._reader_ended = True
            if self._close_late:
                self._close_source()

    def wait(self, timeout: float | None = None) -> bool:
        return self.finished.wait(timeout)

    def _set_state(self, state: str, msg: str):
        self.state = state
        self.on_state(state, msg)

    # ---------------------------------------------------------------------------------- threads
    def _capture(self):
        n = 0
        try:
            while not self._stop.is_set():
                t0 = time.perf_counter()
                try:
                    f = self.source.read()
                except Exception as e:  # noqa: BLE001 - a broken file is an ERROR record, not a crash
                    f = Frame(n, f"{n}", None, f"read failed: {e}", time.monotonic(), self.source.describe())
                if f is None:
                    break
                f.capture_ms = (time.perf_counter() - t0) * 1e3
                while not self._stop.is_set():
                    try:
                        self._q.put(f, timeout=0.05)    # short: a Stop is noticed at once
                        break
                    except queue.Full:
                        continue
                n += 1
                if self.max_frames and n >= self.max_frames:
                    break
        finally:
            self._reader_done()
            while True:   # the end mark must get through, also to a full queue nobody reads any more
                if self._stop.is_set():
                    try:                   # stopping: frames not yet judged make room for it
                        self._q.get_nowait()
                    except queue.Empty:
                        pass
                try:
                    self._q.put(_END, timeout=0.05)
                    break
                except queue.Full:
                    continue

    def _next_frame(self, after: float | None = None):
        """The next frame; from a live source with ``after`` (a trigger's time), the first one
        captured after it. A software-triggered camera is fired now and gives that frame."""
        if getattr(self.source, "on_demand", False):
            f = self.source.snap()
            return _END if f is None else f
        if self._grabber is not None:
            waited = time.monotonic()
            while not self._stop.is_set():
                f = self._grabber.get(timeout=0.5)
                now = time.monotonic()
                if f is not None:
                    waited = now
                    if f.image is not None:
                        self._arrivals.append(now)
                    if self._stalled:
                        self._stalled = False
                        self._set_state("running", f"{self.source.describe()}: frames again")
                    if after is None or f.t_capture >= after:
                        return f
                if not self._grabber.alive():
                    return _END
                stalled = self._stall_error(now - waited)
                if stalled is not None:
                    return stalled
            return _END
        while not self._stop.is_set():
            try:
                return self._q.get(timeout=0.5)
            except queue.Empty:
                continue
        return _END

    def _stall_error(self, silent_s: float) -> Frame | None:
        """A camera that stops delivering (its driver blocks) raises nothing: after ``stall_s``, or
        ten of its usual frame intervals when slower (a hardware-triggered camera), it is an ERROR
        frame. Before its first frame only the state says so (nothing has been missed yet)."""
        a = self._arrivals
        usual = statistics.median(b - c for b, c in zip(list(a)[1:], list(a)[:-1])) if len(a) >= 3 else 0.0
        limit = max(self.stall_s, 10 * usual)
        if self.stall_s <= 0 or silent_s < limit:
            return None
        what = f"no frame for {silent_s:.0f} s (the camera delivers nothing)"
        if not self._stalled:
            self._stalled = True
            self._set_state("no signal", f"{self.source.describe()}: {what}")
        if not a:
            return None
        a.clear()   # the usual interval is learned again once frames come back
        return Frame(-1, "no frame", None, what, time.monotonic(), self.source.describe())

    def _gate(self) -> bool:
        """Block while paused (unless a single step was asked); False when stopping."""
        while not self._stop.is_set():
            if self._run_gate.is_set():
                return True
            with self._lock:
                if self._steps > 0:
                    self._steps -= 1
                    return True
            time.sleep(0.02)
        return False

    def _frame_for(self, token) -> Frame | object:
        """The frame that answers an accepted trigger: one captured after it. From a live source the
        next frame; from a software-triggered camera the frame it takes now (``_next_frame`` fires
        it); from a folder or video its next file, read now."""
        if self._grabber is not None or getattr(self.source, "on_demand", False):
            return self._next_frame(token.t)
        t0 = time.perf_counter()
        try:
            f = self.source.read()
        except Exception as e:  # noqa: BLE001 - a broken file is an ERROR record, not a crash
            f = Frame(-1, "unreadable", None, f"read failed: {e}", time.monotonic(), self.source.describe())
        if f is None:
            return _END
        f.capture_ms = (time.perf_counter() - t0) * 1e3
        return f

    def _infer(self):
        n = 0
        token = None
        try:
            while self._gate():
                token = None
                if self.trigger is not None:
                    token = self.trigger.wait(self._stop)
                    if token is None:
                        continue
                f = self._frame_for(token) if token is not None else self._next_frame()
                if f is _END:
                    break
                self._deliver(self._unrecordable(f) or self._judge(f), token)
                token = None
                n += 1
                if self.max_frames and n >= self.max_frames:
                    break
        finally:
            if self.trigger is not None:   # every accepted trigger gets its answer, judged or not
                why = "the source has no more frames" if not self._stop.is_set() else "the inspection stopped"
                for t in ([token] if token is not None else []) + self.trigger.drain():
                    self._deliver(InspectionResult(Frame(-1, "no frame", None, why, time.monotonic(),
                                                         self.source.describe()), "ERROR",
                                                   names=self.predictor.names, error=why, recipe=self.recipe,
                                                   ts=dt.datetime.now(dt.timezone.utc).isoformat(
                                                       timespec="milliseconds")), t)
            if self._inference_reads:
                self._reader_done()
            if self.save_dir:
                self._save_q.put(_END)
            if self.collector is not None:
                self.collector.close()
            self._set_state("finished", f"finished: {self.stats.total} frames")
            self.finished.set()

    def _unrecordable(self, f: Frame) -> InspectionResult | None:
        """While the records can keep no row (``RecordsWriter.full``) a frame is not judged: it is
        ERROR (to the PLC too), counted by the writer, never judged without its record."""
        if self.records is None or not self.records.full:
            return None
        return InspectionResult(f, "ERROR", names=self.predictor.names, not_recorded=True,
                                error=f"records cannot be written ({self.records.error})",
                                ts=dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
                                frame_age_ms=(time.monotonic() - f.t_capture) * 1e3)

    def _deliver(self, r: InspectionResult, token) -> None:
        """One judged frame to the counters, the records, the outputs and the listener."""
        r.trigger = token
        self.stats.add(r)
        self._record(r)
        if self.collector is not None:
            self.collector.offer(r)
        try:
            self.on_result(r)
        except Exception:  # noqa: BLE001 - a broken listener must not stop the line
            pass

    def _judge(self, f: Frame) -> InspectionResult:
        # once: this frame's floor, verdict and record all come from it; a camera's frame, from the
        # recipe its camera settings belonged to
        recipe = f.recipe if f.recipe is not None else self.recipe
        r = self._judge_under(f, recipe)
        r.recipe = recipe
        return r

    def _judge_under(self, f: Frame, recipe: Recipe) -> InspectionResult:
        ts = dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")
        names = self.predictor.names
        if f.image is None:
            return InspectionResult(f, "ERROR", names=names, error=f.error or "no image", ts=ts,
                                    frame_age_ms=(time.monotonic() - f.t_capture) * 1e3)
        try:
            f.image = frame_image(f.image)
        except ImageError as e:   # garbage from a driver is an ERROR, never judged
            f.image = None
            return InspectionResult(f, "ERROR", names=names, error=f"bad frame: {e}", ts=ts,
                                    frame_age_ms=(time.monotonic() - f.t_capture) * 1e3)
        try:
            det = self.predictor(f.image, conf=recipe.min_conf())   # all that this recipe can count
        except Exception as e:  # noqa: BLE001 - odd frame: record the error, keep the line running
            return InspectionResult(f, "ERROR", names=names, error=f"inference failed: {e}", ts=ts,
                                    frame_age_ms=(time.monotonic() - f.t_capture) * 1e3)
        verdict, mask = recipe.verdict(det.boxes, det.scores, det.classes, names)
        t = {"capture": f.capture_ms, **det.timings}
        t["total"] = sum(det.timings.values())  # model path: preprocess + inference + postprocess
        r = InspectionResult(f, verdict, det.boxes, det.scores, det.classes, mask, names, t,
                             (time.monotonic() - f.t_capture) * 1e3, ts=ts)
        full = self.disk_guard.problem() if self.save_dir and (verdict == "NG" or self.save_all) else None
        if full:          # the records come first: no image, and the record says why
            r.error = full
            self.images_not_saved += 1
            if self.images_not_saved == 1 or self.images_not_saved % 100 == 0:
                self._set_state("warning", f"{full} ({self.images_not_saved} so far)")
        elif self.save_dir and (verdict == "NG" or self.save_all):
            day = ts[:10]
            stem = f"{ts[11:23].replace(':', '').replace('.', '_')}_{Path(f.name).stem}_{verdict}"
            path = str(self.save_dir / day / f"{stem}.png")
            try:   # a slow or stuck disk must not stop the line: beyond the queue, images are not kept
                self._save_q.put_nowait((path, f.image))
                r.image_path = path
            except queue.Full:
                self.images_not_saved += 1
                self._set_state("warning", f"{self.images_not_saved} image(s) not saved: the disk under "
                                           f"{self.save_dir} is too slow")
        return r

    def _record(self, r: InspectionResult):
        if self.records is None and not self.outputs:
            return
        dets = detections_of(r)
        rec = InspectionRecord(
            ts=r.ts, source=self.source.describe(), frame=r.frame.name, verdict=r.verdict,
            n_defects=int(r.defect.sum()) if len(r.defect) else 0, image_path=r.image_path,
            model_id=getattr(self.predictor, "model_id", None), recipe_id=r.recipe.name if r.recipe else None,
            error=r.error,
            latency_ms=r.timings.get("total"), frame_age_ms=r.frame_age_ms, detections=dets, line=self.line,
            part_id=r.part_id, camera_frame_id=r.frame.camera_frame_id, camera_ts=r.frame.camera_ts)
        if self.records is not None and r.not_recorded:
            self.records.refuse()
        elif self.records is not None:
            self.records.add(rec)
        for o in self.outputs:
            try:
                o.publish(r, rec)
            except Exception as e:  # noqa: BLE001 - a failing output never stops the line nor the records
                self._set_state("warning", f"{o.name}: {e}")

    def _saver(self):
        while True:
            item = self._save_q.get()
            if item is _END:
                break
            path, img = item
            ok, buf = cv2.imencode(".png", img)
            if ok:
                try:
                    atomic_write_bytes(path, buf.tobytes())
                except OSError as e:
                    self._set_state("warning", f"could not save {path}: {e}")
