"""Verifying and exporting the audit trail (the hash chain itself: ``audit_chain``).

``verify_audit`` walks the chain and names the first row that was altered, or where rows were removed
or re-ordered; ``export_audit`` writes the trail as CSV or PDF with that verdict.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.util import csv_safe
from core.util.io import atomic_write_bytes

from .audit_chain import FIELDS, GENESIS, get_anchor, row_hash


# ---------------------------------------------------------------------------------- verifying
@dataclass
class AuditReport:
    rows: int = 0
    problem: str = ""
    bad_id: int | None = None
    head: str = GENESIS
    entries: list = field(default_factory=list)     # (id, *FIELDS, hash) in id order

    @property
    def ok(self) -> bool:
        return not self.problem

    def text(self) -> str:
        if self.ok:
            return f"audit trail intact: {self.rows} rows, each linked to the one before (newest hash {self.head[:16]})"
        return f"audit trail NOT intact: {self.problem}"


def _read(target) -> list[tuple]:
    from .records import is_postgres, query

    if not is_postgres(target) and not Path(target).is_file():
        raise FileNotFoundError(f"{target}: no records database")
    return query(target, f"SELECT id, {', '.join(FIELDS)}, prev_hash, hash FROM audit ORDER BY id")


def verify_audit(target) -> AuditReport:
    """Walk the chain; the report names the first row altered, or where rows were removed or re-ordered."""
    rows = _read(target)
    rep = AuditReport(rows=len(rows), entries=[(*r[:-2], r[-1]) for r in rows])
    prev, prev_id = GENESIS, None
    for r in rows:
        rid, values, linked, h = r[0], list(r[1:-2]), r[-2], r[-1]
        if linked != prev:
            rep.problem = (f"row {rid}: the row before it is not the one it was written after: "
                           + ("a row was removed or rows re-ordered" if prev_id is not None else
                              "the first rows were removed") + (f" (after row {prev_id})" if prev_id else ""))
            rep.bad_id = rid
            return rep
        if h != row_hash(linked, values):
            rep.problem = f"row {rid} was altered after it was written ({values[4]}, {values[0]})"
            rep.bad_id = rid
            return rep
        prev, prev_id = h, rid
    rep.head = prev
    a = get_anchor(target)
    if a and not any(r[0] == a["id"] and r[-1] == a["hash"] for r in rows):
        rep.problem = (f"row {a['id']}, the newest this station wrote, is missing or changed: rows were removed "
                       "from the end")
        rep.bad_id = a["id"]
    return rep


# ------------------------------------------------------------------------------ signed changes
def outputs_value(specs: dict) -> dict:
    """The line connections as the audit trail holds them: without passwords (old settings kept some)."""
    from core.security.secrets import split_password

    return {k: split_password(v)[0] for k, v in (specs or {}).items()}


def record_change(target, what: str, old, new, signature=None, line: str | None = None) -> None:
    """One change written now (a settings change signed in the GUI, in force at the next Start, which then
    finds it already recorded)."""
    _write(target, line, lambda w: w.audit(what, old, new, signature=signature))


def record_if_changed(target, what: str, new, signature=None, line: str | None = None) -> None:
    """``record_change`` with the old value the trail holds for this line (nothing written if the same)."""
    _write(target, line, lambda w: w.audit_if_changed(what, new, signature=signature))


def _write(target, line, fn) -> None:
    from .records import RecordsWriter

    w = RecordsWriter(target, line=line)
    try:
        fn(w)
    finally:
        w.close()
    if w.error:
        raise OSError(f"the change could not be recorded: {w.error}")


# ---------------------------------------------------------------------------------- exporting
HEAD = ("id", *FIELDS, "hash")


def export_audit(target, fmt: str, out) -> list[Path]:
    """The audit trail as CSV (one row per entry, verification printed) or PDF (verification on top)."""
    from core.security.secrets import redact

    rep = verify_audit(target)
    out = Path(out)
    if fmt == "csv":
        import io

        buf = io.StringIO()
        w = csv_safe.writer(buf)
        w.writerow(HEAD)
        w.writerows(rep.entries)
        atomic_write_bytes(out, buf.getvalue().encode("utf-8"))
        return [out]
    if fmt != "pdf":
        raise ValueError(f"--format {fmt}: pdf or csv")
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    fonts = Path(__file__).resolve().parents[2] / "resources" / "fonts"
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.set_auto_page_break(True, margin=12)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 13)
    pdf.cell(0, 8, f"Audit trail: {redact(target)}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("DejaVu", "", 9)
    pdf.multi_cell(0, 5, rep.text(), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    pdf.set_font("DejaVu", "", 6.5)
    widths = (9, 30, 22, 16, 14, 30, 40, 50, 50, 16)
    with pdf.table(col_widths=widths, text_align="LEFT", first_row_as_headings=True) as t:
        t.row(["id", "when (UTC)", "user", "role", "line", "what", "reason", "old", "new", "hash"])
        for e in rep.entries:
            t.row([str(e[0]), *(("" if v is None else str(v)[:400]) for v in e[1:-1]), str(e[-1] or "")[:12]])
    atomic_write_bytes(out, bytes(pdf.output()))
    return [out]
