"""Several cameras, one part: a station with one view per camera (top and bottom, four sides).

Each view has its own source, model and recipe. For each part (a PLC trigger, or as fast as the
views deliver) every view gives one frame, taken at once; each is judged by its own model and
recipe and recorded as its own row, all rows sharing one ``part_id``. The part's verdict is NG if
any view is NG, else ERROR if any view could not be judged, else OK: that one result goes to the
PLC and the MQTT broker. The views' acquisition modes must agree (all free-run, all software
trigger, or all hardware trigger: the k-th frame of each camera is the k-th part).

A station is a JSON file (``--source station.json``)::

    {"views": [{"name": "top", "source": "pylon://21900001?trigger=software", "weights": "top.pt",
                "recipe": "bolt-top"},
               {"name": "bottom", "source": "pylon://21900002?trigger=software", "recipe": "bolt-bottom"}]}

``weights`` and ``recipe`` are optional (the session's model and recipe). A changeover to recipe
NAME gives each view the saved recipe ``NAME@VIEW`` when there is one, else NAME itself.
"""
from __future__ import annotations

import copy
import json
import queue
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .frame import Frame, Source
from .options import InspectOptions, ViewOptions
from .pipeline import _END, InspectionResult, Pipeline, detections_of
from .record_types import InspectionRecord
from .sources import LiveGrabber


def is_station_file(spec) -> bool:
    return isinstance(spec, str) and spec.lower().endswith(".json") and Path(spec).is_file()


def load_station(path: str) -> tuple[ViewOptions, ...]:
    """The views of a station file; ValueError naming the file and what is wrong."""
    try:
        d = json.loads(Path(path).read_text(encoding="utf-8"))
        views = tuple(ViewOptions(str(v["name"]), str(v["source"]), v.get("weights"), v.get("recipe"))
                      for v in d["views"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a station file ({e}); it needs "
                         '{"views": [{"name": ..., "source": ...}, ...]}') from None
    names = [v.name for v in views]
    if len(views) < 1 or len(set(names)) != len(names):
        raise ValueError(f"{path}: a station needs one or more views with distinct names")
    return views


@dataclass
class View:
    name: str
    source: Source
    predictor: object
    recipe: object


@dataclass
class PartFrame(Frame):
    """One part: a frame from each view."""
    views: list = field(default_factory=list)


class PartSource(Source):
    """The views' sources taken together: one frame of each per part."""

    def __init__(self, views: list[View], on_state):
        self.views = views
        srcs = [v.source for v in views]
        modes = {(s.live, bool(getattr(s, "on_demand", False))) for s in srcs}
        if len(modes) > 1:
            raise ValueError("the views of a station must share one acquisition mode (all free-run, all software "
                             "trigger or all hardware trigger): " + ", ".join(s.describe() for s in srcs))
        self.live = all(s.live for s in srcs)    # free-run views: the newest part (each view's newest frame)
        self.on_demand = bool(getattr(srcs[0], "on_demand", False))
        self.name = " + ".join(f"{v.name}: {v.source.describe()}" for v in views)
        self.on_state = on_state
        self.stop_event = threading.Event()
        self.index = 0
        self._pool = ThreadPoolExecutor(len(views), thread_name_prefix="view")
        self._grabbers: list[LiveGrabber] = []
        self._queues: list[queue.Queue] = []
        self._threads: list[threading.Thread] = []

    def open(self) -> None:
        for v in self.views:
            if v.source.live:
                g = LiveGrabber(v.source, lambda s, m, n=v.name: self.on_state(s, f"{n}: {m}"))
                g.start()
                self._grabbers.append(g)
            else:
                v.source.open()
        if not self.on_demand and not self._grabbers:   # hardware trigger: every frame of each, in order
            for v in self.views:
                q: queue.Queue = queue.Queue(maxsize=64)
                t = threading.Thread(target=self._reader, args=(v.source, q), name=f"view-{v.name}", daemon=True)
                self._queues.append(q)
                self._threads.append(t)
                t.start()

    def _reader(self, src: Source, q: queue.Queue) -> None:
        n = 0
        while not self.stop_event.is_set():
            try:
                f = src.read()
            except Exception as e:  # noqa: BLE001 - a view that cannot be read is an ERROR part, never a hang
                f = Frame(n, f"{n}", None, f"read failed: {e}", time.monotonic(), src.describe())
                self.stop_event.wait(0.5)            # a source that keeps failing is not spun on
            n += 1
            while not self.stop_event.is_set():
                try:
                    q.put(f, timeout=0.2)
                    break
                except queue.Full:
                    continue
            if f is None:
                return

    def _one(self, i: int) -> Frame | None:
        while not self.stop_event.is_set():
            if self._grabbers:
                f = self._grabbers[i].get(timeout=0.5)
            else:
                try:
                    f = self._queues[i].get(timeout=0.5)
                except queue.Empty:
                    continue
                if f is None:
                    return None
            if f is not None:
                return f
        return None

    def _part(self, frames: list) -> PartFrame | None:
        if any(f is None for f in frames):
            return None
        i = self.index
        self.index += 1
        return PartFrame(i, uuid.uuid4().hex[:16], None, None, min(f.t_capture for f in frames), self.name,
                         views=frames)

    def read(self) -> PartFrame | None:
        return self._part(list(self._pool.map(self._one, range(len(self.views)))))

    def snap(self) -> PartFrame | None:
        """Software trigger: every camera fired at once; the part is their frames."""
        return self._part(list(self._pool.map(lambda v: v.source.snap(), self.views)))

    def interrupt(self) -> None:
        """Stop: every view's reader, grabber and source is woken (``Source.interrupt``)."""
        self.stop_event.set()
        for v in self.views:
            v.source.interrupt()
        for g in self._grabbers:
            g.request_stop()

    def close(self) -> None:
        self.stop_event.set()
        for v in self.views:
            if getattr(v.source, "stop_event", None) is not None:
                v.source.stop_event.set()
        for g in self._grabbers:
            g.stop()
        for t in self._threads:
            t.join(5)
        for v in self.views:
            if not v.source.live:
                try:
                    v.source.close()
                except Exception:  # noqa: BLE001 - closing one must not keep the others open
                    pass
        self._pool.shutdown(wait=False)

    def describe(self) -> str:
        return self.name


def part_verdict(verdicts: list[str]) -> str:
    """NG if any view is NG; else ERROR if any view could not be judged; else OK."""
    return "NG" if "NG" in verdicts else "ERROR" if "ERROR" in verdicts else "OK"


class MultiViewPipeline(Pipeline):
    """A ``Pipeline`` whose frames are parts: each view judged by its own model and recipe (a
    ``Pipeline`` per view does the judging and the rows), one verdict per part to the outputs."""

    def __init__(self, views: list[View], options: InspectOptions | None = None, records=None, on_result=None,
                 on_state=None, outputs=(), recipe_store=None):
        options = options or InspectOptions()
        self.recipe_store = recipe_store
        self.view_names = [v.name for v in views]
        say = on_state or (lambda s, m: None)
        self.views = [Pipeline(v.source, v.predictor, replace(options, recipe=v.recipe), records,
                               on_state=lambda s, m, n=v.name: say(s, m if m.startswith(n) else f"{n}: {m}"))
                      for v in views]
        super().__init__(PartSource(views, say), views[0].predictor, options, records, on_result, on_state,
                         outputs=outputs)

    def start(self):
        for v in self.views:   # each view's NG images are written by its own saver
            if v.save_dir:
                t = threading.Thread(target=v._saver, name="image-saver", daemon=True)
                v._threads.append(t)
                t.start()
        super().start()

    def stop(self, timeout: float = 10.0):
        super().stop(timeout)
        for v in self.views:
            if v.save_dir:
                v._save_q.put(_END)
            for t in v._threads:
                t.join(timeout)

    def set_recipe(self, recipe):
        """The station's recipe: each view takes ``NAME@VIEW`` when saved, else ``recipe`` itself."""
        self.recipe = copy.deepcopy(recipe)
        for name, v in zip(self.view_names, self.views):
            r = recipe
            if self.recipe_store is not None and f"{recipe.name}@{name}" in self.recipe_store.names():
                r = self.recipe_store.load(f"{recipe.name}@{name}")
            if self.records is not None:
                self.records.audit_if_changed(f"recipe {name}", r.to_dict())
            v.set_recipe(r)

    def _judge(self, f: Frame) -> InspectionResult:
        if not isinstance(f, PartFrame):     # an error frame of the station itself
            return super()._judge(f)
        results = [v._judge(vf) for v, vf in zip(self.views, f.views)]
        for v, r in zip(self.views, results):
            r.part_id = f.name
            v.stats.add(r)
        verdicts = [r.verdict for r in results]
        errors = [f"{n}: {r.error}" for n, r in zip(self.view_names, results) if r.error]
        total = sum(r.timings.get("total", 0.0) for r in results)
        # the views' detections together: the part's defect count and per-class tally (its boxes
        # belong to different frames and are drawn per view, never on the part)
        names = list(dict.fromkeys(n for r in results for n in r.names))   # views may have their own models
        cat = {k: np.concatenate([getattr(r, k) for r in results]) for k in ("boxes", "scores", "defect")}
        cat["classes"] = np.array([names.index(r.names[int(c)]) for r in results for c in r.classes], int)
        out = InspectionResult(f, part_verdict(verdicts), names=names, error="; ".join(errors) or None,
                               ts=results[0].ts, timings={"total": total},
                               frame_age_ms=max(r.frame_age_ms for r in results), **cat)
        out.views, out.part_id, out.recipe = results, f.name, results[0].recipe
        return out

    def _record(self, r: InspectionResult):
        if not r.views:
            return super()._record(r)
        for v, vr in zip(self.views, r.views):
            v._record(vr)                       # one row per view, the part id on each
        if not self.outputs:
            return
        dets = [d for vr in r.views for d in detections_of(vr)]
        rec = InspectionRecord(ts=r.ts, source=self.source.describe(), frame=r.part_id, verdict=r.verdict,
                               n_defects=sum(int(vr.defect.sum()) for vr in r.views), model_id=None,
                               recipe_id=r.recipe.name if r.recipe else None, error=r.error,
                               latency_ms=r.timings.get("total"), frame_age_ms=r.frame_age_ms, detections=dets,
                               line=self.line, part_id=r.part_id)
        for o in self.outputs:
            try:
                o.publish(r, rec)
            except Exception as e:  # noqa: BLE001 - a failing output never stops the line nor the records
                self._set_state("warning", f"{o.name}: {e}")

