"""One inspection session: source + predictor + recipe -> verdicts, records and a stats snapshot.

Headless ``inspect`` and the GUI's live view both run one of these. It owns the records database
and the pipeline's threads for its lifetime: ``start`` opens them (a missing folder or an
unwritable database fails here, before any thread starts, and nothing is left open), ``stop``
closes them, and ``snapshot`` gives a copy of the counters that a view can read without locks.
"""
from __future__ import annotations

import threading

from .pipeline import InspectionResult, Pipeline, StatsSnapshot
from .recipe import Recipe
from .records import RecordsWriter
from .sources import open_source


class InspectionSession:
    """Runs ``source`` (what the user typed, or a Source) through ``predictor`` under ``recipe``."""

    def __init__(self, source, predictor, recipe: Recipe | None = None, db: str | None = None,
                 save_ng: str | None = None, save_all: bool = False, watch: bool = False, demo_fps: float = 0.0,
                 max_frames: int = 0, on_result=None, on_state=None, collect: dict | None = None):
        """``collect``: {"folder", "band", "every"} collects frames for review (``core.inspect.collect``)."""
        self.source_spec = source
        self.collect = collect
        self.collector = None
        self.predictor = predictor
        self.recipe = recipe or Recipe()
        self.db, self.save_ng, self.save_all = db or None, save_ng or None, save_all
        self.watch, self.demo_fps, self.max_frames = watch, demo_fps, max_frames
        self.on_result = on_result
        self.on_state = on_state or (lambda state, msg: None)
        self.pipeline: Pipeline | None = None
        self.records: RecordsWriter | None = None
        self._latest: InspectionResult | None = None
        self._lock = threading.Lock()

    # ---------------------------------------------------------------------------- lifecycle
    def start(self) -> "InspectionSession":
        src = self.source_spec
        source = open_source(src, watch=self.watch, demo_fps=self.demo_fps) if isinstance(src, str) else src
        self.records = RecordsWriter(self.db) if self.db else None
        try:
            if self.collect:
                from core.inspect.collect import Collector

                c = self.collect
                self.collector = Collector(c["folder"], self.predictor.names, band=c.get("band"),
                                           every=c.get("every", 0))
            self.pipeline = Pipeline(source, self.predictor, self.recipe, self.records, save_ng=self.save_ng,
                                     save_all=self.save_all, on_result=self._on_result, on_state=self.on_state,
                                     max_frames=self.max_frames, collector=self.collector)
            self.pipeline.start()
        except BaseException:
            self.pipeline = None
            self._close_records()
            raise
        return self

    def stop(self) -> None:
        if self.pipeline:
            self.pipeline.stop()
        self._close_records()

    def wait(self, timeout: float | None = None) -> bool:
        """True once the source is exhausted (a folder, a video, max_frames) or the session stopped."""
        return self.pipeline.wait(timeout) if self.pipeline else True

    @property
    def finished(self) -> bool:
        return self.pipeline is None or self.pipeline.finished.is_set()

    def running(self) -> bool:
        return self.pipeline is not None and not self.pipeline.finished.is_set()

    def _close_records(self):
        if self.records:
            self.records.close()

    # ------------------------------------------------------------------------------ control
    def pause(self):
        if self.pipeline:
            self.pipeline.pause()

    def resume(self):
        if self.pipeline:
            self.pipeline.resume()

    def step(self):
        if self.pipeline:
            self.pipeline.step()

    def set_recipe(self, recipe: Recipe):
        self.recipe = recipe
        if self.pipeline:
            self.pipeline.set_recipe(recipe)

    # ------------------------------------------------------------------------------ results
    def _on_result(self, r: InspectionResult):  # inference thread
        with self._lock:
            self._latest = r
        if self.on_result:
            self.on_result(r)

    def take_latest(self) -> InspectionResult | None:
        """The newest result not yet taken (a view draws at its own pace; every result is counted)."""
        with self._lock:
            r, self._latest = self._latest, None
            return r

    def snapshot(self) -> StatsSnapshot | None:
        if self.pipeline is None:
            return None
        return self.pipeline.stats.snapshot()

    @property
    def records_error(self) -> str | None:
        return self.records.error if self.records else None

    @property
    def records_written(self) -> int:
        return self.records.written if self.records else 0
