"""The audit trail made tamper-evident: each row carries the hash of the row before it (a hash chain), so
an edited row, a removed row or two rows put in another order show; ``verify_audit`` names the first.

    hash = SHA-256 of [prev_hash, ts, user, role, line, what, reason, old_value, new_value] (JSON)

The first row's ``prev_hash`` is ``GENESIS``. Rows written before the chain existed are sealed once, in
their order, when the database is migrated (schema 4). Both SQLite (``records``) and PostgreSQL
(``records_pg``, where several lines write: an advisory lock orders them) go through ``insert``. The
newest row each station wrote is also kept outside the database (``<app folder>/audit-anchors.json``):
``verify_audit`` then also sees rows removed from the end.
"""
from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from core.util.io import atomic_write_bytes, write_json
from core.util.paths import app_dir

GENESIS = "0" * 64
FIELDS = ("ts", "user", "role", "line", "what", "reason", "old_value", "new_value")
PG_LOCK = 7342002


def row_hash(prev: str, values) -> str:
    return hashlib.sha256(json.dumps([prev, *values], ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def _q(sql: str, pg: bool) -> str:
    return sql.replace("?", "%s").replace(" user", ' "user"').replace("(user", '("user"') if pg else sql


def insert(con, entry, pg: bool = False) -> tuple[int, str]:
    """Append ``entry`` (``AuditEntry``) to the chain in the caller's transaction; (id, hash)."""
    if pg:
        con.execute("SELECT pg_advisory_xact_lock(%s)", (PG_LOCK,))
    row = con.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    prev = row[0] if row and row[0] else GENESIS
    values = [getattr(entry, f) for f in FIELDS]
    h = row_hash(prev, values)
    sql = _q(f"INSERT INTO audit ({', '.join(FIELDS)}, prev_hash, hash) VALUES ({', '.join('?' * (len(FIELDS) + 2))})",
             pg)
    if pg:
        new_id = con.execute(sql + " RETURNING id", (*values, prev, h)).fetchone()[0]
    else:
        new_id = con.execute(sql, (*values, prev, h)).lastrowid
    return new_id, h


def seal(con, pg: bool = False) -> int:
    """Rows without a hash (written before the chain, or by an older version) get theirs, in id order."""
    rows = con.execute(_q(f"SELECT id, {', '.join(FIELDS)}, hash FROM audit ORDER BY id", pg)).fetchall()
    prev, n = GENESIS, 0
    for r in rows:
        if r[-1] is None:
            h = row_hash(prev, list(r[1:-1]))
            con.execute(_q("UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?", pg), (prev, h, r[0]))
            prev, n = h, n + 1
        else:
            prev = r[-1]
    return n


# --------------------------------------------------------------------------------- the anchors
def _anchors_file() -> Path:
    return app_dir() / "audit-anchors.json"


def anchor_key(target) -> str:
    from core.security.secrets import split_password

    t = split_password(str(target))[0]
    return t if "://" in t or "=" in t else str(Path(t).resolve())


def set_anchor(target, row_id: int, h: str) -> None:
    """The newest row this station wrote to ``target``, kept outside the database."""
    path = _anchors_file()
    try:
        data = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        data = {}
    data[anchor_key(target)] = {"id": row_id, "hash": h}
    try:
        write_json(path, data, mode=0o600)
    except OSError:
        pass         # an anchor is extra evidence; the chain in the database stands without it


def get_anchor(target) -> dict | None:
    try:
        return json.loads(_anchors_file().read_text()).get(anchor_key(target))
    except (OSError, ValueError, AttributeError):
        return None


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
    from .records import connect

    sql = f"SELECT id, {', '.join(FIELDS)}, prev_hash, hash FROM audit ORDER BY id"
    if str(target).startswith(("postgresql://", "postgres://")) or _is_dsn(target):
        from .records_pg import pg_connect

        con = pg_connect(str(target))
        try:
            return [tuple(r) for r in con.execute(_q(sql, True)).fetchall()]
        finally:
            con.close()
    if not Path(target).is_file():
        raise FileNotFoundError(f"{target}: no records database")
    con = connect(target)
    try:
        return [tuple(r) for r in con.execute(sql).fetchall()]
    finally:
        con.close()


def _is_dsn(target) -> bool:
    from .records import is_libpq_dsn

    return is_libpq_dsn(str(target))


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
        w = csv.writer(buf)
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
