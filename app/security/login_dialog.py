"""Logging in (at start, after the idle lock, or to switch user)."""
from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout

from core.security.users import AuthError


class LoginDialog(QDialog):
    def __init__(self, session, why: str = "", parent=None):
        super().__init__(parent)
        self.setWindowTitle("Log in: SD-GASNet Inspector")
        self.session = session
        lay = QVBoxLayout(self)
        if why:
            lay.addWidget(QLabel(why))
        form = QFormLayout()
        self.name = QLineEdit()
        self.name.setObjectName("login_name")
        self.password = QLineEdit()
        self.password.setObjectName("login_password")
        self.password.setEchoMode(QLineEdit.Password)
        form.addRow("User", self.name)
        form.addRow("Password", self.password)
        lay.addLayout(form)
        self.message = QLabel("")
        self.message.setStyleSheet("color:#c62828")
        self.message.setWordWrap(True)
        lay.addWidget(self.message)
        bb = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        bb.button(QDialogButtonBox.Ok).setText("Log in")
        bb.accepted.connect(self._try)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)

    def _try(self):
        try:
            self.session.login(self.name.text(), self.password.text())
        except (AuthError, ValueError) as e:
            self.message.setText(str(e))
            self.password.clear()
            self.password.setFocus()
            return
        self.accept()
