"""The line's connections (records database, line name, the PLC handshake over OPC UA or Modbus TCP, MQTT)
and the audit history."""
from __future__ import annotations

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QMessageBox,
                               QTableWidget, QTableWidgetItem, QVBoxLayout)

from core.inspect.outputs import parse_specs
from core.settings import Settings


class LineDialog(QDialog):
    """Edits the settings; they apply at the next Start (each change lands in the audit trail)."""

    def __init__(self, settings: Settings, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Line connections")
        self.settings = settings
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
        bb = QDialogButtonBox(QDialogButtonBox.Save | QDialogButtonBox.Cancel)
        bb.accepted.connect(self._accept)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)

    def _accept(self):
        opcua, mqtt, modbus = self.opcua.text().strip(), self.mqtt.text().strip(), self.modbus.text().strip()
        try:
            if opcua and modbus:
                raise ValueError("One PLC handshake at a time: clear the OPC UA or the Modbus TCP server.")
            parse_specs(opcua, mqtt, modbus)
        except ValueError as e:
            QMessageBox.warning(self, "Line connections", str(e))
            return
        for k, v in (("db", self.db.text().strip()), ("line", self.line.text().strip()), ("opcua", opcua),
                     ("modbus", modbus), ("mqtt", mqtt)):
            self.settings[k] = v
        try:
            self.settings.save()
        except OSError as e:
            QMessageBox.warning(self, "Line connections", f"cannot save the settings: {e}")
            return
        self.accept()


class AuditDialog(QDialog):
    """Who changed which recipe, threshold, model or output, when: the newest first."""

    def __init__(self, rows: list[tuple], where: str, parent=None):
        super().__init__(parent)
        from core.security.secrets import redact

        self.setWindowTitle(f"History of changes: {redact(where)}")
        self.resize(980, 520)
        lay = QVBoxLayout(self)
        t = QTableWidget(len(rows), 8)
        t.setHorizontalHeaderLabels(["when (UTC)", "who", "line", "what", "old", "new", "role", "reason"])
        for i, row in enumerate(rows):
            for j, v in enumerate(row):
                item = QTableWidgetItem("" if v is None else str(v))
                item.setToolTip("" if v is None else str(v))
                t.setItem(i, j, item)
        t.resizeColumnsToContents()
        for j in (4, 5):
            t.setColumnWidth(j, 260)
        lay.addWidget(t)
        if not rows:
            lay.addWidget(QLabel("No changes recorded yet: the first Start writes the model, recipe and outputs."))
        bb = QDialogButtonBox(QDialogButtonBox.Close)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)
        self.table = t
