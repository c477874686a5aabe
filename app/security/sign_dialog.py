"""A signed change: what changes, the user's password again, and a reason (the audit row holds them)."""
from __future__ import annotations

from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QPlainTextEdit,
                               QVBoxLayout)

from core.security.users import AuthError


class SignDialog(QDialog):
    """``exec()`` accepted: ``signature`` holds the user, role and reason."""

    def __init__(self, session, action: str, what: str, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Sign the change")
        self.session, self.action, self.signature = session, action, None
        lay = QVBoxLayout(self)
        head = QLabel(f"<b>{what}</b><br>This changes what ships as OK. "
                      f"{session.user.name if session.user else ''}, give your password again and the reason.")
        head.setWordWrap(True)
        lay.addWidget(head)
        form = QFormLayout()
        self.password = QLineEdit()
        self.password.setObjectName("sign_password")
        self.password.setEchoMode(QLineEdit.Password)
        self.reason = QPlainTextEdit()
        self.reason.setObjectName("sign_reason")
        self.reason.setFixedHeight(70)
        form.addRow("Password", self.password)
        form.addRow("Reason", self.reason)
        lay.addLayout(form)
        self.message = QLabel("")
        self.message.setStyleSheet("color:#c62828")
        lay.addWidget(self.message)
        bb = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        bb.button(QDialogButtonBox.Ok).setText("Sign")
        bb.accepted.connect(self._sign)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)

    def _sign(self):
        try:
            self.signature = self.session.sign(self.action, self.password.text(), self.reason.toPlainText())
        except (AuthError, ValueError) as e:
            self.message.setText(str(e))
            self.password.clear()
            return
        self.accept()


def signed(session, action: str, what: str, parent=None):
    """(True, signature) once signed, (False, None) if cancelled; a station without users needs no signature."""
    if not session.enabled:
        return True, None
    dlg = SignDialog(session, action, what, parent)
    return (True, dlg.signature) if dlg.exec() else (False, None)
