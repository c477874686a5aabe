"""The operator's view: source, model and recipe; the frame with overlays; verdict, counters, plots.

Its parts: ``ModelChoice`` (the model that judges), ``RecipeChoice`` (the recipe in force), ``Frames``
(the frame or a station's views), ``SidePanel`` (verdict, counters, plots, records, connections) and
``AuditTrail`` (signed changes). The view lays them out and runs the inspection."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import cv2
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QCheckBox, QComboBox, QFileDialog, QLabel, QPushButton, QSplitter, QToolBar, QVBoxLayout, QWidget

from app.live.audit_trail import AuditTrail
from app.live.camera_dialog import CameraPicker
from app.live.frames import Frames
from app.live.line_dialog import LineDialog
from app.live.model_choice import NO_MODEL, ModelChoice
from app.live.recipe_choice import RecipeChoice
from app.live.side_panel import SidePanel
from app.services.background import Background
from app.services.inspection_service import InspectionService
from app.services.user_session import UserSession, needs
from core.inspect.options import InspectOptions
from core.settings import Settings, app_dir
from core.util.io import atomic_write_bytes


class LiveView(QWidget):
    status = Signal(str)
    review_requested = Signal(str)    # a folder of collected frames for the labelling view

    def __init__(self, settings: Settings, parent=None, session: UserSession | None = None):
        super().__init__(parent)
        self.settings = settings
        self.session = session or UserSession(parent=self)   # who is logged in; no users: everything allowed
        self.ctrl = InspectionService(self)
        self.ctrl.state.connect(self._on_state)
        self.ctrl.error.connect(self.show_error)
        self.ctrl.closed.connect(self._update_buttons)
        bg = Background(self, name="live-view")   # the registry and the audit trail, off the GUI thread
        self.audit = AuditTrail(settings, self.session, bg, self)
        self.models = ModelChoice(settings, self.session, bg, self.audit.where, self.ctrl.running,
                                  lambda: self.source_box.currentText().strip(), self)
        self.models.loaded.connect(self._model_loaded)
        self.models.failed.connect(self._model_failed)
        self.recipes = RecipeChoice(settings, self.session,
                                    lambda: self.models.detector.names if self.models.detector else [], self)
        self.recipes.chosen.connect(self._recipe_chosen)
        for part in (self.audit, self.models, self.recipes):
            part.status.connect(self.status)
            part.error.connect(self.show_error)
        self.last_result = None
        self.errors: list[str] = []
        self._run_messages: set[str] = set()   # shown for the run in progress; cleared when it ends
        self.collector = None
        self.paused = False

        self.source_box = QComboBox()
        self.source_box.setEditable(True)
        self.source_box.setMinimumWidth(260)
        self.source_box.setToolTip("demo, a camera index (0), an RTSP/HTTP URL, a folder, a video, an image, an "
                                   "industrial camera (pylon://SERIAL, genicam://SERIAL: Camera…) or a station file")
        self.source_box.addItems(["demo", "0"])
        self.source_box.setCurrentText(settings["source"])
        self.btn_folder = QPushButton("Folder…")
        self.btn_file = QPushButton("File…")
        self.btn_camera = QPushButton("Camera…")          # industrial cameras (GenICam)
        self.btn_camera.setObjectName("pick_camera")
        self.btn_camera_settings = QPushButton("Camera settings…")
        self.btn_camera_settings.setObjectName("camera_settings")
        self.btn_start = QPushButton("Start")
        self.btn_start.setObjectName("start")
        self.btn_pause = QPushButton("Pause")
        self.btn_step = QPushButton("Step")
        self.btn_snap = QPushButton("Snapshot")
        self.btn_collect = QPushButton("Collect for review")
        self.btn_collect.setToolTip("add this frame, with the model's boxes as proposals, to the review folder")
        self.cb_boxes = QCheckBox("Boxes")
        self.cb_boxes.setChecked(settings["show_boxes"])
        self.cb_labels = QCheckBox("Labels")
        self.cb_labels.setChecked(settings["show_labels"])
        self.cb_save_all = QCheckBox("Save all images")
        self.cb_save_all.setToolTip("NG images are always saved to dated folders; this saves OK images too")
        self.cb_save_all.setChecked(settings["save_all"])
        m, r = self.models, self.recipes
        self.toolbar = QToolBar("Inspection")
        for w in (QLabel(" Source "), self.source_box, self.btn_folder, self.btn_file, self.btn_camera,
                  self.btn_camera_settings, QLabel("  Model "), m.box, m.btn_open, m.device_box,
                  QLabel("  Recipe "), r.box, r.btn_edit):
            self.toolbar.addWidget(w)
        self.actions_bar = QToolBar("Actions")   # a second row: one row overflowed at 1440 px
        for w in (self.btn_start, self.btn_pause, self.btn_step, self.btn_snap, self.btn_collect, self.cb_boxes,
                  self.cb_labels, self.cb_save_all, m.cb_fastest):
            self.actions_bar.addWidget(w)

        self.frames = Frames()
        self.panel = SidePanel(m.label)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(self.frames)
        split.addWidget(self.panel)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([880, 520])  # the frame gets the room; the side panel stays readable
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.toolbar)
        lay.addWidget(self.actions_bar)
        lay.addWidget(split, 1)

        self.btn_folder.clicked.connect(self._browse_folder)
        self.btn_file.clicked.connect(self._browse_file)
        self.btn_camera.clicked.connect(self.pick_camera)
        self.btn_camera_settings.clicked.connect(self.camera_settings)
        self.btn_start.clicked.connect(self.toggle_run)
        self.btn_pause.clicked.connect(self.toggle_pause)
        self.btn_step.clicked.connect(self.ctrl.step)
        self.btn_snap.clicked.connect(self.snapshot)
        self.btn_collect.clicked.connect(self.collect_frame)
        self.cb_boxes.toggled.connect(self._toggles)
        self.cb_labels.toggled.connect(self._toggles)
        self.cb_save_all.toggled.connect(lambda on: self._set_setting("save_all", on))
        self._toggles()
        for rights, widgets in (("camera.edit", (self.source_box, self.btn_folder, self.btn_file, self.btn_camera,
                                                 self.btn_camera_settings)),
                                ("model.choose", (m.box, m.btn_open, m.device_box, m.cb_fastest)),
                                ("recipe.choose", (r.box,)), ("recipe.edit", (r.btn_edit, self.cb_save_all)),
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
        self.models.refresh()
        self.frames.view.show_message(NO_MODEL)
        if settings["weights"]:
            self.models.load(settings["weights"])

    # ------------------------------------------------------------------------------- model
    def _model_loaded(self, _detector):
        if not self.ctrl.running():
            self.frames.view.show_message("Model ready.\n\nPress Start to inspect the chosen source.")
        self._update_buttons()

    def _model_failed(self, msg: str):
        self.show_error(f"Cannot load the model: {msg}")
        if self.models.detector is None:
            self.frames.view.show_message(NO_MODEL)
        self._update_buttons()

    def start_when_loaded(self):
        """Start inspecting as soon as the model that is loading is ready (``gui --source --weights``)."""
        self.models.loaded.connect(lambda *_: self.ctrl.running() or self.start())

    # ----------------------------------------------------------------------------- running
    def toggle_run(self):
        if self.ctrl.running():
            self.stop()
        else:
            self.start()

    def start(self) -> bool:
        problem = self.models.ready_for_start()
        if problem:
            self.show_error(problem)
            return False
        src = self.source_box.currentText().strip()
        options = InspectOptions.from_settings(self.settings.values, self.recipes.current, source=src)
        if self.session.user is not None:        # the audit trail names the station user, with the role
            options = replace(options, user=self.session.user)
        outputs = options.outputs
        self._clear_run_messages()
        ok = self.ctrl.start(self.models.detector, options)
        if ok:
            self.panel.error_label.setText("")
            records = self.ctrl.session.records
            self.panel.show_where(records.store.describe if records else options.db, options)
            self.settings["source"] = src
            self.settings.save()
            self.paused = False
            plc = "OPC UA" if outputs.get("opcua") else "Modbus TCP" if outputs.get("modbus") else None
            self.panel.banner.set("IDLE", f"waiting for the PLC's Trigger ({plc})" if plc else "waiting for the first frame")
            if plc:
                self.frames.view.show_message("Waiting for the PLC's Trigger.\n\nEach Trigger judges one frame.")
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
        self.panel.banner.set("IDLE", f"stopped: {snap.total} frames judged" if snap else "stopped")

    def _clear_run_messages(self):
        """A run's warnings (a broker away, a port taken) and its connections' state end with it."""
        if self.panel.error_label.text() in self._run_messages:
            self.panel.error_label.setText("")
        self._run_messages.clear()
        self.panel.outputs_label.setText("")

    def _run_message(self, msg: str):
        """A warning of the run in progress, shown until it ends."""
        self.show_error(msg)
        self._run_messages.add(msg)

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
        self.btn_start.setEnabled(self.models.detector is not None and not closing)
        self.btn_pause.setEnabled(running)
        self.btn_pause.setText("Resume" if self.paused and running else "Pause")
        self.btn_step.setEnabled(running and self.paused)
        self.btn_snap.setEnabled(self.last_result is not None)
        self.btn_collect.setEnabled(self.last_result is not None and self.models.detector is not None)

    def _on_state(self, state: str, msg: str):
        banner = self.panel.banner
        if state in ("no signal", "frozen"):
            banner.set("NO SIGNAL", msg)
            self.frames.view.show_message(f"NO SIGNAL\n\n{msg}")
        elif state == "paused":
            banner.set("PAUSED", "single-step with Step")
        elif state == "finished":
            self.paused = False
            self._update_buttons()
            self._refresh_plots()
            banner.set("IDLE", msg)
        elif state == "warning":
            self._run_message(msg)
        self.status.emit(msg)

    def show_error(self, msg: str):
        self.errors.append(msg)
        self.panel.error_label.setText(msg)
        self.status.emit(msg)

    def _refresh(self):
        r = self.ctrl.take_latest()
        if r is not None:
            self._show_result(r)

    def _show_result(self, r, again: bool = False):
        self.last_result = r
        self.frames.show_result(r, getattr(self.ctrl.session.pipeline, "view_names", []))
        if r.verdict == "ERROR":
            self.panel.banner.set("ERROR", f"{r.frame.name}: {r.error}"[:120])
            self.panel.error_label.setText(f"{r.frame.source} {r.frame.name}: {r.error}")
            if r.frame.image is None:
                self.frames.view.show_message(f"ERROR\n\n{r.frame.name}\n{r.error}")
        else:
            n = int(r.defect.sum())
            top = f"max score {r.scores.max():.2f}" if len(r.scores) else "no detections"
            recipe = r.recipe.name if r.recipe else self.recipes.current.name
            again = " (judged again, not recorded)" if again else ""
            self.panel.banner.set(r.verdict, f"frame {r.frame.name} · {n} defect(s) · {top} · recipe {recipe}{again}")
        self._update_buttons()

    def _refresh_plots(self):
        snap = self.ctrl.snapshot()
        if snap is None:
            return
        self._show_outputs()
        self.recipes.follow(self.ctrl.recipe())     # the PLC may have switched it (RecipeIndex)
        self.panel.update_from(snap)

    def _show_outputs(self):
        states = self.ctrl.output_states()
        if not states:
            self.panel.outputs_label.setText("")
            return
        for st in states:
            msg = f"The PLC cannot reach this station: {st.target} {st.detail}. Choose another address in " \
                  "Inspection → Line connections…, then Start again."
            if st.detail.startswith("cannot serve") and msg not in self._run_messages:
                self._run_message(msg)          # e.g. a port in use: no Trigger will ever come
                self.panel.banner.set("ERROR", "OPC UA server not running")
        self.panel.show_outputs(states)

    # ------------------------------------------------------------------ the frame in view
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
        self.frames.view.render_frame().save(str(folder / f"{stamp}_view.png"))   # whole frame, whatever the zoom
        self.status.emit(f"snapshot saved in {folder}")

    def collect_folder(self) -> Path:
        return Path(self.settings["collect_dir"] or app_dir() / "collected")

    def collect_frame(self):
        """The current frame into the review folder, its boxes as unreviewed proposals."""
        r = self.last_result
        if r is None or r.frame.image is None or self.models.detector is None:
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

    def _toggles(self):
        boxes, labels = self.cb_boxes.isChecked(), self.cb_labels.isChecked()
        self.settings["show_boxes"], self.settings["show_labels"] = boxes, labels
        self.frames.set_overlay(boxes, labels, self.last_result)

    # ----------------------------------------------------------------------------- recipes
    def _recipe_chosen(self, recipe, signature):
        """A recipe chosen or changed (``signature``: the change signed): the run takes it now (and audits
        it), else it is audited now; a paused run judges the part in view again under it."""
        if self.ctrl.running():
            self.ctrl.set_recipe(recipe, signature)
        else:
            self.audit.record("recipe", recipe.to_dict(), signature)
        if self.paused and self.ctrl.running() and self.last_result is not None:
            # shown, not recorded again
            self.ctrl.rejudge(self.last_result, lambda r: self._show_result(r, again=True),
                              lambda e: self.show_error(f"cannot judge the frame again: {e}"))

    # ------------------------------------------------------------------------------ source
    def _browse_folder(self):
        d = QFileDialog.getExistingDirectory(self, "Image folder")
        if d:
            self.source_box.setCurrentText(d)

    def _browse_file(self):
        f, _ = QFileDialog.getOpenFileName(self, "Video or image", "",
                                           "Media (*.mp4 *.avi *.mov *.mkv *.jpg *.jpeg *.png *.bmp *.tif *.tiff);;All (*)")
        if f:
            self.source_box.setCurrentText(f)

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
        elif self.ctrl.running():
            self.show_error("The inspection is using the camera: Stop it to adjust the camera.")
        else:
            self.recipes.edit_camera(uri)

    # ------------------------------------------------------------------------------- menus
    def line_dialog(self):
        dlg = LineDialog(self.settings, self, session=self.session)
        if not dlg.exec():
            return
        self.audit.record_line_connections(dlg.signature)
        if self.ctrl.running():
            self.status.emit("line connections saved: they apply at the next Start")

    def menus(self) -> dict[str, list]:
        """This view's actions for the main window's menus: {menu title: [QAction or None (separator)]}."""
        def act(text, slot, key=None, right=None):
            a = QAction(text, self)
            if key:
                a.setShortcut(QKeySequence(key))
            a.triggered.connect(slot)
            return needs(a, right) if right else a

        return {"&File": [act("Open &weights…", self.models.open_dialog, QKeySequence.Open, "model.choose")],
                "&Inspection": [act("Start / Stop", self.toggle_run, "F5", "inspect.run"),
                                act("Pause / Resume", self.toggle_pause, "Space", "inspect.run"),
                                act("Step", self.ctrl.step, "F10", "inspect.run"),
                                act("Snapshot", self.snapshot, "F12", "inspect.snapshot"),
                                act("Collect this frame for review", self.collect_frame, "F9", "inspect.snapshot"),
                                act("Review collected frames", self.review_collected, right="label"),
                                act("Edit recipe…", self.recipes.edit, right="recipe.edit"),
                                act("Models and approval…", self.models.approval_dialog, right="model.approve"), None,
                                act("Line connections…", self.line_dialog, right="line.edit"),
                                act("History of changes…", self.audit.show_history)]}

    def _set_setting(self, key, value):
        self.settings[key] = value
        self.settings.save()

    def shutdown(self):
        if self.collector is not None:
            self.collector.close()
        self.timer.stop()
        self.plot_timer.stop()
        self.ctrl.shutdown()
        self.models.shutdown()
        try:
            self.settings.save()
        except OSError:
            pass
