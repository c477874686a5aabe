"""The operator's view: source, model and recipe; the frame with overlays; verdict, counters, plots."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import cv2
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QLabel, QPushButton, QSplitter, QToolBar,
                               QVBoxLayout, QWidget)

from app.live.camera_dialog import CameraPicker, CameraSettingsDialog
from app.live.frame_view import FrameView
from app.live.part_view import PartView
from app.live.line_dialog import AuditDialog, LineDialog
from app.live.panels import Counters, Plots, VerdictBanner
from app.live.recipe_dialog import RecipeDialog
from app.services.background import Background
from app.services.inspection_service import InspectionService
from app.services.model_service import ModelService
from app.services.user_session import UserSession, needs
from core.inspect.model_id import RUNTIMES
from core.inspect.options import InspectOptions, default_records
from core.inspect.recipe import Recipe, RecipeStore
from core.settings import Settings, app_dir, recipes_dir
from core.util.io import atomic_write_bytes

NO_MODEL = ("No model chosen yet.\n\nOpen a weights file (.pt from a training run)\n"
            "with 'Open weights…' to start inspecting.")
ONLY_APPROVED = ("This station has users: a model goes on the line only from the registry, approved by an engineer "
                 "(Inspection → Models and approval…).")


class LiveView(QWidget):
    status = Signal(str)
    review_requested = Signal(str)    # a folder of collected frames for the labelling view

    def __init__(self, settings: Settings, parent=None, session: UserSession | None = None):
        super().__init__(parent)
        self.settings = settings
        self.session = session or UserSession(parent=self)   # who is logged in; no users: everything allowed
        self.detector = None       # the loaded model (core.Detector); each Start inspects through it
        self.card = None           # its model card when it is a registered model (approval shown and required)
        self._signed_model = None  # (name, Signature) of the model being loaded by a signed change
        self.loader = ModelService(self)
        self.loader.loaded.connect(self._model_loaded)
        self.loader.failed.connect(self._model_failed)
        self.loader.progress.connect(self._runtime_progress)
        self.loader.prepared.connect(self._runtime_prepared)
        self.loader.prepare_failed.connect(self._runtime_failed)
        self.next_detector = None  # a faster runtime of the model, made while a run was going: from the next Start
        self.runtime_note = ""
        self.ctrl = InspectionService(self)
        self.ctrl.state.connect(self._on_state)
        self.ctrl.error.connect(self.show_error)
        self.ctrl.closed.connect(self._update_buttons)
        self.recipes = RecipeStore(recipes_dir())
        self.recipe = self._load_recipe(settings["recipe"])
        self.last_result = None
        self.errors: list[str] = []
        self._run_messages: set[str] = set()   # shown for the run in progress; cleared when it ends

        self.toolbar = QToolBar("Inspection")
        self.source_box = QComboBox()
        self.source_box.setEditable(True)
        self.source_box.setMinimumWidth(260)
        self.source_box.setToolTip("demo, a camera index (0), an RTSP/HTTP URL, a folder, a video, an image, an "
                                   "industrial camera (pylon://SERIAL, genicam://SERIAL: Camera…) or a station file")
        for s in ("demo", "0"):
            self.source_box.addItem(s)
        self.source_box.setCurrentText(settings["source"])
        self.btn_folder = QPushButton("Folder…")
        self.btn_file = QPushButton("File…")
        self.btn_camera = QPushButton("Camera…")          # industrial cameras (GenICam)
        self.btn_camera.setObjectName("pick_camera")
        self.btn_camera_settings = QPushButton("Camera settings…")
        self.btn_camera_settings.setObjectName("camera_settings")
        self.model_box = QComboBox()
        self.model_box.setObjectName("model_box")
        self.model_box.setMinimumWidth(150)
        self.model_box.setToolTip("bundled and registered models (python main.py models list); 'Open weights…' for a file")
        self.model_box.activated.connect(self._model_chosen)
        self.btn_model = QPushButton("Open weights…")
        self.device_box = QComboBox()
        self.device_box.addItems(["auto", "cpu", "cuda"])
        self.device_box.setCurrentText(settings["device"])
        self.cb_fastest = QCheckBox("Fastest runtime")
        self.cb_fastest.setObjectName("fastest_runtime")
        self.cb_fastest.setToolTip("On: a chosen model is prepared once (in the background) for the fastest runtime this "
                                   "CPU has, OpenVINO INT8 or fp32, checked against its weights and cached.\n"
                                   "Off: the weights run as they are, in PyTorch.")
        self.cb_fastest.setChecked(bool(settings["fastest_runtime"]))
        self.recipe_box = QComboBox()
        self._refresh_recipes()
        self.btn_recipe = QPushButton("Edit recipe…")
        self.btn_start = QPushButton("Start")
        self.btn_start.setObjectName("start")
        self.btn_pause = QPushButton("Pause")
        self.btn_step = QPushButton("Step")
        self.btn_snap = QPushButton("Snapshot")
        self.btn_collect = QPushButton("Collect for review")
        self.btn_collect.setToolTip("add this frame, with the model's boxes as proposals, to the review folder")
        self.collector = None
        self.cb_boxes = QCheckBox("Boxes")
        self.cb_boxes.setChecked(settings["show_boxes"])
        self.cb_labels = QCheckBox("Labels")
        self.cb_labels.setChecked(settings["show_labels"])
        self.cb_save_all = QCheckBox("Save all images")
        self.cb_save_all.setToolTip("NG images are always saved to dated folders; this saves OK images too")
        self.cb_save_all.setChecked(settings["save_all"])
        for w in (QLabel(" Source "), self.source_box, self.btn_folder, self.btn_file, self.btn_camera,
                  self.btn_camera_settings, QLabel("  Model "), self.model_box, self.btn_model,
                  self.device_box, QLabel("  Recipe "), self.recipe_box, self.btn_recipe):
            self.toolbar.addWidget(w)
        self.actions_bar = QToolBar("Actions")   # a second row: one row overflowed at 1440 px
        for w in (self.btn_start, self.btn_pause, self.btn_step, self.btn_snap, self.btn_collect, self.cb_boxes, self.cb_labels,
                  self.cb_save_all, self.cb_fastest):
            self.actions_bar.addWidget(w)

        self.view = FrameView()
        self.parts = PartView()       # a station of several cameras: the views side by side
        self.parts.hide()
        self.banner = VerdictBanner()
        self.counters = Counters()
        self.plots = Plots()
        self.model_label = QLabel("model: none")
        self.model_label.setObjectName("model_label")
        self.model_label.setWordWrap(True)
        self.model_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.where_label = QLabel("")
        self.where_label.setWordWrap(True)
        self.where_label.setStyleSheet("color:#78909c; font-size:11px")
        self.outputs_label = QLabel("")
        self.outputs_label.setWordWrap(True)
        self.outputs_label.setObjectName("outputs_label")
        self.error_label = QLabel("")
        self.error_label.setWordWrap(True)
        self.error_label.setObjectName("error_label")
        self.error_label.setStyleSheet("color:#ff8a65")
        side = QWidget()
        sl = QVBoxLayout(side)
        sl.addWidget(self.banner)
        sl.addWidget(self.counters)
        sl.addWidget(self.plots, 1)
        sl.addWidget(self.model_label)
        sl.addWidget(self.where_label)
        sl.addWidget(self.outputs_label)
        sl.addWidget(self.error_label)
        split = QSplitter(Qt.Horizontal)
        frames = QWidget()            # one frame, or a station's views side by side
        fl = QVBoxLayout(frames)
        fl.setContentsMargins(0, 0, 0, 0)
        fl.addWidget(self.view)
        fl.addWidget(self.parts)
        split.addWidget(frames)
        split.addWidget(side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([880, 520])  # the frame gets the room; the side panel stays readable
        side.setMaximumWidth(640)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.toolbar)
        lay.addWidget(self.actions_bar)
        lay.addWidget(split, 1)

        self.btn_folder.clicked.connect(self._browse_folder)
        self.btn_file.clicked.connect(self._browse_file)
        self.btn_camera.clicked.connect(self.pick_camera)
        self.btn_camera_settings.clicked.connect(self.camera_settings)
        self.btn_model.clicked.connect(self.open_weights_dialog)
        self.btn_start.clicked.connect(self.toggle_run)
        self.btn_pause.clicked.connect(self.toggle_pause)
        self.btn_step.clicked.connect(self.ctrl.step)
        self.btn_snap.clicked.connect(self.snapshot)
        self.btn_collect.clicked.connect(self.collect_frame)
        self.btn_recipe.clicked.connect(self.edit_recipe)
        self.recipe_box.currentTextChanged.connect(self._recipe_chosen)
        self.cb_boxes.toggled.connect(self._toggles)
        self.cb_labels.toggled.connect(self._toggles)
        self.cb_save_all.toggled.connect(lambda on: self._set_setting("save_all", on))
        self.device_box.currentTextChanged.connect(self._device_changed)
        self.cb_fastest.toggled.connect(self._fastest_toggled)
        self._toggles()
        self.paused = False
        for rights, widgets in (("camera.edit", (self.source_box, self.btn_folder, self.btn_file, self.btn_camera,
                                                 self.btn_camera_settings)),
                                ("model.choose", (self.model_box, self.btn_model, self.device_box, self.cb_fastest)),
                                ("recipe.choose", (self.recipe_box,)), ("recipe.edit", (self.btn_recipe, self.cb_save_all)),
                                ("inspect.run", (self.btn_start, self.btn_pause, self.btn_step)),
                                ("inspect.snapshot", (self.btn_snap, self.btn_collect))):
            for w in widgets:
                needs(w, rights)

        # The view pulls the newest result at up to view_hz (10 by default): enough for an
        # operator, and the CPU stays with the model (at 30 Hz drawing cost a 2-core machine
        # most of its throughput, docs/experiments/2026-11-27-inspection-pipeline.md).
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._refresh)
        self.timer.start(int(1000 / max(1.0, float(settings["view_hz"]))))
        self.plot_timer = QTimer(self)
        self.plot_timer.timeout.connect(self._refresh_plots)
        self.plot_timer.start(500)
        self._update_buttons()
        self.models_bg = Background(self, name="model-list")
        self.refresh_models()
        self.view.show_message(NO_MODEL)
        if settings["weights"]:
            self.load_weights(settings["weights"])

    # ------------------------------------------------------------------------------- model
    def open_weights_dialog(self):
        path, _ = QFileDialog.getOpenFileName(self, "Open weights", str(Path.cwd()), "Models (*.pt *.onnx *.xml);;All files (*)")
        if path:
            self.choose_model(path)

    def choose_model(self, name: str, signature=None):
        """A person puts ``name`` (a registered or bundled name, or a weights file) on the line. With station
        users only a registered model approved by an engineer, and signed (password again and a reason;
        ``signature`` when it was signed already, e.g. approved and put on the line from the training view):
        the audit row holds who, role, reason, old and new. The registry is read off the GUI thread."""
        if not self.session.enabled:
            self.load_weights(name)
            return
        from core.registry import model_card

        def found(card):
            if card is None or not card.approved:
                self._show_model_in_box()
                self.show_error(f"'{name}' is not put on the line: " + (
                    f"not approved yet. {ONLY_APPROVED}" if card is not None else ONLY_APPROVED))
                return
            sig = signature
            if sig is None:
                from app.security.sign_dialog import signed

                ok, sig = signed(self.session, "model.choose", f"Put model '{card.name}' on the line<br>"
                                 f"{_esc(card.figures())}", self)
                if not ok:
                    self._show_model_in_box()
                    self.status.emit("model not changed")
                    return
            self._signed_model = (card.name, sig)
            self.load_weights(card.name)      # by its name: the registry checks the file is what the card says

        self.models_bg.submit(lambda: model_card(name), found, lambda e: self.show_error(f"{name}: {e}"))

    def refresh_models(self):
        """Fill the model list (bundled, then registered) off the GUI thread."""
        from core.detector import model_names

        self.models_bg.submit(model_names, self._models_listed, lambda e: self.show_error(f"model list: {e}"))

    def _models_listed(self, names: list[str]):
        self.model_box.blockSignals(True)
        self.model_box.clear()
        self.model_box.addItems(names)
        self.model_box.blockSignals(False)
        self._show_model_in_box()

    def _show_model_in_box(self):
        """The model that judges, by its name (the bundled "default" on the demo line is "demo"), else its file."""
        want = self.detector.label if self.detector is not None else str(self.settings["weights"] or "")
        self.model_box.blockSignals(True)
        if want and self.model_box.findText(want) < 0:
            self.model_box.addItem(want)  # a weights file
        self.model_box.setCurrentText(want)
        self.model_box.blockSignals(False)

    def model_names(self) -> list[str]:
        return [self.model_box.itemText(i) for i in range(self.model_box.count())]

    def _model_chosen(self, *_):
        name = self.model_box.currentText()
        if name and (self.detector is None or name != self.detector.label):
            self.choose_model(name)

    def load_weights(self, path: str):
        self.model_label.setText(f"model: loading {path} …")
        self.loader.load(path, self.device_box.currentText(), source=self.source_box.currentText().strip(),
                         fastest=self.cb_fastest.isChecked())
        self._requested_weights = path

    def _model_loaded(self, detector, path: str):
        self.detector = detector
        self.card = None
        self.next_detector = None
        self.runtime_note = ""
        self._model_card_and_signature(detector)
        # a bundled model is remembered by its name ("default" follows the source), a file by its path
        self.settings["weights"] = getattr(self, "_requested_weights", path)
        self.settings.save()
        self._show_model_in_box()
        self.refresh_models()           # a model registered meanwhile joins the list
        if self.cb_fastest.isChecked() and self.loader.needs_preparing(detector):
            self.loader.prepare(detector)
            self.runtime_note = "preparing the fastest runtime for this CPU in the background …"
        self._show_model()
        if not self.ctrl.running():
            self.view.show_message("Model ready.\n\nPress Start to inspect the chosen source.")
        self.status.emit(f"model loaded: {detector.label}")
        self._update_buttons()

    def _model_card_and_signature(self, detector):
        """Off the GUI thread: the loaded model's card (its approval, shown, and needed to Start with users),
        and a signed choice of it written to the audit trail now (the next Start finds it recorded)."""
        from core.inspect.audit import record_if_changed
        from core.registry import ModelRegistry

        signed_now, self._signed_model = self._signed_model, None
        sig = signed_now[1] if signed_now and signed_now[0] == getattr(self, "_requested_weights", None) else None
        db, line = self._records()

        def work():
            card = ModelRegistry().card_for(detector.weights)
            if sig is not None:
                record_if_changed(db, "model", detector.predictor().model_id, sig, line)
            return card

        def done(card):
            if detector is self.detector:
                self.card = card
                self._show_model()
            if sig is not None:
                self.status.emit(f"model '{detector.label}' put on the line, signed by {sig.user}")

        self.models_bg.submit(work, done, lambda e: self.show_error(f"the change of model was not recorded: {e}"))

    def _records(self) -> tuple[str, str | None]:
        """Where this station's records (and so its audit trail) are, and its line's name."""
        return self.settings["db"] or default_records(), self.settings["line"] or None

    def _show_model(self):
        """Which model judges (its name and file) and on which runtime, and who approved it, always in view."""
        d = self.detector
        if d is None:
            self.model_label.setText("model: none")
            return
        m = d.metadata
        metrics = m.get("metrics") or {}
        mtxt = f", mAP50 {metrics['map50']:.3f}" if metrics.get("map50") is not None else ""
        name = f"{d.name} ({Path(str(d.weights)).name})" if d.name else str(d.weights)
        backend = d.loaded_backend        # the loader loaded it: nothing heavy here
        kind = backend.runtime if backend is not None else "pytorch"
        runtime = d.runtime.describe() if d.runtime is not None and d.runtime.path else \
            f"{RUNTIMES.get(kind, kind)} {(backend.meta if backend else m).get('precision', 'fp32')}"
        where = f" on {backend.device}" if backend is not None else ""
        text = (f"model: <b>{_esc(name)}</b> ({_esc(m.get('model_config', {}).get('name', '?'))}, "
                f"{len(d.names)} classes, {d.imgsz}px{mtxt})<br>runtime: <b>{_esc(runtime)}</b>{_esc(where)}")
        if d.runtime is not None and not d.runtime.path and self.cb_fastest.isChecked():
            text += f" <span style='color:#90a4ae'>(kept: {_esc(d.runtime.why)})</span>"
        if self.card is not None and self.card.approved:
            c = self.card
            text += (f"<br>approved for the line by <b>{_esc(c.approved_by)}</b> ({_esc(c.approved_role)}, "
                     f"{_esc(c.approved_at.replace('T', ' '))}): {_esc(c.approval_reason)}")
        elif self.session.enabled:
            text += "<br><span style='color:#ff8a65'>not an approved registered model: it cannot Start</span>"
        if self.runtime_note:
            text += f"<br><span style='color:#90a4ae'>{_esc(self.runtime_note)}</span>"
        self.model_label.setText(text)
        if d.runtime is not None:
            runtime_tip = f" ({d.runtime.timing()}; {d.runtime.why})"
        else:
            runtime_tip = ""
        self.model_label.setToolTip(f"{d.weights}\nruntime: {runtime}{runtime_tip}")
        self.model_box.setToolTip(f"judging: {name} on {runtime}\n"
                                  "bundled and registered models (python main.py models list); 'Open weights…' for a file")

    def _runtime_progress(self, line: str):
        if self.loader.preparing():
            self.runtime_note = f"preparing the fastest runtime: {line}"
            self._show_model()

    def _runtime_prepared(self, detector):
        if self.detector is None or str(detector.weights) != str(self.detector.weights):
            return        # another model was chosen meanwhile (its runtime stays cached for next time)
        if self.ctrl.running():
            self.next_detector = detector
            self.runtime_note = f"{detector.runtime.describe()} is ready: it judges from the next Start"
        else:
            self.detector = detector
            self.runtime_note = ""
        self._show_model()
        self.status.emit(f"runtime for {detector.label}: {detector.runtime.describe()}")

    def _runtime_failed(self, msg: str):
        self.runtime_note = f"the fastest runtime could not be prepared ({msg}); the weights run in PyTorch"
        self._show_model()

    def _fastest_toggled(self, on: bool):
        self._set_setting("fastest_runtime", on)
        if self.settings["weights"] and not self.ctrl.running():
            self.load_weights(self.settings["weights"])

    def _model_failed(self, msg: str):
        self._show_model()
        self.show_error(f"Cannot load the model: {msg}")
        if self.detector is None:
            self.view.show_message(NO_MODEL)
        self._update_buttons()

    # ----------------------------------------------------------------------------- running
    def toggle_run(self):
        if self.ctrl.running():
            self.stop()
        else:
            self.start()

    def start(self) -> bool:
        if self.detector is None:
            self.show_error("Choose a model first (Open weights…).")
            return False
        if self.session.enabled and (self.card is None or not self.card.approved):
            self.show_error(f"'{self.detector.label}' cannot Start. {ONLY_APPROVED}")
            return False
        if self.next_detector is not None:     # its faster runtime was made during the last run
            self.detector, self.next_detector, self.runtime_note = self.next_detector, None, ""
            self._show_model()
        src = self.source_box.currentText().strip()
        options = InspectOptions.from_settings(self.settings.values, self.recipe, source=src)
        if self.session.user is not None:        # the audit trail names the station user, with the role
            from dataclasses import replace

            options = replace(options, user=self.session.user)
        outputs = options.outputs
        self._clear_run_messages()
        ok = self.ctrl.start(self.detector, options)
        if ok:
            self.error_label.setText("")
            shown = self.ctrl.session.records.store.describe if self.ctrl.session.records else options.db
            self.where_label.setText(f"records: {shown}" + (f" (line {options.line})" if options.line else "")
                                     + f"\nimages: {options.save_ng} ({'all' if options.save_all else 'NG'})")
            self.settings["source"] = src
            self.settings.save()
            self.paused = False
            plc = "OPC UA" if outputs.get("opcua") else "Modbus TCP" if outputs.get("modbus") else None
            self.banner.set("IDLE", f"waiting for the PLC's Trigger ({plc})" if plc else "waiting for the first frame")
            if plc:
                self.view.show_message("Waiting for the PLC's Trigger.\n\nEach Trigger judges one frame.")
        self._update_buttons()
        return ok

    def stop(self):
        """Stop at once (the run's threads end and its records close in the background)."""
        self.ctrl.stop()
        self.paused = False
        self._clear_run_messages()
        self._update_buttons()
        self._refresh_plots()
        snap = self.ctrl.snapshot()
        self.banner.set("IDLE", f"stopped: {snap.total} frames judged" if snap else "stopped")

    def _clear_run_messages(self):
        """A run's warnings (a broker away, a port taken) and its connections' state end with it."""
        if self.error_label.text() in self._run_messages:
            self.error_label.setText("")
        self._run_messages.clear()
        self.outputs_label.setText("")

    def toggle_pause(self):
        if not self.ctrl.running():
            return
        if self.paused:
            self.ctrl.resume()
        else:
            self.ctrl.pause()
        self.paused = not self.paused
        self._update_buttons()

    def _update_buttons(self):
        running = self.ctrl.running()
        closing = self.ctrl.closing() and not running
        self.btn_start.setText("Stop" if running else "Stopping…" if closing else "Start")
        self.btn_start.setEnabled(self.detector is not None and not closing)
        self.btn_pause.setEnabled(running)
        self.btn_pause.setText("Resume" if self.paused and running else "Pause")
        self.btn_step.setEnabled(running and self.paused)
        self.btn_snap.setEnabled(self.last_result is not None)
        self.btn_collect.setEnabled(self.last_result is not None and self.detector is not None)

    def _on_state(self, state: str, msg: str):
        if state in ("no signal", "frozen"):
            self.banner.set("NO SIGNAL", msg)
            self.view.show_message(f"NO SIGNAL\n\n{msg}")
        elif state == "paused":
            self.banner.set("PAUSED", "single-step with Step")
        elif state == "finished":
            self.paused = False
            self._update_buttons()
            self._refresh_plots()
            self.banner.set("IDLE", msg)
        elif state == "warning":
            self.show_error(msg)
            self._run_messages.add(msg)
        self.status.emit(msg)

    def show_error(self, msg: str):
        self.errors.append(msg)
        self.error_label.setText(msg)
        self.status.emit(msg)

    def _refresh(self):
        r = self.ctrl.take_latest()
        if r is not None:
            self._show_result(r)

    def _show_result(self, r, again: bool = False):
        self.last_result = r
        self.parts.setVisible(bool(r.views))
        self.view.setVisible(not r.views)
        if r.views:
            self.parts.show_boxes, self.parts.show_labels = self.cb_boxes.isChecked(), self.cb_labels.isChecked()
            self.parts.show_part(r, getattr(self.ctrl.session.pipeline, "view_names", []))
        elif r.frame.image is not None:
            self.view.set_frame(r.frame.image, r.boxes, r.scores, r.classes, r.defect, r.names)
        if r.verdict == "ERROR":
            self.banner.set("ERROR", f"{r.frame.name}: {r.error}"[:120])
            self.error_label.setText(f"{r.frame.source} {r.frame.name}: {r.error}")
            if r.frame.image is None:
                self.view.show_message(f"ERROR\n\n{r.frame.name}\n{r.error}")
        else:
            n = int(r.defect.sum())
            top = f"max score {r.scores.max():.2f}" if len(r.scores) else "no detections"
            recipe = r.recipe.name if r.recipe else self.recipe.name
            again = " (judged again, not recorded)" if again else ""
            self.banner.set(r.verdict, f"frame {r.frame.name} · {n} defect(s) · {top} · recipe {recipe}{again}")
        self._update_buttons()

    def _refresh_plots(self):
        snap = self.ctrl.snapshot()
        if snap is None:
            return
        self._show_outputs()
        now = self.ctrl.recipe()
        if now is not None and now.name != self.recipe.name:     # the PLC switched it (RecipeIndex)
            self.recipe = now
            self._refresh_recipes()
        self.counters.update_from(snap)
        self.plots.update_from(snap)

    def snapshot(self):
        """Save the current frame and a copy with the overlay, beside the records."""
        r = self.last_result
        if r is None or r.frame.image is None:
            return
        folder = app_dir() / "snapshots"
        stamp = dt.datetime.now().strftime("%Y%m%d_%H%M%S_%f")[:-3]
        ok, buf = cv2.imencode(".png", r.frame.image)
        if ok:
            atomic_write_bytes(folder / f"{stamp}_raw.png", buf.tobytes())
        self.view.render_frame().save(str(folder / f"{stamp}_view.png"))   # whole frame, whatever the zoom
        self.status.emit(f"snapshot saved in {folder}")

    def collect_folder(self) -> Path:
        return Path(self.settings["collect_dir"] or app_dir() / "collected")

    def collect_frame(self):
        """The current frame into the review folder, its boxes as unreviewed proposals."""
        r = self.last_result
        if r is None or r.frame.image is None or self.detector is None:
            return
        from core.inspect.collect import Collector

        if self.collector is None or self.collector.names != list(r.names):
            if self.collector is not None:
                self.collector.close()
            try:
                self.collector = Collector(self.collect_folder(), r.names, ng=False)
            except OSError as e:
                self.show_error(f"cannot collect into {self.collect_folder()}: {e}")
                return
        if self.collector.offer(r, force=True):
            self.status.emit(f"frame collected for review in {self.collect_folder()} (Inspection → Review collected frames)")

    def review_collected(self):
        self.review_requested.emit(str(self.collect_folder()))

    # ----------------------------------------------------------------------------- recipes
    def _load_recipe(self, name: str) -> Recipe:
        try:
            return self.recipes.load(name)
        except ValueError:
            r = Recipe(name="default")
            if "default" not in self.recipes.names():
                try:
                    self.recipes.save(r)
                except OSError:
                    pass
            return r

    def _refresh_recipes(self):
        self.recipe_box.blockSignals(True)
        self.recipe_box.clear()
        names = self.recipes.names() or ["default"]
        self.recipe_box.addItems(names)
        self.recipe_box.setCurrentText(self.recipe.name)
        self.recipe_box.blockSignals(False)

    def _recipe_chosen(self, name: str, signature=None):
        """``signature``: an edited recipe's signed change (audited now when idle, else by the running session)."""
        if not name:
            return
        try:
            self.recipe = self.recipes.load(name)
        except ValueError as e:
            self.show_error(str(e))
            return
        if self.ctrl.running():
            self.ctrl.set_recipe(self.recipe, signature)
        elif signature is not None:
            self._record_signed("recipe", self.recipe.to_dict(), signature)
        self.settings["recipe"] = name
        self.settings.save()
        if self.paused and self.ctrl.running() and self.last_result is not None:
            # the part in view is judged again under the new recipe (shown, not recorded again)
            self.ctrl.rejudge(self.last_result, lambda r: self._show_result(r, again=True),
                              lambda e: self.show_error(f"cannot judge the frame again: {e}"))

    def edit_recipe(self):
        """Thresholds and areas; saving a change signs it (station users: password again and a reason)."""
        from app.security.sign_dialog import signed
        from core.report.content import recipe_text

        names = self.detector.names if self.detector else []
        dlg = RecipeDialog(self.recipe, names, self)
        if not (dlg.exec() and dlg.result_recipe):
            return
        new = dlg.result_recipe
        if new.to_dict() == self.recipe.to_dict():
            return
        before = recipe_text(self.recipe.to_dict()) if new.name == self.recipe.name else "(a new recipe)"
        ok, sig = signed(self.session, "recipe.edit", f"Recipe '{_esc(new.name)}'<br>before: {_esc(before)}<br>"
                         f"after: {_esc(recipe_text(new.to_dict()))}", self)
        if not ok:
            self.status.emit("recipe not changed")
            return
        self.recipe = new
        try:
            self.recipes.save(self.recipe)
        except OSError as e:
            self.show_error(f"cannot save recipe: {e}")
            return
        self._refresh_recipes()
        self._recipe_chosen(self.recipe.name, sig)

    def _record_signed(self, what: str, new, signature) -> None:
        """A signed change written to the audit trail now (off the GUI thread); the next Start finds it there."""
        if signature is None:
            return
        from core.inspect.audit import record_if_changed

        db, line = self._records()
        self.models_bg.submit(lambda: record_if_changed(db, what, new, signature, line),
                              lambda _: self.status.emit(f"{what} changed, signed by {signature.user}"),
                              lambda e: self.show_error(f"the {what} change was not recorded: {e}"))

    # ------------------------------------------------------------------------ line connections
    def _show_outputs(self):
        states = self.ctrl.output_states()
        if not states:
            self.outputs_label.setText("")
            return
        bad = any(not st.connected or st.errors for st in states)
        for st in states:
            msg = f"The PLC cannot reach this station: {st.target} {st.detail}. Choose another address in " \
                  "Inspection → Line connections…, then Start again."
            if st.detail.startswith("cannot serve") and msg not in self._run_messages:
                self.show_error(msg)          # e.g. a port in use: no Trigger will ever come
                self._run_messages.add(msg)
                self.banner.set("ERROR", "OPC UA server not running")
        self.outputs_label.setStyleSheet(f"color:{'#ffb74d' if bad else '#81c784'}; font-size:11px")
        self.outputs_label.setText("\n".join(st.line() for st in states))

    def line_dialog(self):
        dlg = LineDialog(self.settings, self, session=self.session)
        if not dlg.exec():
            return
        if dlg.signature is not None:
            from core.inspect.audit import outputs_value
            from core.inspect.outputs import parse_specs
            from core.security.secrets import redact

            self._record_signed("outputs", outputs_value(parse_specs(
                self.settings["opcua"], self.settings["mqtt"], self.settings["modbus"])), dlg.signature)
            self._record_signed("records", {"db": redact(self._records()[0]), "line": self._records()[1] or ""},
                                dlg.signature)
        if self.ctrl.running():
            self.status.emit("line connections saved: they apply at the next Start")

    def history_dialog(self):
        from core.inspect.records import read_audit
        from core.security.secrets import redact

        from core.detector import known_models

        db = self.settings["db"] or default_records()
        self.models_bg.submit(lambda: (read_audit(db), known_models()),
                              lambda r: AuditDialog(r[0], db, self, known=r[1], session=self.session).exec(),
                              lambda e: self.show_error(redact(f"history of {db}: {e}")))

    # ------------------------------------------------------------------------------ cameras
    def pick_camera(self):
        dlg = CameraPicker(self)
        if dlg.exec() and dlg.uri:
            self.source_box.setCurrentText(dlg.uri)

    def camera_settings(self):
        """The chosen camera's settings with a live preview; saved into the recipe in force."""
        from core.inspect.cameras import is_camera_uri

        uri = self.source_box.currentText().strip()
        if not is_camera_uri(uri):
            self.show_error("Camera settings are for an industrial camera: choose one with Camera… first.")
            return
        if self.ctrl.running():
            self.show_error("The inspection is using the camera: Stop it to adjust the camera.")
            return
        try:
            dlg = CameraSettingsDialog(uri, self.recipe.camera, self.recipe.name, self)
        except (ValueError, RuntimeError) as e:
            self.show_error(str(e))
            return
        if dlg.exec() and dlg.camera is not None and dlg.camera != self.recipe.camera:
            from app.security.sign_dialog import signed

            ok, sig = signed(self.session, "camera.edit", f"Camera settings of recipe '{_esc(self.recipe.name)}'<br>"
                             f"before: {_esc(self.recipe.camera or 'the camera as it is')}<br>"
                             f"after: {_esc(dlg.camera)}", self)
            if not ok:
                self.status.emit("camera settings not changed")
                return
            self.recipe.camera = dlg.camera
            try:
                self.recipes.save(self.recipe.validate())
            except (OSError, ValueError) as e:
                self.show_error(f"cannot save recipe: {e}")
                return
            self._record_signed("recipe", self.recipe.to_dict(), sig)
            self.status.emit(f"camera settings saved in recipe '{self.recipe.name}'")

    # ------------------------------------------------------------------------------- misc
    def _browse_folder(self):
        d = QFileDialog.getExistingDirectory(self, "Image folder")
        if d:
            self.source_box.setCurrentText(d)

    def _browse_file(self):
        f, _ = QFileDialog.getOpenFileName(self, "Video or image", "",
                                           "Media (*.mp4 *.avi *.mov *.mkv *.jpg *.jpeg *.png *.bmp *.tif *.tiff);;All (*)")
        if f:
            self.source_box.setCurrentText(f)

    def _set_setting(self, key, value):
        self.settings[key] = value
        self.settings.save()

    def _device_changed(self, device: str):
        self._set_setting("device", device)
        if self.settings["weights"] and not self.ctrl.running():
            self.load_weights(self.settings["weights"])

    def _toggles(self):
        self.view.show_boxes = self.cb_boxes.isChecked()
        self.view.show_labels = self.cb_labels.isChecked()
        self.settings["show_boxes"] = self.cb_boxes.isChecked()
        self.settings["show_labels"] = self.cb_labels.isChecked()
        if self.last_result is not None and self.last_result.frame.image is not None:
            r = self.last_result
            self.view.set_frame(r.frame.image, r.boxes, r.scores, r.classes, r.defect, r.names)

    def start_when_loaded(self):
        """Start inspecting as soon as the model that is loading is ready (``gui --source --weights``)."""
        self.loader.loaded.connect(lambda *_: self.ctrl.running() or self.start())

    def menus(self) -> dict[str, list]:
        """This view's actions for the main window's menus: {menu title: [QAction or None (separator)]}."""
        def act(text, slot, key=None, right=None):
            a = QAction(text, self)
            if key:
                a.setShortcut(QKeySequence(key))
            a.triggered.connect(slot)
            return needs(a, right) if right else a

        return {"&File": [act("Open &weights…", self.open_weights_dialog, QKeySequence.Open, "model.choose")],
                "&Inspection": [act("Start / Stop", self.toggle_run, "F5", "inspect.run"),
                                act("Pause / Resume", self.toggle_pause, "Space", "inspect.run"),
                                act("Step", self.ctrl.step, "F10", "inspect.run"),
                                act("Snapshot", self.snapshot, "F12", "inspect.snapshot"),
                                act("Collect this frame for review", self.collect_frame, "F9", "inspect.snapshot"),
                                act("Review collected frames", self.review_collected, right="label"),
                                act("Edit recipe…", self.edit_recipe, right="recipe.edit"),
                                act("Models and approval…", self.models_dialog, right="model.approve"), None,
                                act("Line connections…", self.line_dialog, right="line.edit"),
                                act("History of changes…", self.history_dialog)]}

    def models_dialog(self):
        """The registered models with their validation figures; an engineer approves one for the line."""
        from app.security.approval_dialog import ApprovalDialog

        ApprovalDialog(self.session, self).exec()
        self.refresh_models()

    def shutdown(self):
        if self.collector is not None:
            self.collector.close()
        self.timer.stop()
        self.plot_timer.stop()
        self.ctrl.shutdown()
        self.loader.shutdown()
        try:
            self.settings.save()
        except OSError:
            pass


def _esc(v) -> str:
    from html import escape

    return escape(str(v))
