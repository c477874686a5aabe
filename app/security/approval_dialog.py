"""The registered models with their validation figures; an engineer approves one for the line (signed)."""
from __future__ import annotations

from html import escape

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QMessageBox, QVBoxLayout

from app.security.admin_dialog import _fill, _table
from app.security.sign_dialog import SignDialog
from app.services.background import Background


class ApprovalDialog(QDialog):
    """With station users a model goes on the line only once approved here (or ``models approve``)."""

    def __init__(self, session, parent=None, registry=None):
        super().__init__(parent)
        from core.registry import ModelRegistry

        self.setWindowTitle("Models and approval")
        self.resize(1000, 460)
        self.session, self.registry = session, registry or ModelRegistry()
        lay = QVBoxLayout(self)
        self.table = _table(["model", "kind", "mAP50", "mAP50-95", "validated on", "registered", "approved by",
                             "reason"])
        lay.addWidget(self.table)
        self.figures = QLabel("Select a model to see its validation figures.")
        self.figures.setObjectName("model_figures")
        self.figures.setWordWrap(True)
        lay.addWidget(self.figures)
        bb = QDialogButtonBox(QDialogButtonBox.Close)
        self.approve = bb.addButton("Approve for the line…", QDialogButtonBox.ActionRole)
        self.approve.setObjectName("approve_model")
        self.approve.clicked.connect(self._approve)
        session.gate(self.approve, "model.approve")
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)
        self.table.itemSelectionChanged.connect(self._selected)
        self.cards: list = []
        self._bg = Background(self, name="approval")
        self.finished.connect(lambda *_: self._bg.shutdown())
        self.refresh()

    def refresh(self):
        """The registry read off the GUI thread."""
        self._bg.submit(self.registry.list, self._listed, lambda e: self.figures.setText(f"model registry: {e}"))

    def _listed(self, cards):
        self.cards = cards

        def fig(c, k):
            v = (c.metrics or {}).get(k)
            return f"{v:.3f}" if isinstance(v, (int, float)) else "—"

        _fill(self.table, [[c.name, c.kind, fig(c, "map50"), fig(c, "map50_95"), c.dataset or "—",
                            c.registered.replace("T", " "),
                            f"{c.approved_by} ({c.approved_role}, {c.approved_at.replace('T', ' ')})" if c.approved
                            else "not approved", c.approval_reason] for c in cards])
        if not cards:
            self.figures.setText("No registered models yet: Training → a finished run → Use for inspection, or "
                                 "python main.py models register.")

    def selected(self):
        r = self.table.currentRow()
        return self.cards[r] if 0 <= r < len(self.cards) else None

    def _selected(self):
        c = self.selected()
        if c is not None:
            self.figures.setText(c.figures())

    def _approve(self):
        c = self.selected()
        if c is None:
            QMessageBox.information(self, "Approve", "Select the model to approve first.")
            return
        if not self.session.enabled:
            QMessageBox.information(self, "Approve", "Approvals are signed by a station user: set users up first "
                                    "(python main.py users add NAME --role engineer).")
            return
        dlg = SignDialog(self.session, "model.approve", f"Approve '{escape(c.name)}' for the line<br>"
                         f"{escape(c.figures())}", self)
        if not dlg.exec():
            return
        sig = dlg.signature
        self._bg.submit(lambda: self.registry.approve(c.name, sig),
                        lambda card: (self.figures.setText(f"'{card.name}' approved for the line by {card.approved_by}"),
                                      self.refresh()),
                        lambda e: QMessageBox.warning(self, "Approve", f"'{c.name}' is not approved: {e}"))
