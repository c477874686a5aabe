"""Where records wait when their database cannot take them: a SQLite file of the records' own tables
(the spool, or outbox), one per database and line.

The writer (``records.RecordsWriter``) puts rows here once more of them wait than memory may hold,
or when it stops while the database is still away; it sends them on, oldest first, as soon as the
database takes rows again, in this session or the next one. Rows carry a unique ``uid``, so a row
sent twice (the spool could not be trimmed after a send) is stored once.
"""
from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from .record_schema import DETECTION_COLUMNS, INSPECTION_COLUMNS
from .record_types import AuditEntry, InspectionRecord
from .records_sqlite import close_quietly, connect, insert_items


def database_key(target: str, line: str | None) -> str:
    """What names a database's rows for the spool: a file's absolute path, or a server's host, port,
    database and user (never its password: a changed password must still find the rows waiting)."""
    target = str(target)
    if target.startswith(("postgresql://", "postgres://")):
        try:
            from psycopg.conninfo import conninfo_to_dict

            d = conninfo_to_dict(target)
        except Exception:  # noqa: BLE001 - no psycopg, or a URL it cannot read: the store says so itself
            d = {"url": target.split("@")[-1]}
        ident = "postgresql://{}@{}:{}/{}".format(d.get("user", ""), d.get("host", ""), d.get("port", ""),
                                                  d.get("dbname", ""))
    else:
        ident = f"sqlite:{Path(target).expanduser().resolve()}"
    return f"{ident}#{line or ''}"


def spool_path(folder: str | Path, target: str, line: str | None) -> Path:
    """The spool file of ``target`` and ``line`` in ``folder``."""
    return Path(folder) / f"{hashlib.sha1(database_key(target, line).encode()).hexdigest()[:12]}.sqlite"


class Spool:
    """The rows of one spool file: ``put``, ``take`` the oldest, ``remove`` those sent, ``count``."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.con: sqlite3.Connection | None = None

    def _open(self) -> sqlite3.Connection:
        if self.con is None:
            self.con = connect(self.path)
        return self.con

    def count(self) -> int:
        """Inspection rows waiting (audit entries are not counted as rows)."""
        if not self.path.is_file():
            return 0
        return self._open().execute("SELECT COUNT(*) FROM inspections").fetchone()[0]

    def put(self, items: list) -> None:
        """Keep ``items`` (inspection records and audit entries); all or none (one transaction)."""
        try:
            insert_items(self._open(), items)
        except Exception:
            self.close()     # opened afresh next time (a full disk may leave the connection unusable)
            raise

    def take(self, n: int) -> tuple[list, tuple[list[int], list[int]]]:
        """The oldest ``n`` inspection rows and every audit entry, and their ids for ``remove``."""
        if not self.path.is_file():
            return [], ([], [])
        con = self._open()
        out: list = []
        rows = con.execute(f"SELECT id, {', '.join(INSPECTION_COLUMNS)} FROM inspections ORDER BY id LIMIT ?",
                           (n,)).fetchall()
        for row in rows:
            dets = con.execute(f"SELECT {', '.join(DETECTION_COLUMNS)} FROM detections WHERE inspection_id = ?",
                               (row[0],)).fetchall()
            out.append(InspectionRecord(**dict(zip(INSPECTION_COLUMNS, row[1:])), detections=[tuple(d) for d in dets]))
        audit = con.execute("SELECT id, ts, user, line, what, old_value, new_value, role, reason FROM audit "
                            "ORDER BY id").fetchall()
        for a in audit:
            out.append(AuditEntry(ts=a[1], user=a[2], line=a[3], what=a[4], old_value=a[5], new_value=a[6],
                                  role=a[7], reason=a[8]))
        return out, ([r[0] for r in rows], [a[0] for a in audit])

    def remove(self, ids: tuple[list[int], list[int]]) -> None:
        """Forget rows that were sent; the file goes once it is empty."""
        rows, audit = ids
        con = self._open()
        with con:
            for i in range(0, len(rows), 500):
                chunk = rows[i:i + 500]
                marks = ", ".join("?" * len(chunk))
                con.execute(f"DELETE FROM detections WHERE inspection_id IN ({marks})", chunk)
                con.execute(f"DELETE FROM inspections WHERE id IN ({marks})", chunk)
            for i in range(0, len(audit), 500):
                chunk = audit[i:i + 500]
                con.execute(f"DELETE FROM audit WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
        if not con.execute("SELECT EXISTS (SELECT 1 FROM inspections) OR EXISTS (SELECT 1 FROM audit)").fetchone()[0]:
            self.close()
            for extra in ("", "-wal", "-shm"):
                Path(str(self.path) + extra).unlink(missing_ok=True)

    def close(self) -> None:
        self.con = close_quietly(self.con)
