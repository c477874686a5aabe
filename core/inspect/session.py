"""One inspection session: source + predictor + recipe -> verdicts, records and a stats snapshot.

Headless ``inspect`` and the GUI's live view both run one of these. It owns the records database
and the pipeline's threads for its lifetime: ``start`` opens them (a missing folder or an
unwritable database fails here, before any thread starts, and nothing is left open), ``stop``
closes them, and ``snapshot`` gives a copy of the counters that a view can read without locks.
"""
from __future__ import annotations

import copy
import threading
from dataclasses import replace

from .options import InspectOptions
from .pipeline import InspectionResult, Pipeline, StatsSnapshot
from .recipe import Recipe
from .records import RecordsWriter
from .sources import open_source


class InspectionSession:
    """Runs ``options.source`` through ``predictor`` under ``options.recipe`` (``InspectOptions``)."""

    def __init__(self, options: InspectOptions, predictor, on_result=None, on_state=None, recipe_store=None,
                 wait_outputs: bool = True, view_predictors: list | None = None):
        """``recipe_store``: the recipes a PLC chooses by index (0 is the session's own);
        ``wait_outputs``: False on a GUI thread, where line servers start in the background;
        ``view_predictors``: a station of several cameras (``options.views``), each view's model."""
        self.options = options
        self.output_specs = dict(options.outputs or {})
        self.outputs: list = []
        self.recipe_store = recipe_store
        self.wait_outputs = wait_outputs
        self.collector = None
        self.retention = None           # core.inspect.retention.RetentionWorker over the saved images
        self.predictor = predictor
        self.view_predictors = list(view_predictors or [predictor] * len(options.views))
        self.recipe = copy.deepcopy(options.recipe)
        self.on_result = on_result
        self.on_state = on_state or (lambda state, msg: None)
        self.pipeline: Pipeline | None = None
        self.records: RecordsWriter | None = None
        self._latest: InspectionResult | None = None
        self._lock = threading.Lock()
        self._recipe_lock = threading.Lock()   # the GUI and the PLC may switch at once
        self.stopping = False

    @property
    def line(self) -> str | None:
        return self.options.line

    # ---------------------------------------------------------------------------- lifecycle
    def start(self) -> "InspectionSession":
        o = self.options
        source = None if o.views else \
            open_source(o.source, watch=o.watch, demo_fps=o.demo_fps) if isinstance(o.source, str) else o.source
        self.records = RecordsWriter(o.db, line=o.line, outbox=o.outbox, spool=o.spool,
                                     on_state=self._records_state) if o.db else None
        try:
            if self.records:
                from .audit import outputs_value

                who = {"session_user": o.user}
                self.records.audit_if_changed("model", getattr(self.predictor, "model_id", None), **who)
                if o.approval:
                    self.records.audit_if_changed("model approval", dict(o.approval), **who)
                if o.retention is not None and o.retention.deletes:
                    self.records.audit_if_changed("image retention", o.retention.to_json(), **who)
                self.records.audit_if_changed("recipe", self.recipe.to_dict(), **who)
                # no password reaches the audit trail, even from old settings that kept one in a URL
                self.records.audit_if_changed("outputs", outputs_value(self.output_specs), **who)
            if self.output_specs:
                from core.inspect.outputs import open_outputs

                names = self._names = self.recipe_names()
                self._first_recipe = self.recipe
                self.outputs = open_outputs(self.output_specs, model_id=getattr(self.predictor, "model_id", ""),
                                            recipes=names, recipe_index=names.index(self.recipe.name)
                                            if self.recipe.name in names else 0,
                                            on_recipe=self._recipe_by_index, line=o.line,
                                            on_state=self.on_state, wait=self.wait_outputs,
                                            opcua_security=o.opcua_security, modbus_allow=o.modbus_allow)
            if o.collect:
                from core.inspect.collect import Collector

                self.collector = Collector(o.collect.folder, self.predictor.names, band=o.collect.band,
                                           every=o.collect.every)
            if o.retention is not None and o.retention.deletes and o.save_ng:
                from .retention import RetentionWorker

                self.retention = RetentionWorker(o.save_ng, o.retention, self.records, on_state=self.on_state).start()
            if o.views:
                self.pipeline = self._station()
            else:
                self.pipeline = Pipeline(source, self.predictor, replace(o, recipe=self.recipe), self.records,
                                         on_result=self._on_result, on_state=self.on_state,
                                         collector=self.collector, outputs=self.outputs)
            self.pipeline.start()
        except BaseException:
            self.pipeline = None
            self._close_outputs()
            self._close_retention()
            self._close_records()
            raise
        return self

    def _station(self):
        """Several cameras, one part (``core.inspect.multiview``): each view its source, model, recipe."""
        from .multiview import MultiViewPipeline, View

        o = self.options
        views = []
        for v, pred in zip(o.views, self.view_predictors):
            recipe = self.recipe_store.load(v.recipe) if v.recipe and self.recipe_store is not None else self.recipe
            if self.records:
                self.records.audit_if_changed(f"recipe {v.name}", recipe.to_dict())
            views.append(View(v.name, open_source(v.source, watch=o.watch, demo_fps=o.demo_fps), pred, recipe))
        return MultiViewPipeline(views, replace(o, recipe=self.recipe), self.records, on_result=self._on_result,
                                 on_state=self.on_state, outputs=self.outputs, recipe_store=self.recipe_store)

    def request_stop(self) -> None:
        """Stop judging now, without waiting (``Pipeline.request_stop``); ``stop`` then closes."""
        self.stopping = True
        if self.pipeline:
            self.pipeline.request_stop()

    def stop(self) -> None:
        """End the run and wait for its threads, then close outputs and records (every row written)."""
        self.stopping = True
        if self.pipeline:
            self.pipeline.stop()
        self._close_outputs()
        self._close_retention()
        self._close_records()

    def _close_retention(self):
        if self.retention is not None:
            self.retention.close()

    def _close_outputs(self):
        for o in self.outputs:
            try:
                o.close()
            except Exception:  # noqa: BLE001 - closing one must not keep the others open
                pass

    def wait(self, timeout: float | None = None) -> bool:
        """True once the source is exhausted (a folder, a video, max_frames) or the session stopped."""
        return self.pipeline.wait(timeout) if self.pipeline else True

    @property
    def finished(self) -> bool:
        return self.pipeline is None or self.pipeline.finished.is_set()

    def running(self) -> bool:
        """Judging frames: started, not finished and not asked to stop."""
        return self.pipeline is not None and not self.pipeline.finished.is_set() and not self.stopping

    def _records_state(self, state: str, msg: str):   # the records writer's thread
        """Records that cannot be written (kept, spooled, the station stopped judging) are the
        session's state: the live view shows it, the CLI prints it."""
        (self.pipeline._set_state if self.pipeline is not None else self.on_state)(state, msg)

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

    def set_recipe(self, recipe: Recipe, by: str | None = None, signature=None):
        """From the next frame on, ``recipe`` judges (thresholds, and so the detector's floor, together;
        ``Pipeline.set_recipe``). ``by``: who changed it when not the session's user (e.g. "PLC"), for the
        audit trail; ``signature`` (``core.security.users.Signature``): an edited recipe's signed change."""
        recipe = copy.deepcopy(recipe.validate())
        with self._recipe_lock:
            if self.records:
                self.records.audit_if_changed("recipe", recipe.to_dict(), by, signature, self.options.user)
            self.recipe = recipe
            if self.pipeline:
                self.pipeline.set_recipe(recipe)

    def recipe_names(self) -> list[str]:
        """What RecipeIndex chooses from: this session's recipe first, then the saved ones by name."""
        saved = sorted(self.recipe_store.names()) if self.recipe_store is not None else []
        return [self.recipe.name, *[n for n in saved if n != self.recipe.name]]

    def _recipe_by_index(self, index: int):   # the PLC server's thread
        name = self._names[index]      # fixed at start: indices do not move under the PLC
        if name == self.recipe.name:
            return
        if index == 0:
            recipe = self._first_recipe
        else:
            recipe = self.recipe_store.load(name)
        via = "Modbus" if "modbus" in self.output_specs else "OPC UA"
        self.set_recipe(recipe, by=f"PLC ({via} RecipeIndex)")

    def output_states(self) -> list:
        """Each output's connection state (``OutputState``), for the view and the log."""
        return [o.state() for o in self.outputs]

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

    def rejudge(self, r: InspectionResult) -> InspectionResult:
        """``r``'s frame judged again under the recipe in force now, neither counted nor recorded:
        what the operator sees after changing the recipe while paused. Off the GUI thread."""
        recipe = self.recipe
        if r.frame.image is None:
            return r
        det = self.predictor(r.frame.image, conf=recipe.min_conf())
        verdict, mask = recipe.verdict(det.boxes, det.scores, det.classes, self.predictor.names)
        return replace(r, verdict=verdict, boxes=det.boxes, scores=det.scores, classes=det.classes, defect=mask,
                       recipe=recipe, trigger=None)

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
