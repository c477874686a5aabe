"""The audit trail's hash chain, as the stores write it: each row carries the hash of the row before it,
so an edited row, a removed row or two rows put in another order show (``audit.verify_audit`` names the
first).

    hash = SHA-256 of [prev_hash, ts, user, role, line, what, reason, old_value, new_value] (JSON)

The first row's ``prev_hash`` is ``GENESIS``. Rows written before the chain existed are sealed once, in
their order, when the database is migrated (schema 4). Both SQLite (``records``) and PostgreSQL
(``records_pg``, where several lines write: an advisory lock orders them) go through ``insert``. The
newest row each station wrote is also kept outside the database (``<app folder>/audit-anchors.json``):
``verify_audit`` then also sees rows removed from the end.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from core.util.io import write_json

from .record_types import to_postgres
from core.util.paths import app_dir

GENESIS = "0" * 64
FIELDS = ("ts", "user", "role", "line", "what", "reason", "old_value", "new_value")
PG_LOCK = 7342002


def row_hash(prev: str, values) -> str:
    return hashlib.sha256(json.dumps([prev, *values], ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def sql_for(sql: str, pg: bool) -> str:
    return to_postgres(sql) if pg else sql


def insert(con, entry, pg: bool = False) -> tuple[int, str]:
    """Append ``entry`` (``AuditEntry``) to the chain in the caller's transaction; (id, hash)."""
    if pg:
        con.execute("SELECT pg_advisory_xact_lock(%s)", (PG_LOCK,))
    row = con.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    prev = row[0] if row and row[0] else GENESIS
    values = [getattr(entry, f) for f in FIELDS]
    h = row_hash(prev, values)
    sql = sql_for(f"INSERT INTO audit ({', '.join(FIELDS)}, prev_hash, hash) VALUES ({', '.join('?' * (len(FIELDS) + 2))})",
             pg)
    if pg:
        new_id = con.execute(sql + " RETURNING id", (*values, prev, h)).fetchone()[0]
    else:
        new_id = con.execute(sql, (*values, prev, h)).lastrowid
    return new_id, h


def seal(con, pg: bool = False) -> int:
    """Rows without a hash (written before the chain, or by an older version) get theirs, in id order."""
    rows = con.execute(sql_for(f"SELECT id, {', '.join(FIELDS)}, hash FROM audit ORDER BY id", pg)).fetchall()
    prev, n = GENESIS, 0
    for r in rows:
        if r[-1] is None:
            h = row_hash(prev, list(r[1:-1]))
            con.execute(sql_for("UPDATE audit SET prev_hash = ?, hash = ? WHERE id = ?", pg), (prev, h, r[0]))
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


