"""Industrial cameras in the live view: a picker (which camera, which acquisition mode) and a
settings dialog (SFNC features with a live preview). The camera is driven on its own thread
(``core.inspect.cameras.preview``); this dialog only polls it, so the GUI never waits on a camera."""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QHBoxLayout, QLabel,
                               QListWidget, QListWidgetItem, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout,
                               QWidget)

from app.live.frame_view import FrameView
from app.services.background import Background
from core.inspect.cameras import list_cameras, parse_uri
from core.inspect.cameras.settings import FEATURES

MODES = {"free-run (newest frame)": "", "software trigger (PLC Trigger)": "software",
         "hardware trigger (line sensor)": "hardware"}
ACCESS_TEXT = {"rw": "", "ro": "read-only", "absent": "not on this camera", "unreadable": "not available now"}


class CameraPicker(QDialog):
    """Lists the cameras every backend finds (off the GUI thread); ``uri`` is the choice."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Choose a camera")
        self.uri: str | None = None
        self.list = QListWidget()
        self.list.setObjectName("camera_list")
        self.note = QLabel("Looking for cameras…")
        self.note.setWordWrap(True)
        self.mode = QComboBox()
        self.mode.addItems(list(MODES))
        self.line = QComboBox()
        self.line.addItems(["Line1", "Line2", "Line3", "Line4"])
        form = QFormLayout()
        form.addRow("Acquisition", self.mode)
        form.addRow("Trigger input (hardware)", self.line)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.button(QDialogButtonBox.Ok).setEnabled(False)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        self.list.currentRowChanged.connect(lambda i: self.buttons.button(QDialogButtonBox.Ok).setEnabled(i >= 0))
        self.list.itemDoubleClicked.connect(lambda *_: self._accept())
        lay = QVBoxLayout(self)
        lay.addWidget(self.list)
        lay.addWidget(self.note)
        lay.addLayout(form)
        lay.addWidget(self.buttons)
        self.resize(560, 360)
        self.bg = Background(self, name="camera-list")
        self.bg.submit(list_cameras, self._listed, lambda e: self.note.setText(f"Cannot list cameras: {e}"))

    def _listed(self, found):
        cams, problems = found
        for c in cams:
            it = QListWidgetItem(f"{c.uri}   {c.label()}")
            it.setData(Qt.UserRole, c.uri)
            self.list.addItem(it)
        text = "" if cams else "No camera found. Check the cable and power, and that the vendor's driver is installed."
        self.note.setText("\n".join([text, *problems]).strip())
        if cams:
            self.list.setCurrentRow(0)

    def _accept(self):
        it = self.list.currentItem()
        if it is None:
            return
        mode = MODES[self.mode.currentText()]
        uri = it.data(Qt.UserRole)
        if mode == "software":
            uri += "?trigger=software"
        elif mode == "hardware":
            uri += f"?trigger=hardware&line={self.line.currentText()}"
        self.uri = uri
        self.accept()


class CameraSettingsDialog(QDialog):
    """The camera's SFNC features beside a live preview. A change is written at once and what the
    camera read back is shown; read-only and absent features are shown as such. ``camera``: the
    recipe's features after *Save to recipe* (None when cancelled)."""

    def __init__(self, uri: str, recipe_camera: dict, recipe_name: str, parent=None, preview_factory=None):
        super().__init__(parent)
        from core.inspect.cameras.preview import CameraPreview

        parse_uri(uri)   # a clear error for a source that is no camera, before anything opens
        self.setWindowTitle(f"Camera settings: {uri}")
        self.camera: dict | None = None
        self.wanted = dict(recipe_camera)   # the recipe's, and what the user sets here
        self.preview = (preview_factory or CameraPreview)(uri)
        for k, v in self.wanted.items():    # the camera starts as the recipe has it
            self.preview.set(k, v)
        self.view = FrameView()
        self.view.show_message("Opening the camera…")
        self.table = QTableWidget(0, 3)
        self.table.setObjectName("features")
        self.table.setHorizontalHeaderLabels(["feature", "value", ""])
        self.table.verticalHeader().setVisible(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color:#ff8a65")
        self.buttons = QDialogButtonBox(QDialogButtonBox.Save | QDialogButtonBox.Cancel)
        self.buttons.button(QDialogButtonBox.Save).setText(f"Save to recipe '{recipe_name}'")
        self.buttons.accepted.connect(self._save)
        self.buttons.rejected.connect(self.reject)
        for b in self.buttons.buttons():   # Return in a value field writes that value; it must not save and close
            b.setAutoDefault(False)
            b.setDefault(False)
        side = QWidget()
        sl = QVBoxLayout(side)
        sl.addWidget(self.table, 1)
        sl.addWidget(self.status)
        row = QHBoxLayout()
        row.addWidget(self.view, 3)
        row.addWidget(side, 2)
        lay = QVBoxLayout(self)
        lay.addLayout(row, 1)
        lay.addWidget(self.buttons)
        self.resize(1100, 620)
        self._shown: list = []
        self._editors: dict = {}
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._poll)
        self.timer.start(100)

    # ------------------------------------------------------------------------- polling
    def _poll(self):
        p = self.preview
        if p.error:
            self.view.show_message(f"Cannot open the camera\n\n{p.error}")
            self.status.setText(p.error)
            self.timer.stop()
            return
        f = p.latest()
        if f is not None:
            if f.image is not None:
                self.view.set_frame(f.image)
            else:
                self.view.show_message(f.error or "no image")
        if p.messages:
            self.status.setText(p.messages[-1])
        fs = p.features()
        if fs and [(x.name, x.value, x.access) for x in fs] != self._shown:
            self._show(fs)

    def _show(self, fs):
        self._shown = [(x.name, x.value, x.access) for x in fs]
        if self.table.rowCount() != len(fs):
            self.table.setRowCount(len(fs))
            self._editors.clear()
        for i, f in enumerate(fs):
            self.table.setItem(i, 0, QTableWidgetItem(f.name))
            note = ACCESS_TEXT.get(f.access, f.access)
            if f.name not in FEATURES and f.access == "rw":
                note = "set by the acquisition mode" if f.name.startswith("Trigger") else "camera's own"
            self.table.setItem(i, 2, QTableWidgetItem(note))
            if f.name in FEATURES and f.access == "rw":
                self._editor(i, f)
            else:
                self.table.removeCellWidget(i, 1)
                self._editors.pop(f.name, None)
                item = QTableWidgetItem("" if f.value is None else str(f.value))
                item.setFlags(Qt.ItemIsEnabled)
                self.table.setItem(i, 1, item)
        self.table.resizeColumnsToContents()

    def _editor(self, row: int, f):
        ed = self._editors.get(f.name)
        if ed is None:
            if f.kind == "enum":
                ed = QComboBox()
                ed.addItems([str(c) for c in f.choices])
                ed.currentTextChanged.connect(lambda v, n=f.name: self._changed(n, v))
            elif f.kind == "int":
                ed = QSpinBox()
                ed.setRange(int(f.min if f.min is not None else 0), int(f.max if f.max is not None else 1 << 30))
                ed.setSingleStep(int(f.inc or 1))
                ed.editingFinished.connect(lambda n=f.name: self._changed(n, self._editors[n].value()))
            else:
                ed = QDoubleSpinBox()
                ed.setDecimals(2)
                ed.setRange(float(f.min if f.min is not None else 0.0), float(f.max if f.max is not None else 1e9))
                ed.editingFinished.connect(lambda n=f.name: self._changed(n, self._editors[n].value()))
            ed.setObjectName(f"edit_{f.name}")
            self._editors[f.name] = ed
            self.table.setCellWidget(row, 1, ed)
        ed.blockSignals(True)
        if isinstance(ed, QComboBox):
            ed.setCurrentText(str(f.value))
        elif not ed.hasFocus():
            ed.setValue(f.value)
        ed.blockSignals(False)

    def _changed(self, name: str, value):
        if self._shown and dict((n, v) for n, v, _ in self._shown).get(name) == value:
            return
        self.wanted[name] = value
        self.preview.set(name, value)

    def _save(self):
        now = {n: v for n, v, a in self._shown}
        # what the camera read back (it may round to its increment); a feature it lacks keeps the wanted value
        self.camera = {k: now[k] if now.get(k) is not None else v for k, v in self.wanted.items() if k in FEATURES}
        self.accept()

    def keyPressEvent(self, e):
        if e.key() in (Qt.Key_Return, Qt.Key_Enter):   # ends an entry (the field writes it); never saves
            return
        super().keyPressEvent(e)

    def done(self, r):
        self.timer.stop()
        self.preview.close()
        super().done(r)
