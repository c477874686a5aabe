"""The records in a SQLite file (``--db records.sqlite``, the live view's): the schema, created or
migrated forward by ``user_version``, a file of another program refused before anything is written
to it, and the store the writer (``records.RecordsWriter``) and the spool (``records_spool``) commit
to. WAL mode, synchronous=NORMAL: other tools read while the app writes, and a crash loses nothing
that was committed.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

from . import audit_chain
from .record_schema import COLUMNS, DETECTION_COLUMNS, INSPECTION_COLUMNS, SCHEMA_VERSION, ddl, sqlite_migrations
from .record_types import LAST_VALUES, AuditEntry


SCHEMA = ddl("sqlite")
MIGRATIONS = sqlite_migrations()

def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating or migrating) a records database. A file that cannot serve (a folder, a device,
    a read-only or full disk, another program's file) is a ValueError naming it and the reason."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: is a folder; records go to a file (e.g. {path / 'records.sqlite'})")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        blocking = next((str(q) for q in path.parents if q.is_file()), None)
        raise ValueError(f"{path}: its folder cannot be made ("
                         + (f"{blocking} is a file)" if blocking else f"{e.strerror or e})")) from None
    if path.exists() and not path.is_file():
        raise ValueError(f"{path}: not a regular file; records go to a file (or a postgresql:// URL)")
    try:
        con = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
    except sqlite3.Error as e:
        raise ValueError(f"{path}: cannot open the records database ({_why(e, path)})") from None
    try:
        _check_schema(con, path)   # before anything is written: a foreign file stays as it was
    except (ValueError, sqlite3.DatabaseError) as e:
        con.close()
        if isinstance(e, sqlite3.OperationalError):
            raise ValueError(f"{path}: cannot open the records database ({_why(e, path)})") from None
        raise ValueError(str(e) if str(path) in str(e) else f"{path}: not a records database ({e})") from None
    try:
        _migrate(con, path)
    except ValueError:
        con.close()
        raise
    except sqlite3.Error as e:
        con.close()
        raise ValueError(f"{path}: cannot write the records database ({_why(e, path)})") from None
    return con


def _why(e: sqlite3.Error, path: Path) -> str:
    """SQLite's reason, with what it means for the file."""
    msg = str(e)
    if path.exists() and not path.is_file():
        return f"{msg}: not a regular file"
    if "unable to open" in msg and not path.exists():
        return f"{msg}: it cannot be created in {path.parent}"
    if "unable to open" in msg:
        return f"{msg}: check the file's permissions"
    return msg


def _migrate(con: sqlite3.Connection, path: Path) -> None:
    """WAL mode; the schema created, or migrated forward (written only when it changes: a full disk
    still opens a file that is up to date)."""
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    version = con.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise ValueError(f"{path}: records database from a newer version (schema {version})")
    if version == SCHEMA_VERSION:
        return
    has = {r[1] for r in con.execute("PRAGMA table_info(inspections)")}
    with con:
        if has:
            for v in range(max(version, 1), SCHEMA_VERSION):
                for table, col, sql in MIGRATIONS.get(v, []):
                    cols = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
                    if cols and col not in cols:
                        con.execute(sql)
        con.executescript(SCHEMA)
        audit_chain.seal(con)                 # rows older than the chain get their hashes, in order
        con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def _check_schema(con: sqlite3.Connection, path: Path) -> None:
    """Refuse a SQLite file that is not (or not wholly) a records database, naming what is wrong."""
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} - {"sqlite_sequence"}
    if not tables:
        return   # a new, empty file
    foreign = sorted(tables - set(COLUMNS))
    if "inspections" not in tables:
        raise ValueError(f"{path}: not a records database (it holds the tables {', '.join(sorted(tables))}); "
                         "choose another --db file")
    for t, want in COLUMNS.items():
        if t not in tables:
            continue
        have = {r[1] for r in con.execute(f"PRAGMA table_info({t})")}
        missing = sorted(want - have)
        if missing:
            raise ValueError(f"{path}: table '{t}' lacks the column(s) {', '.join(missing)}: not a records "
                             "database of this program")
    if foreign:
        raise ValueError(f"{path}: holds tables of another program too ({', '.join(foreign)}); "
                         "records go to a file of their own")


def insert_items(con: sqlite3.Connection, items: list) -> tuple[int, str] | None:
    """Insert inspection records (with their detections) and audit entries (chained, ``audit_chain``)
    in one transaction; a row whose ``uid`` is stored already is skipped (a batch sent again).
    Returns (id, hash) of the last audit row written, if any."""
    last = None
    with con:
        for it in items:
            if isinstance(it, AuditEntry):
                last = audit_chain.insert(con, it)
                continue
            cur = con.execute(f"INSERT OR IGNORE INTO inspections ({', '.join(INSPECTION_COLUMNS)}) "
                              f"VALUES ({', '.join('?' * len(INSPECTION_COLUMNS))})", it.row())
            if it.detections and cur.rowcount:
                con.executemany(f"INSERT INTO detections (inspection_id, {', '.join(DETECTION_COLUMNS)})"
                                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [(cur.lastrowid, *d) for d in it.detections])
    return last


class SqliteStore:
    """Where a writer commits: a records file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.describe = str(self.path)
        connect(self.path).close()  # fail now, clearly, if the file is unusable
        self.con: sqlite3.Connection | None = None
        self.last_audit: tuple[int, str] | None = None     # (id, hash) of the newest audit row written

    def commit(self, items: list) -> None:
        if self.con is None:
            self.con = connect(self.path)
        try:
            self.last_audit = insert_items(self.con, items) or self.last_audit
        except Exception:
            self.close()     # opened afresh for the retry (a full disk may leave it unusable)
            raise

    def last_values(self, line: str | None) -> dict:
        """The newest audit value of each setting for ``line``: what a new session compares with."""
        con = connect(self.path)
        try:
            return dict(con.execute(LAST_VALUES, (line,)).fetchall())
        finally:
            con.close()

    def close(self) -> None:
        self.con = close_quietly(self.con)


def close_quietly(con: sqlite3.Connection | None) -> None:
    """Close ``con`` if open (a connection a full disk left broken may fail to close); returns None."""
    if con is not None:
        try:
            con.close()
        except sqlite3.Error:
            pass
