"""The model that judges: the Model box, Open weights…, the device and Fastest runtime; loading off the
GUI thread, a station's approval and signature, the faster runtime made in the background, and the
label that names model, runtime and approval."""
from __future__ import annotations

from collections.abc import Callable
from html import escape
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QFileDialog, QLabel, QPushButton

from app.services.background import Background
from app.services.model_service import ModelService
from app.services.user_session import UserSession
from core.inspect.model_id import RUNTIMES
from core.settings import Settings

NO_MODEL = ("No model chosen yet.\n\nOpen a weights file (.pt from a training run)\n"
            "with 'Open weights…' to start inspecting.")
ONLY_APPROVED = ("This station has users: a model goes on the line only from the registry, approved by an engineer "
                 "(Inspection → Models and approval…).")
BOX_TIP = "bundled and registered models (python main.py models list); 'Open weights…' for a file"


class ModelChoice(QObject):
    """``detector``: the loaded model (core.Detector) each Start inspects through, or None; ``card``: its
    model card when it is a registered model. ``loaded(detector)`` once one is loaded and named,
    ``failed(message)`` when one could not be."""

    loaded = Signal(object)
    failed = Signal(str)
    status = Signal(str)
    error = Signal(str)

    def __init__(self, settings: Settings, session: UserSession, bg: Background,
                 records: Callable[[], tuple[str, str | None]], running: Callable[[], bool],
                 source: Callable[[], str], parent):
        """``records()``: where the audit trail is (database, line); ``running()``: whether a run is going;
        ``source()``: the source typed (``default`` picks the demo model for the demo line); ``parent``:
        the view, over which dialogs open."""
        super().__init__(parent)
        self.settings, self.session, self.bg = settings, session, bg
        self._records, self._running, self._source = records, running, source
        self.detector = None
        self.card = None
        self.next_detector = None   # a faster runtime of the model, made while a run was going: from the next Start
        self.runtime_note = ""
        self._signed = None         # (name, Signature) of the model being loaded by a signed change
        self._requested = None      # the name or file asked for (a bundled model is remembered by its name)
        self.loader = ModelService(self)
        self.loader.loaded.connect(self._loaded)
        self.loader.failed.connect(self._failed)
        self.loader.progress.connect(self._runtime_progress)
        self.loader.prepared.connect(self._runtime_prepared)
        self.loader.prepare_failed.connect(self._runtime_failed)

        self.box = QComboBox()
        self.box.setObjectName("model_box")
        self.box.setMinimumWidth(150)
        self.box.setToolTip(BOX_TIP)
        self.box.activated.connect(self._chosen_in_box)
        self.btn_open = QPushButton("Open weights…")
        self.btn_open.clicked.connect(self.open_dialog)
        self.device_box = QComboBox()
        self.device_box.addItems(["auto", "cpu", "cuda"])
        self.device_box.setCurrentText(settings["device"])
        self.device_box.currentTextChanged.connect(self._device_changed)
        self.cb_fastest = QCheckBox("Fastest runtime")
        self.cb_fastest.setObjectName("fastest_runtime")
        self.cb_fastest.setToolTip("On: a chosen model is prepared once (in the background) for the fastest runtime this "
                                   "CPU has, OpenVINO INT8 or fp32, checked against its weights and cached.\n"
                                   "Off: the weights run as they are, in PyTorch.")
        self.cb_fastest.setChecked(bool(settings["fastest_runtime"]))
        self.cb_fastest.toggled.connect(self._fastest_toggled)
        self.label = QLabel("model: none")
        self.label.setObjectName("model_label")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextSelectableByMouse)

    # --------------------------------------------------------------------------- choosing
    def open_dialog(self):
        path, _ = QFileDialog.getOpenFileName(self.parent(), "Open weights", str(Path.cwd()),
                                              "Models (*.pt *.onnx *.xml);;All files (*)")
        if path:
            self.choose(path)

    def choose(self, name: str, signature=None):
        """A person puts ``name`` (a registered or bundled name, or a weights file) on the line. With station
        users only a registered model approved by an engineer, and signed (password again and a reason;
        ``signature`` when it was signed already, e.g. approved and put on the line from the training view):
        the audit row holds who, role, reason, old and new. The registry is read off the GUI thread."""
        if not self.session.enabled:
            self.load(name)
            return
        from core.registry import model_card

        def found(card):
            if card is None or not card.approved:
                self._show_in_box()
                self.error.emit(f"'{name}' is not put on the line: " + (
                    f"not approved yet. {ONLY_APPROVED}" if card is not None else ONLY_APPROVED))
                return
            sig = signature
            if sig is None:
                from app.security.sign_dialog import signed

                ok, sig = signed(self.session, "model.choose", f"Put model '{card.name}' on the line<br>"
                                 f"{escape(card.figures())}", self.parent())
                if not ok:
                    self._show_in_box()
                    self.status.emit("model not changed")
                    return
            self._signed = (card.name, sig)
            self.load(card.name)      # by its name: the registry checks the file is what the card says

        self.bg.submit(lambda: model_card(name), found, lambda e: self.error.emit(f"{name}: {e}"))

    def _chosen_in_box(self, *_):
        name = self.box.currentText()
        if name and (self.detector is None or name != self.detector.label):
            self.choose(name)

    def refresh(self):
        """Fill the model list (bundled, then registered) off the GUI thread."""
        from core.detector import model_names

        self.bg.submit(model_names, self._listed, lambda e: self.error.emit(f"model list: {e}"))

    def _listed(self, names: list[str]):
        self.box.blockSignals(True)
        self.box.clear()
        self.box.addItems(names)
        self.box.blockSignals(False)
        self._show_in_box()

    def _show_in_box(self):
        """The model that judges, by its name (the bundled "default" on the demo line is "demo"), else its file."""
        want = self.detector.label if self.detector is not None else str(self.settings["weights"] or "")
        self.box.blockSignals(True)
        if want and self.box.findText(want) < 0:
            self.box.addItem(want)  # a weights file
        self.box.setCurrentText(want)
        self.box.blockSignals(False)

    def names(self) -> list[str]:
        return [self.box.itemText(i) for i in range(self.box.count())]

    def approval_dialog(self):
        """The registered models with their validation figures; an engineer approves one for the line."""
        from app.security.approval_dialog import ApprovalDialog

        ApprovalDialog(self.session, self.parent()).exec()
        self.refresh()

    # ---------------------------------------------------------------------------- loading
    def load(self, path: str):
        self.label.setText(f"model: loading {path} …")
        self.loader.load(path, self.device_box.currentText(), source=self._source(), fastest=self.cb_fastest.isChecked())
        self._requested = path

    def reload(self):
        """The model in the settings loaded again (another device or runtime), unless a run is going."""
        if self.settings["weights"] and not self._running():
            self.load(self.settings["weights"])

    def _loaded(self, detector, path: str):
        self.detector = detector
        self.card = None
        self.next_detector = None
        self.runtime_note = ""
        self._card_and_signature(detector)
        # a bundled model is remembered by its name ("default" follows the source), a file by its path
        self.settings["weights"] = self._requested or path
        self.settings.save()
        self._show_in_box()
        self.refresh()           # a model registered meanwhile joins the list
        if self.cb_fastest.isChecked() and self.loader.needs_preparing(detector):
            self.loader.prepare(detector)
            self.runtime_note = "preparing the fastest runtime for this CPU in the background …"
        self.describe()
        self.status.emit(f"model loaded: {detector.label}")
        self.loaded.emit(detector)

    def _failed(self, msg: str):
        self.describe()
        self.failed.emit(msg)

    def _card_and_signature(self, detector):
        """Off the GUI thread: the loaded model's card (its approval, shown, and needed to Start with users),
        and a signed choice of it written to the audit trail now (the next Start finds it recorded)."""
        from core.inspect.audit import record_if_changed
        from core.registry import ModelRegistry

        signed_now, self._signed = self._signed, None
        sig = signed_now[1] if signed_now and signed_now[0] == self._requested else None
        db, line = self._records()

        def work():
            card = ModelRegistry().card_for(detector.weights)
            if sig is not None:
                record_if_changed(db, "model", detector.predictor().model_id, sig, line)
            return card

        def done(card):
            if detector is self.detector:
                self.card = card
                self.describe()
            if sig is not None:
                self.status.emit(f"model '{detector.label}' put on the line, signed by {sig.user}")

        self.bg.submit(work, done, lambda e: self.error.emit(f"the change of model was not recorded: {e}"))

    def ready_for_start(self) -> str | None:
        """None when the model may judge a run (a faster runtime made during the last run judges from
        now); else why not."""
        if self.detector is None:
            return "Choose a model first (Open weights…)."
        if self.session.enabled and (self.card is None or not self.card.approved):
            return f"'{self.detector.label}' cannot Start. {ONLY_APPROVED}"
        if self.next_detector is not None:
            self.detector, self.next_detector, self.runtime_note = self.next_detector, None, ""
            self.describe()
        return None

    # ---------------------------------------------------------------------------- runtime
    def _runtime_progress(self, line: str):
        if self.loader.preparing():
            self.runtime_note = f"preparing the fastest runtime: {line}"
            self.describe()

    def _runtime_prepared(self, detector):
        if self.detector is None or str(detector.weights) != str(self.detector.weights):
            return        # another model was chosen meanwhile (its runtime stays cached for next time)
        if self._running():
            self.next_detector = detector
            self.runtime_note = f"{detector.runtime.describe()} is ready: it judges from the next Start"
        else:
            self.detector = detector
            self.runtime_note = ""
        self.describe()
        self.status.emit(f"runtime for {detector.label}: {detector.runtime.describe()}")

    def _runtime_failed(self, msg: str):
        self.runtime_note = f"the fastest runtime could not be prepared ({msg}); the weights run in PyTorch"
        self.describe()

    def _fastest_toggled(self, on: bool):
        self.settings["fastest_runtime"] = on
        self.settings.save()
        self.reload()

    def _device_changed(self, device: str):
        self.settings["device"] = device
        self.settings.save()
        self.reload()

    # ------------------------------------------------------------------------------ label
    def describe(self):
        """Which model judges (its name and file) and on which runtime, and who approved it, always in view."""
        d = self.detector
        if d is None:
            self.label.setText("model: none")
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
        text = (f"model: <b>{escape(name)}</b> ({escape(str(m.get('model_config', {}).get('name', '?')))}, "
                f"{len(d.names)} classes, {d.imgsz}px{mtxt})<br>runtime: <b>{escape(runtime)}</b>{escape(where)}")
        if d.runtime is not None and not d.runtime.path and self.cb_fastest.isChecked():
            text += f" <span style='color:#90a4ae'>(kept: {escape(str(d.runtime.why))})</span>"
        if self.card is not None and self.card.approved:
            c = self.card
            text += (f"<br>approved for the line by <b>{escape(str(c.approved_by))}</b> ({escape(str(c.approved_role))}, "
                     f"{escape(c.approved_at.replace('T', ' '))}): {escape(str(c.approval_reason))}")
        elif self.session.enabled:
            text += "<br><span style='color:#ff8a65'>not an approved registered model: it cannot Start</span>"
        if self.runtime_note:
            text += f"<br><span style='color:#90a4ae'>{escape(self.runtime_note)}</span>"
        self.label.setText(text)
        runtime_tip = f" ({d.runtime.timing()}; {d.runtime.why})" if d.runtime is not None else ""
        self.label.setToolTip(f"{d.weights}\nruntime: {runtime}{runtime_tip}")
        self.box.setToolTip(f"judging: {name} on {runtime}\n{BOX_TIP}")

    def shutdown(self):
        self.loader.shutdown()
