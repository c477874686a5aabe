"""The station's audit trail as the live view keeps it: where it is, signed changes written to it off the
GUI thread (the next Start finds them there), and the history of changes shown."""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.live.line_dialog import AuditDialog
from app.services.background import Background
from app.services.user_session import UserSession
from core.inspect.options import default_records
from core.settings import Settings


class AuditTrail(QObject):
    status = Signal(str)
    error = Signal(str)

    def __init__(self, settings: Settings, session: UserSession, bg: Background, parent):
        """``parent``: the view, over which the history opens."""
        super().__init__(parent)
        self.settings, self.session, self.bg = settings, session, bg

    def where(self) -> tuple[str, str | None]:
        """Where this station's records (and so its audit trail) are, and its line's name."""
        return self.settings["db"] or default_records(), self.settings["line"] or None

    def record(self, what: str, new, signature) -> None:
        """A signed change of ``what`` (recipe, outputs, records) to ``new``; nothing when not signed."""
        if signature is None:
            return
        from core.inspect.audit import record_if_changed

        db, line = self.where()
        self.bg.submit(lambda: record_if_changed(db, what, new, signature, line),
                       lambda _: self.status.emit(f"{what} changed, signed by {signature.user}"),
                       lambda e: self.error.emit(f"the {what} change was not recorded: {e}"))

    def record_line_connections(self, signature) -> None:
        """The line's outputs and records as the settings now say, signed (Line connections…)."""
        from core.inspect.audit import outputs_value
        from core.inspect.outputs import parse_specs
        from core.security.secrets import redact

        s = self.settings
        self.record("outputs", outputs_value(parse_specs(s["opcua"], s["mqtt"], s["modbus"])), signature)
        db, line = self.where()
        self.record("records", {"db": redact(db), "line": line or ""}, signature)

    def show_history(self) -> None:
        """Who changed what, when (read off the GUI thread)."""
        from core.detector import known_models
        from core.inspect.records import read_audit
        from core.security.secrets import redact

        db = self.where()[0]
        self.bg.submit(lambda: (read_audit(db), known_models()),
                       lambda r: AuditDialog(r[0], db, self.parent(), known=r[1], session=self.session).exec(),
                       lambda e: self.error.emit(redact(f"history of {db}: {e}")))
