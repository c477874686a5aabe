"""The inspection records: a plain SQLite file other tools can read (interfaces.md, ``records_sqlite``),
or a PostgreSQL database shared by the plant's lines (``records_pg``), with the same tables.

Rows are written by one background thread in batched transactions (``RecordsWriter``). A batch that
fails (a full disk, a database server that went away) is kept, in memory then in the spool
(``records_spool``), and sent again; no row is dropped without a word. The ``audit`` table holds
every change of recipe, threshold, model or output settings (who, in which role, why, when, old and new value), each
row chained to the one before by its hash (``audit_chain``).
"""
from __future__ import annotations

import queue
import re
import threading
import time
from pathlib import Path

from .record_types import AuditEntry, InspectionRecord, to_postgres
from .records_sqlite import SqliteStore, connect
from . import audit_chain as audit


def query(target: str | Path, sql: str, args=()) -> list[tuple]:
    """Rows of ``sql`` (SQLite's dialect, ``record_types.to_postgres``) from a records file or a
    PostgreSQL database; a file that does not exist has none."""
    if is_postgres(target):
        from .records_pg import pg_connect

        con = pg_connect(str(target))
        try:
            return [tuple(r) for r in con.execute(to_postgres(sql), tuple(args)).fetchall()]
        finally:
            con.close()
    if not Path(target).is_file():
        return []
    con = connect(target)
    try:
        return [tuple(r) for r in con.execute(sql, tuple(args)).fetchall()]
    finally:
        con.close()


def read_audit(target: str | Path, limit: int = 500, line: str | None = None) -> list[tuple]:
    """The newest audit entries, newest first: (ts, user, line, what, old_value, new_value, role, reason)."""
    where = " WHERE line = ?" if line else ""
    return query(target, f"SELECT ts, user, line, what, old_value, new_value, role, reason FROM audit{where} "
                         f"ORDER BY id DESC LIMIT {int(limit)}", (line,) if line else ())


def outbox_folder() -> Path:
    """Where rows wait for their database unless a spool folder is given: the application folder."""
    from core.util.paths import app_dir

    return app_dir() / "outbox"


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


def _first_line(e: BaseException) -> str:
    msg = str(e).strip().splitlines()
    return msg[0] if msg else type(e).__name__


class RecordsWriter:
    """Queue records and audit entries from any thread; one thread commits them in batches.

    A batch the database does not take (a full disk, a server away) is kept and retried with back-off
    (1 s doubling to 30 s): in memory up to ``memory_rows`` rows, beyond that in the spool file
    (``outbox``: in ``spool``, a folder best on another disk, else the application folder), and sent
    from there, oldest first, once the database takes rows again, in this session or the next.
    When not even the spool takes them, ``full`` is set: the pipeline then stops judging (its frames
    are ERROR, counted in ``refused``) rather than judge without records, until rows can be kept
    again. Each change is said at once through ``on_state`` ("warning"; "running" when it is over).
    ``close`` sends the last rows; those the database does not take wait in the spool (the next
    writer sends them first); rows that not even the spool takes are retried until ``timeout``,
    then counted in ``lost`` and said.
    """

    SPOOL_CHUNK = 500     # rows sent from the spool per transaction: the writer stays responsive
    ALL_CLEAR_S = 10.0    # rows go through this long before the all-clear is said

    def __init__(self, target: str | Path, batch: int = 50, interval: float = 0.5, line: str | None = None,
                 outbox: str | Path | None = None, spool: str | Path | None = None, memory_rows: int | None = None,
                 on_state=None):
        from core.config import InspectConfig

        from .records_spool import Spool, spool_path

        self.store = open_store(target)
        self.path = target
        self.line = line
        self.batch, self.interval = batch, interval
        self.memory_rows = memory_rows or InspectConfig().records_memory_rows
        self.on_state = on_state or (lambda state, msg: None)
        self.outbox = Path(outbox) if outbox else spool_path(spool or outbox_folder(), str(target), line)
        self.spool = Spool(self.outbox)
        if outbox is None and spool is None:
            self._adopt_old_outbox(str(target))
        self.q: queue.Queue = queue.Queue()   # unbounded: the writer thread bounds what it keeps
        self.written = 0          # rows stored in the database
        self.kept = 0             # rows waiting in memory
        self.spooled = self.spool.count()   # rows waiting in the spool file (a previous session's too)
        self.kept_in_outbox = 0   # rows left in the spool file when the writer stopped
        self.refused = 0          # frames not judged: nothing could keep their rows (``refuse``)
        self.lost = 0             # rows that could be kept nowhere when the writer stopped
        self.full = False         # nothing more can be kept: the station must not judge
        self.error: str | None = None
        self.connected = True
        self._stop = threading.Event()
        self._deadline = float("inf")
        try:
            self._last = self.store.last_values(line)
        except Exception:  # noqa: BLE001 - no history to compare with: every setting is written once
            self._last = {}
        self._pending: list = []
        self._warned, self._clear_at = False, None    # a warning said and not yet cleared; when to clear it
        self._thread = threading.Thread(target=self._run, name="records-writer", daemon=True)
        self._thread.start()

    def _adopt_old_outbox(self, target: str) -> None:
        """Rows left by a version that named the outbox by the whole URL join this spool."""
        import hashlib

        from .records_spool import Spool

        old = outbox_folder() / f"{hashlib.sha1(target.encode()).hexdigest()[:12]}.sqlite"
        if old == self.outbox or not old.is_file():
            return
        try:
            src = Spool(old)
            items, ids = src.take(10 ** 9)
            self.spool.put(items)
            src.remove(ids)
        except Exception as e:  # noqa: BLE001 - the old file stays as it is; the station still starts
            self.on_state("warning", f"records: rows waiting in {old} could not be taken over ({_first_line(e)})")

    def add(self, rec: InspectionRecord | AuditEntry) -> None:
        if rec.line is None:
            rec.line = self.line
        self.q.put(rec)

    def refuse(self) -> None:
        """A frame the station did not judge because its row could not be kept (``full``)."""
        self.refused += 1

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

    # ------------------------------------------------------------------------ the writer thread
    def _run(self):
        pending = self._pending
        last, wait, next_try, stopped = time.time(), 1.0, 0.0, False
        while True:
            try:   # take everything queued: what is kept is bounded below, not by the queue
                pending.append(self.q.get(timeout=0.01 if self.spooled and self.connected else 0.1))
                while True:
                    pending.append(self.q.get_nowait())
            except queue.Empty:
                pass
            stopping = self._stop.is_set() and self.q.empty()
            if stopping and not stopped:
                stopped, next_try = True, 0.0      # stopping: try at once, not after the back-off
            now = time.time()
            due = self.spooled or pending and (len(pending) >= self.batch or now - last >= self.interval or stopping)
            if due and now >= next_try:
                if self._deliver(pending):
                    wait, next_try, last = 1.0, 0.0, now
                elif stopping and self._leave(pending):
                    break     # stopping: the rows wait in the spool for the next writer, not for a server
                else:
                    next_try = now + (0.5 if stopping else wait)
                    wait = min(wait * 2, 30.0)
            self._all_clear()
            self.kept = _rows(pending)
            if self.kept >= self.memory_rows and (not self.full or now >= next_try):
                self._to_spool(pending)
            if stopping and (not pending and not self.spooled or time.time() >= self._deadline):
                if not self._leave(pending):
                    self._lose(pending)
                break
        self.kept_in_outbox = self.spooled
        for closing in (self.store, self.spool):
            try:
                closing.close()
            except Exception:  # noqa: BLE001
                pass

    def _deliver(self, pending: list) -> bool:
        """Send the oldest spooled rows, then those in memory; False (said once) when the database
        (or the spool) does not serve."""
        where = str(self.outbox)
        try:
            if self.spooled:
                items, ids = self.spool.take(self.SPOOL_CHUNK)
                where = self.store.describe
                self.store.commit(items)
                where = str(self.outbox)
                self.spool.remove(ids)    # if this fails, they are sent again: their uid stores them once
                self.written += _rows(items)
                self.spooled = self.spool.count()
            if pending:
                where = self.store.describe
                self.store.commit(pending)
                self.written += _rows(pending)
                pending.clear()
            if getattr(self.store, "last_audit", None):   # the newest audit row, kept outside the database too
                audit.set_anchor(self.path, *self.store.last_audit)
                self.store.last_audit = None
        except Exception as e:  # noqa: BLE001 - keep the rows, say so, retry after a pause
            msg = _first_line(e)
            self.error = msg if msg.startswith(where) else f"{where}: {msg}"
            self.connected, self._clear_at = False, None
            if not self._warned:
                self._warned = True
                self.on_state("warning", f"records cannot be written: {self.error}; the rows are kept and "
                                         "written as soon as they can be")
            return False
        if self.full:
            self.on_state("running", f"records: written to {self.store.describe} again; the station judges again")
        if self._warned and self._clear_at is None:
            self._clear_at = time.time() + self.ALL_CLEAR_S
        self.connected, self.full = True, False
        return True

    def _all_clear(self) -> None:
        """Said once rows have gone through for ``ALL_CLEAR_S``: a disk with a little room, that takes
        one batch and refuses the next, is not said to be fine between the two."""
        if self._clear_at is not None and time.time() >= self._clear_at and self.connected:
            self._warned, self._clear_at = False, None
            self.on_state("running", f"records: written to {self.store.describe} again"
                                     + (f"; {self.spooled} rows still wait in {self.outbox}" if self.spooled else ""))

    def _to_spool(self, pending: list) -> None:
        """Memory holds ``memory_rows``: the rows go to the spool file; if it cannot take them either,
        the writer is ``full`` (the station stops judging)."""
        n = _rows(pending)
        try:
            self.spool.put(pending)
        except Exception as e:  # noqa: BLE001 - nowhere to keep them: the station must stop judging
            if not self.full:
                self.full = True
                self.on_state("warning", f"records cannot be written ({self.error or 'the database is away'}) and "
                                         f"cannot be kept: {n} rows wait in memory, the most it holds, and the spool "
                                         f"{self.outbox} takes none ({_first_line(e)}): the station stops judging "
                                         "(every frame is ERROR) until rows can be written or kept")
            return
        first = not self.spooled
        self.spooled += n
        pending.clear()
        self.kept = 0
        if self.full:
            self.full = False
            self.on_state("running", f"records: kept in {self.outbox} again; the station judges again")
        elif first:
            self.on_state("warning", f"records: {n} rows could not be written ({self.error}) and wait in "
                                     f"{self.outbox}; they are sent when the database takes rows again")

    def _leave(self, pending: list) -> bool:
        """Stopping with rows not delivered: they wait in the spool for the next writer; False when
        the spool cannot take them either."""
        if not pending:
            return True
        n = _rows(pending)
        try:
            self.spool.put(pending)
        except Exception as e:  # noqa: BLE001 - the caller tries the database again, or gives up
            self.error = f"{self.outbox}: {_first_line(e)}"
            return False
        self.spooled += n
        pending.clear()
        self.kept = 0
        return True

    def _lose(self, pending: list) -> None:
        """Stopped, and neither the database nor the spool takes the rows: counted and said."""
        n = _rows(pending)
        self.lost += n
        self.on_state("warning", f"records: {n} rows could not be written ({self.store.describe}) nor kept "
                                 f"({self.error}): they are lost")
        pending.clear()
        self.kept = 0

    def close(self, timeout: float = 30.0) -> None:
        """Send everything queued and stop the thread: rows the database does not take wait in the
        spool file; rows not even the spool takes are retried for ``timeout`` seconds, then lost."""
        self._deadline = time.time() + timeout
        self._stop.set()
        self._thread.join(timeout + 10)


def _rows(items: list) -> int:
    """Inspection rows among ``items`` (audit entries are not rows of the records)."""
    return sum(1 for r in items if isinstance(r, InspectionRecord))
