"""The inspection records: a plain SQLite file other tools can read (interfaces.md), or a
PostgreSQL database shared by the plant's lines (``records_pg``), with the same tables.

Rows are written by one background thread in batched transactions (SQLite: WAL mode,
synchronous=NORMAL, so a crash of the app loses nothing that was committed). A batch that fails
(a full disk, a database server that went away) is kept and tried again; nothing queued is dropped.
Old files are migrated forward by ``user_version``. The ``audit`` table holds every change of
recipe, threshold, model or output settings (who, in which role, why, when, old and new value), each
row chained to the one before by its hash (``audit``).
"""
from __future__ import annotations

import queue
import re
import sqlite3
import threading
import time
from pathlib import Path

from . import audit_chain as audit
from .record_types import (DETECTION_COLUMNS, INSPECTION_COLUMNS, LAST_VALUES, SCHEMA_VERSION,  # noqa: F401
                           AuditEntry, InspectionRecord, now_iso)


SCHEMA = """
CREATE TABLE IF NOT EXISTS inspections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts TEXT NOT NULL,
    source TEXT,
    frame TEXT,
    image_path TEXT,
    verdict TEXT NOT NULL CHECK (verdict IN ('OK', 'NG', 'ERROR')),
    n_defects INTEGER NOT NULL DEFAULT 0,
    model_id TEXT,
    recipe_id TEXT,
    error TEXT,
    latency_ms REAL,
    frame_age_ms REAL,
    line TEXT,
    uid TEXT,
    part_id TEXT,
    camera_frame_id INTEGER,
    camera_ts INTEGER
);
CREATE INDEX IF NOT EXISTS idx_inspections_ts ON inspections (ts);
CREATE INDEX IF NOT EXISTS idx_inspections_verdict ON inspections (verdict);
CREATE TABLE IF NOT EXISTS detections (
    inspection_id INTEGER NOT NULL REFERENCES inspections (id),
    class_id INTEGER NOT NULL,
    class_name TEXT,
    score REAL,
    x1 REAL, y1 REAL, x2 REAL, y2 REAL,
    is_defect INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS idx_detections_inspection ON detections (inspection_id);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts TEXT NOT NULL,
    user TEXT,
    line TEXT,
    what TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT,
    role TEXT,
    reason TEXT,
    prev_hash TEXT,
    hash TEXT
);
CREATE INDEX IF NOT EXISTS idx_audit_ts ON audit (ts);
"""
# v1 -> v2: the line a row came from, a unique id per row (a batch re-sent after a lost
# connection is not stored twice), and the audit table (created by SCHEMA)
# v2 -> v3: industrial cameras: a part id shared by the views of one part, the camera's frame id and timestamp
MIGRATIONS = {1: ["ALTER TABLE inspections ADD COLUMN line TEXT", "ALTER TABLE inspections ADD COLUMN uid TEXT"],
              2: ["ALTER TABLE inspections ADD COLUMN part_id TEXT",
                  "ALTER TABLE inspections ADD COLUMN camera_frame_id INTEGER",
                  "ALTER TABLE inspections ADD COLUMN camera_ts INTEGER"],
              # v3 -> v4: signed changes (the signer's role, the reason) and the audit hash chain
              3: ["ALTER TABLE audit ADD COLUMN role TEXT", "ALTER TABLE audit ADD COLUMN reason TEXT",
                  "ALTER TABLE audit ADD COLUMN prev_hash TEXT", "ALTER TABLE audit ADD COLUMN hash TEXT"]}
UID_INDEX = "CREATE UNIQUE INDEX IF NOT EXISTS idx_inspections_uid ON inspections (uid)"

def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating or migrating) a records database."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
    try:
        _check_schema(con, path)   # before anything is written: a foreign file stays as it was
    except (ValueError, sqlite3.DatabaseError) as e:
        con.close()
        raise ValueError(str(e) if str(path) in str(e) else f"{path}: not a records database ({e})") from None
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    version = con.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        con.close()
        raise ValueError(f"{path}: records database from a newer version (schema {version})")
    has = {r[1] for r in con.execute("PRAGMA table_info(inspections)")}
    with con:
        if has:
            for v in range(max(version, 1), SCHEMA_VERSION):
                for sql in MIGRATIONS.get(v, []):
                    table, col = sql.split()[2], sql.split("ADD COLUMN ")[1].split()[0]
                    cols = {r[1] for r in con.execute(f"PRAGMA table_info({table})")}
                    if cols and col not in cols:
                        con.execute(sql)
        con.executescript(SCHEMA)
        con.execute(UID_INDEX)
        if version < SCHEMA_VERSION:
            audit.seal(con)                 # rows older than the chain get their hashes, in order
        con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    return con


COLUMNS = {"inspections": {"id", "ts", "source", "frame", "image_path", "verdict", "n_defects", "model_id",
                           "recipe_id", "error", "latency_ms", "frame_age_ms"},
           "detections": {"inspection_id", "class_id", "class_name", "score", "x1", "y1", "x2", "y2", "is_defect"},
           "audit": {"id", "ts", "user", "line", "what", "old_value", "new_value"}}   # the columns of schema 1


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
        with self.con:
            for it in items:
                if isinstance(it, AuditEntry):
                    self.last_audit = audit.insert(self.con, it)
                    continue
                cur = self.con.execute(
                    f"INSERT OR IGNORE INTO inspections ({', '.join(INSPECTION_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(INSPECTION_COLUMNS))})", it.row())
                if it.detections and cur.rowcount:
                    self.con.executemany(
                        f"INSERT INTO detections (inspection_id, {', '.join(DETECTION_COLUMNS)})"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [(cur.lastrowid, *d) for d in it.detections])

    def last_values(self, line: str | None) -> dict:
        """The newest audit value of each setting for ``line``: what a new session compares with."""
        con = connect(self.path)
        try:
            return dict(con.execute(LAST_VALUES.replace("IS NOT DISTINCT FROM %s", "IS ?"), (line,)).fetchall())
        finally:
            con.close()

    def close(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None



def read_audit(target: str | Path, limit: int = 500, line: str | None = None) -> list[tuple]:
    """The newest audit entries, newest first: (ts, user, line, what, old_value, new_value, role, reason)."""
    sql = (f"SELECT ts, {{user}}, line, what, old_value, new_value, role, reason FROM audit{{where}} ORDER BY id DESC "
           f"LIMIT {int(limit)}")
    if is_postgres(target):
        from .records_pg import pg_connect

        con = pg_connect(str(target))
        try:
            q = sql.format(user='"user"', where=" WHERE line = %s" if line else "")
            return [tuple(r) for r in con.execute(q, (line,) if line else ()).fetchall()]
        finally:
            con.close()
    if not Path(target).is_file():
        return []
    con = connect(target)
    try:
        q = sql.format(user="user", where=" WHERE line = ?" if line else "")
        return [tuple(r) for r in con.execute(q, (line,) if line else ()).fetchall()]
    finally:
        con.close()


def default_outbox(target: str) -> Path:
    """Where rows wait for a remote database that is away when the writer stops: one file per URL."""
    import hashlib

    from core.util.paths import app_dir

    return app_dir() / "outbox" / f"{hashlib.sha1(target.encode()).hexdigest()[:12]}.sqlite"


_DSN = re.compile(r"^\s*(host|hostaddr|dbname|user|port|service|sslmode|password|passfile)\s*=", re.I)


def is_libpq_dsn(target: str) -> bool:
    """``host=… dbname=…`` (or ``service=…``): a PostgreSQL connection string, never a file name."""
    return bool(_DSN.match(str(target)))


def is_postgres(target) -> bool:
    return str(target).startswith(("postgresql://", "postgres://")) or is_libpq_dsn(str(target))


def open_store(target: str | Path):
    """A SQLite path, or a ``postgresql://`` URL or libpq ``key=value`` string (``records_pg``)."""
    if is_postgres(target):
        from .records_pg import PostgresStore

        return PostgresStore(str(target))
    return SqliteStore(target)


class RecordsWriter:
    """Queue records and audit entries from any thread; one thread commits them in batches.

    A failed batch is kept and retried with back-off (1 s doubling to 30 s) while new rows queue
    behind it; ``close`` waits up to ``timeout`` for the last ones, then, if the database is still
    away, leaves them in a local SQLite outbox (``outbox``) that the next writer sends first.
    """

    def __init__(self, target: str | Path, batch: int = 50, interval: float = 0.5, line: str | None = None,
                 outbox: str | Path | None = None):
        self.store = open_store(target)
        self.path = target
        self.line = line
        self.batch, self.interval = batch, interval
        if outbox is None and not isinstance(self.store, SqliteStore):
            outbox = default_outbox(str(target))
        self.outbox = Path(outbox) if outbox else None
        self.q: queue.Queue = queue.Queue(maxsize=10000)
        self.written = 0
        self.kept_in_outbox = 0
        self.error: str | None = None
        self.connected = True
        self._stop = threading.Event()
        self._deadline = float("inf")
        try:
            self._last = self.store.last_values(line)
        except Exception:  # noqa: BLE001 - no history to compare with: every setting is written once
            self._last = {}
        self._pending: list = self._from_outbox()
        self._thread = threading.Thread(target=self._run, name="records-writer", daemon=True)
        self._thread.start()

    def add(self, rec: InspectionRecord | AuditEntry) -> None:
        if rec.line is None:
            rec.line = self.line
        self.q.put(rec)

    def audit(self, what: str, old, new, user: str | None = None, signature=None, session_user=None) -> None:
        """``user``: a party other than the session's (e.g. the PLC); ``signature``
        (``core.security.users.Signature``): a signed change, with its user, role and reason;
        ``session_user`` (``users.User``): who the session runs under."""
        e = AuditEntry.of(what, old, new, self.line)
        if signature is not None:
            e.user, e.role, e.reason = signature.user, signature.role, signature.reason
        elif session_user is not None:
            e.user, e.role = session_user.name, session_user.role
        if user:
            e.user = f"{user}, on {e.user}'s session"
        self._last[what] = e.new_value
        self.add(e)

    def audit_if_changed(self, what: str, new, user: str | None = None, signature=None, session_user=None) -> None:
        """An audit entry when ``new`` differs from the newest one of ``what`` on this line."""
        old = self._last.get(what)
        if old != AuditEntry.of(what, None, new).new_value:
            self.audit(what, old, new, user, signature, session_user)

    def _run(self):
        pending = self._pending
        last, wait = time.time(), 1.0
        while True:
            try:   # take everything queued: while the database is away the queue must not fill up
                pending.append(self.q.get(timeout=0.1))
                while True:
                    pending.append(self.q.get_nowait())
            except queue.Empty:
                pass
            done = self._stop.is_set() and self.q.empty()
            if pending and (len(pending) >= self.batch or time.time() - last >= self.interval or done):
                try:
                    self.store.commit(pending)
                except Exception as e:  # noqa: BLE001 - keep the rows, report, retry after a pause
                    msg = str(e).strip().splitlines()
                    self.error = f"{self.store.describe}: {msg[0] if msg else type(e).__name__}"
                    self.connected = False
                    if self._stop.is_set():
                        if self._give_up():
                            break
                        time.sleep(0.5)
                    else:
                        self._stop.wait(wait)
                    wait = min(wait * 2, 30.0)
                    continue
                self.written += sum(1 for r in pending if isinstance(r, InspectionRecord))
                if getattr(self.store, "last_audit", None):
                    audit.set_anchor(self.path, *self.store.last_audit)
                    self.store.last_audit = None
                self.connected, wait = True, 1.0
                pending.clear()
                last = time.time()
            if done:
                break
        try:
            self.store.close()
        except Exception:  # noqa: BLE001
            pass

    def _give_up(self) -> bool:
        """Stopping while the database is away: past the deadline, the rows go to the outbox."""
        if time.time() < self._deadline:
            return False
        while True:
            try:
                self._pending.append(self.q.get_nowait())
            except queue.Empty:
                break
        if self._pending and self.outbox is not None:
            SqliteStore(self.outbox).commit(self._pending)
            self.kept_in_outbox = sum(1 for r in self._pending if isinstance(r, InspectionRecord))
            self._pending.clear()
        return True

    def _from_outbox(self) -> list:
        """Rows a previous writer could not deliver, oldest first (sent before anything new)."""
        if self.outbox is None or not self.outbox.is_file() or isinstance(self.store, SqliteStore):
            return []
        con = connect(self.outbox)
        try:
            out: list = []
            cols = ", ".join(INSPECTION_COLUMNS)
            for row in con.execute(f"SELECT id, {cols} FROM inspections ORDER BY id").fetchall():
                dets = con.execute(f"SELECT {', '.join(DETECTION_COLUMNS)} FROM detections WHERE inspection_id = ?",
                                   (row[0],)).fetchall()
                out.append(InspectionRecord(**dict(zip(INSPECTION_COLUMNS, row[1:])), detections=[tuple(d) for d in dets]))
            for row in con.execute("SELECT ts, user, line, what, old_value, new_value, role, reason FROM audit "
                                   "ORDER BY id"):
                out.append(AuditEntry(ts=row[0], user=row[1], line=row[2], what=row[3], old_value=row[4],
                                      new_value=row[5], role=row[6], reason=row[7]))
        finally:
            con.close()
        self.outbox.unlink()       # its rows are in memory now, and go back there if this writer fails too
        for extra in ("-wal", "-shm"):
            Path(str(self.outbox) + extra).unlink(missing_ok=True)
        return out

    def close(self, timeout: float = 30.0) -> None:
        """Flush everything queued and stop the thread (rows still undelivered after ``timeout``
        go to the outbox)."""
        self._deadline = time.time() + timeout
        self._stop.set()
        self._thread.join(timeout + 10)
