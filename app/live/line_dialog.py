"""The line's connections (records database, line name, the PLC handshake over OPC UA or Modbus TCP, MQTT)
and the audit history."""
from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QMessageBox,
                               QTableWidget, QTableWidgetItem, QVBoxLayout)

from app.services.background import Background
from core.inspect.connection_check import check_connections
from core.inspect.model_id import describe_model_id
from core.report.content import recipe_text
from core.report.gather import local
from core.inspect.outputs import parse_specs
from core.settings import Settings


class LineDialog(QDialog):
    """Edits the settings; they apply at the next Start (each change lands in the audit trail)."""

    def __init__(self, settings: Settings, parent=None, session=None):
        super().__init__(parent)
        self.setWindowTitle("Line connections")
        self.settings = settings
        self.session = session          # station users: a change is signed (``signature`` once accepted)
        self.signature = None
        lay = QVBoxLayout(self)
        form = QFormLayout()
        self.db = QLineEdit(settings["db"])
        self.db.setPlaceholderText("<app folder>/records.sqlite, or postgresql://user@server/plant")
        self.line = QLineEdit(settings["line"])
        self.line.setPlaceholderText("e.g. line-3 (names this line's rows in a shared database)")
        self.opcua = QLineEdit(settings["opcua"])
        self.opcua.setPlaceholderText("off; e.g. opc.tcp://0.0.0.0:4840 (the PLC triggers each inspection)")
        self.modbus = QLineEdit(settings["modbus"])
        self.modbus.setPlaceholderText("off; e.g. 0.0.0.0:502 (a PLC on Modbus TCP triggers each inspection)")
        self.mqtt = QLineEdit(settings["mqtt"])
        self.mqtt.setPlaceholderText("off; e.g. mqtt://broker:1883/plant/line-3/results")
        for label, w in (("Records database", self.db), ("Line name", self.line), ("OPC UA server (PLC)", self.opcua),
                         ("Modbus TCP server (PLC)", self.modbus), ("MQTT results", self.mqtt)):
            w.setMinimumWidth(420)
            form.addRow(label, w)
        lay.addLayout(form)
        note = QLabel("Applies at the next Start. With a PLC server (OPC UA or Modbus TCP, one of the two) the "
                      "station judges one frame per PLC Trigger; docs/line.md lists its nodes and registers.")
        note.setWordWrap(True)
        note.setStyleSheet("color:#78909c")
        lay.addWidget(note)
        self.test_result = QLabel("")
        self.test_result.setObjectName("test_result")
        self.test_result.setWordWrap(True)
        self.test_result.setTextFormat(Qt.RichText)
        lay.addWidget(self.test_result)
        bb = QDialogButtonBox(QDialogButtonBox.Save | QDialogButtonBox.Cancel)
        self.btn_test = bb.addButton("Test connection", QDialogButtonBox.ActionRole)
        self.btn_test.setToolTip("Try each connection once with what is typed above (nothing is saved)")
        self.btn_test.clicked.connect(self.test_connections)
        bb.accepted.connect(self._accept)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)
        self._bg = Background(self, name="connection-test")
        self.finished.connect(lambda *_: self._bg.shutdown())

    def test_connections(self):
        """Records database, OPC UA port and MQTT broker, each tried off the GUI thread; the result shows here."""
        opcua, mqtt = self.opcua.text().strip(), self.mqtt.text().strip()
        try:
            parse_specs(opcua, mqtt)
        except ValueError as e:
            self.test_result.setText(f"<span style='color:#e57373'>{escape(str(e))}</span>")
            return
        db = self.db.text().strip()
        self.btn_test.setEnabled(False)
        self.test_result.setText("testing …")

        def done(checks):
            self.btn_test.setEnabled(True)
            self.test_result.setText("<br>".join(
                f"<span style='color:{'#43a047' if c.ok else '#e53935'}'>{'✔' if c.ok else '✘'} <b>{escape(c.what)}</b></span>"
                f" {escape(c.target)}: {escape(c.detail)}" for c in checks))
            self.adjustSize()        # room for every line of the answer

        def failed(e):
            self.btn_test.setEnabled(True)
            self.test_result.setText(f"<span style='color:#e53935'>test failed: {escape(str(e))}</span>")

        self._bg.submit(lambda: check_connections(db, opcua, mqtt), done, failed)

    def _accept(self):
        opcua, mqtt, modbus = self.opcua.text().strip(), self.mqtt.text().strip(), self.modbus.text().strip()
        try:
            if opcua and modbus:
                raise ValueError("One PLC handshake at a time: clear the OPC UA or the Modbus TCP server.")
            parse_specs(opcua, mqtt, modbus)
        except ValueError as e:
            QMessageBox.warning(self, "Line connections", str(e))
            return
        new = {"db": self.db.text().strip(), "line": self.line.text().strip(), "opcua": opcua, "modbus": modbus,
               "mqtt": mqtt}
        changed = {k: v for k, v in new.items() if v != (self.settings[k] or "")}
        if changed and self.session is not None:
            from app.security.sign_dialog import signed
            from core.security.secrets import redact

            ok, self.signature = signed(self.session, "line.edit", "Line connections<br>" + "<br>".join(
                f"{k}: {escape(redact(self.settings[k] or 'off'))} → {escape(redact(v or 'off'))}"
                for k, v in changed.items()), self)
            if not ok:
                return
        for k, v in new.items():
            self.settings[k] = v
        try:
            self.settings.save()
        except OSError as e:
            QMessageBox.warning(self, "Line connections", f"cannot save the settings: {e}")
            return
        self.accept()


class AuditDialog(QDialog):
    """Who changed which recipe, threshold, model or output, when: the newest first."""

    def __init__(self, rows: list[tuple], where: str, parent=None, known: dict | None = None, session=None):
        """``rows``: (ts UTC ISO, who, line, what, old, new), newest first; ``known``: weights hash ->
        model name (``core.detector.known_models``), for model entries written before records named models;
        ``session`` (``UserSession``): who may verify and export the trail."""
        super().__init__(parent)
        from core.security.secrets import redact

        self.where = where

        self.setWindowTitle(f"History of changes: {redact(where)}")
        self.resize(980, 520)
        lay = QVBoxLayout(self)
        t = QTableWidget(len(rows), 8)
        t.setHorizontalHeaderLabels(["when (local time)", "who", "line", "what", "old", "new", "role", "reason"])
        for i, (ts, *rest) in enumerate(rows):
            shown = [local(ts), *rest[:3], *(_readable(rest[2], v, known) for v in rest[3:5]), *rest[5:7]]
            for j, v in enumerate(shown):
                item = QTableWidgetItem("" if v is None else str(v))
                raw = ts if j == 0 else rest[j - 1]
                item.setToolTip("" if raw is None else str(raw))     # the stored value, as it is
                t.setItem(i, j, item)
        t.resizeColumnsToContents()
        for j in (4, 5):
            t.setColumnWidth(j, 260)
        lay.addWidget(t)
        if not rows:
            lay.addWidget(QLabel("No changes recorded yet: the first Start writes the model, recipe and outputs."))
        self.verdict = QLabel("")
        self.verdict.setObjectName("audit_verdict")
        self.verdict.setWordWrap(True)
        lay.addWidget(self.verdict)
        bb = QDialogButtonBox(QDialogButtonBox.Close)
        self.btn_verify = bb.addButton("Verify the chain", QDialogButtonBox.ActionRole)
        self.btn_verify.setToolTip("Walk the hash chain: names the first row altered, removed or re-ordered")
        self.btn_verify.clicked.connect(self.verify)
        self.btn_export = bb.addButton("Export…", QDialogButtonBox.ActionRole)
        self.btn_export.setToolTip("The trail as PDF or CSV, with its verification")
        self.btn_export.clicked.connect(self.export)
        if session is not None:
            session.gate(self.btn_verify, "audit.verify")
            session.gate(self.btn_export, "audit.export")
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)
        self.table = t
        self._bg = Background(self, name="audit")
        self.finished.connect(lambda *_: self._bg.shutdown())

    def verify(self):
        """``audit verify`` off the GUI thread; the verdict shows under the table."""
        from core.inspect.audit import verify_audit

        self.btn_verify.setEnabled(False)
        self.verdict.setText("verifying …")
        self._bg.submit(lambda: verify_audit(self.where), self._verified,
                        lambda e: self._verified(None, f"cannot verify: {e}"))

    def _verified(self, rep, error: str = ""):
        from core.security.secrets import redact

        self.btn_verify.setEnabled(True)
        ok = rep is not None and rep.ok
        self.verdict.setStyleSheet(f"color:{'#43a047' if ok else '#e53935'}")
        self.verdict.setText(redact(error or rep.text()))

    def export(self):
        from PySide6.QtWidgets import QFileDialog

        from core.inspect.audit import export_audit

        path, chosen = QFileDialog.getSaveFileName(self, "Export the audit trail", "audit.pdf",
                                                   "PDF (*.pdf);;CSV (*.csv)")
        if not path:
            return
        fmt = "csv" if path.lower().endswith(".csv") or chosen.startswith("CSV") else "pdf"
        self.btn_export.setEnabled(False)
        self.verdict.setText(f"exporting to {path} …")

        def done(paths):
            self.btn_export.setEnabled(True)
            self.verdict.setStyleSheet("")
            self.verdict.setText(f"exported: {paths[0]}")

        def failed(e):
            self.btn_export.setEnabled(True)
            self.verdict.setStyleSheet("color:#e53935")
            self.verdict.setText(f"cannot export to {path}: {e}")

        self._bg.submit(lambda: export_audit(self.where, fmt, path), done, failed)


def _readable(what: str, value: str | None, known: dict | None) -> str | None:
    """An audit value as a person reads it: a model by name, a recipe by its thresholds, outputs by target."""
    import json

    if not value:
        return value
    try:
        if what == "model":
            return describe_model_id(value, known)
        if what == "recipe":
            return recipe_text(json.loads(value))
        if what == "outputs":
            return ", ".join(f"{k} {v}" for k, v in json.loads(value).items()) or "none"
    except (ValueError, TypeError, KeyError, AttributeError):
        pass
    return value
