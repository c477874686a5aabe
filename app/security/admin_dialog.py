"""The administrator's screens: users and roles, the OPC UA trust list, image retention."""
from __future__ import annotations

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox, QFormLayout, QHBoxLayout,
                               QInputDialog, QLabel, QLineEdit, QMessageBox, QPushButton, QTableWidget,
                               QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget)

from core.security.pki import Pki
from core.security.users import ROLES


def _table(headers: list[str]) -> QTableWidget:
    t = QTableWidget(0, len(headers))
    t.setHorizontalHeaderLabels(headers)
    t.setSelectionBehavior(QTableWidget.SelectRows)
    t.setSelectionMode(QTableWidget.SingleSelection)
    t.setEditTriggers(QTableWidget.NoEditTriggers)
    return t


def _fill(t: QTableWidget, rows: list[list]) -> None:
    t.setRowCount(len(rows))
    for i, row in enumerate(rows):
        for j, v in enumerate(row):
            t.setItem(i, j, QTableWidgetItem(str(v)))
    t.resizeColumnsToContents()


class UsersTab(QWidget):
    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session, self.store = session, session.store
        lay = QVBoxLayout(self)
        self.table = _table(["user", "role", "locked", "changed"])
        lay.addWidget(self.table)
        form = QHBoxLayout()
        self.name = QLineEdit()
        self.name.setPlaceholderText("new user's name")
        self.role = QComboBox()
        self.role.addItems(ROLES)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.Password)
        self.password.setPlaceholderText("first password (8 characters or more)")
        self.add = QPushButton("Add user")
        self.add.clicked.connect(self._add)
        for w in (self.name, self.role, self.password, self.add):
            form.addWidget(w)
        lay.addLayout(form)
        row = QHBoxLayout()
        self.set_role = QPushButton("Set role")
        self.set_role.clicked.connect(self._set_role)
        self.reset = QPushButton("New password…")
        self.reset.clicked.connect(self._reset)
        self.unlock = QPushButton("Unlock")
        self.unlock.clicked.connect(lambda: self._do(self.store.unlock))
        self.remove = QPushButton("Remove")
        self.remove.clicked.connect(self._remove)
        for w in (self.set_role, self.reset, self.unlock, self.remove):
            row.addWidget(w)
        row.addStretch(1)
        lay.addLayout(row)
        self.refresh()

    def refresh(self):
        _fill(self.table, [[u["name"], u["role"], "locked" if u["locked"] else "", u["changed"]]
                           for u in self.store.list()])

    def selected(self) -> str | None:
        r = self.table.currentRow()
        return self.table.item(r, 0).text() if r >= 0 and self.table.item(r, 0) else None

    def _do(self, fn, *args):
        name = self.selected()
        if not name:
            return
        try:
            fn(name, *args)
        except (ValueError, OSError) as e:
            QMessageBox.warning(self, "Users", str(e))
        self.refresh()

    def _add(self):
        if not self.store.list() and self.role.currentText() != "administrator":
            QMessageBox.warning(self, "Users", "The first user is an administrator: with users set up, only an "
                                "administrator manages them.")
            return
        try:
            self.store.add(self.name.text().strip(), self.role.currentText(), self.password.text())
        except (ValueError, OSError) as e:
            QMessageBox.warning(self, "Users", str(e))
            return
        self.name.clear()
        self.password.clear()
        self.refresh()

    def _set_role(self):
        self._do(self.store.set_role, self.role.currentText())

    def _reset(self):
        name = self.selected()
        if not name:
            return
        pw, ok = QInputDialog.getText(self, "New password", f"New password for {name}:", QLineEdit.Password)
        if ok:
            self._do(self.store.set_password, pw)

    def _remove(self):
        name = self.selected()
        if name and self.session.user is not None and name == self.session.user.name:
            QMessageBox.warning(self, "Users", "You cannot remove the account you are logged in with.")
            return
        self._do(self.store.remove)


class CertsTab(QWidget):
    """The station's certificate, the clients it trusts, and those it refused: trust one with a click."""

    def __init__(self, pki: Pki | None = None, parent=None):
        super().__init__(parent)
        self.pki = pki or Pki()
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("OPC UA clients (a PLC, an HMI) are refused until their certificate is trusted here. "
                             "Give the PLC the station's own certificate (the first row) to trust."))
        self.table = _table(["state", "thumbprint", "subject", "application", "valid until", "file"])
        lay.addWidget(self.table)
        row = QHBoxLayout()
        self.trust = QPushButton("Trust")
        self.trust.clicked.connect(lambda: self._move("trusted"))
        self.reject = QPushButton("Stop trusting")
        self.reject.clicked.connect(lambda: self._move("rejected"))
        for w in (self.trust, self.reject):
            row.addWidget(w)
        row.addStretch(1)
        lay.addLayout(row)
        self.refresh()

    def refresh(self):
        self.certs = self.pki.list()
        _fill(self.table, [[c.state, c.thumbprint[:16], c.subject, c.application_uri, c.not_after, c.path]
                           for c in self.certs])

    def _move(self, state: str):
        r = self.table.currentRow()
        if r < 0:
            return
        try:
            self.pki.move(self.certs[r].thumbprint, state)
        except ValueError as e:
            QMessageBox.warning(self, "Certificates", str(e))
        self.refresh()


class RetentionTab(QWidget):
    """The image retention policy (settings ``retention``), in force from the next Start."""

    def __init__(self, settings, parent=None):
        super().__init__(parent)
        self.settings = settings
        r = dict(settings["retention"] or {})
        form = QFormLayout(self)

        def spin(key, maximum, suffix, special):
            s = QDoubleSpinBox()
            s.setRange(0, maximum)
            s.setSuffix(suffix)
            s.setSpecialValueText(special)
            s.setValue(float(r.get(key) or 0))
            return s

        self.ng_days = spin("ng_days", 3650, " days", "keep")
        self.ok_days = spin("ok_days", 3650, " days", "keep")
        self.max_gb = spin("max_gb", 100000, " GB", "no limit")
        self.min_free = spin("min_free_gb", 10000, " GB", "1 GB")
        form.addRow("Keep NG images", self.ng_days)
        form.addRow("Keep OK images", self.ok_days)
        form.addRow("All images at most", self.max_gb)
        form.addRow("Stop saving images below", self.min_free)
        note = QLabel("Over the limit, OK images go first, oldest first; an image of the newest hour is never "
                      "deleted. What is deleted is written to the audit trail.")
        note.setWordWrap(True)
        form.addRow(note)

    def values(self) -> dict:
        v = {"ng_days": self.ng_days.value() or None, "ok_days": self.ok_days.value() or None,
             "max_gb": self.max_gb.value() or None, "min_free_gb": self.min_free.value() or None}
        return {k: x for k, x in v.items() if x is not None}


class AdminDialog(QDialog):
    def __init__(self, session, settings, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Administration")
        self.resize(900, 520)
        self.settings = settings
        lay = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.users = UsersTab(session)
        self.certs = CertsTab()
        self.retention = RetentionTab(settings)
        self.tabs.addTab(self.users, "Users")
        self.tabs.addTab(self.certs, "OPC UA certificates")
        self.tabs.addTab(self.retention, "Image retention")
        lay.addWidget(self.tabs)
        bb = QDialogButtonBox(QDialogButtonBox.Save | QDialogButtonBox.Close)
        bb.accepted.connect(self._save)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)

    def _save(self):
        self.settings["retention"] = self.retention.values()
        try:
            self.settings.save()
        except OSError as e:
            QMessageBox.warning(self, "Administration", f"cannot save the settings: {e}")
            return
        self.accept()
