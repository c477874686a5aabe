"""The records in PostgreSQL (``--db postgresql://user@host/dbname``): one database for a plant's
lines, with the tables of the SQLite file (``records``) and a ``line`` column to tell them apart.

The schema is created or migrated forward on connect (``sdgas_meta.schema_version``). Rows carry a
unique ``uid``, so a batch sent again after a connection broke mid-commit is stored once.

The target is a URL or a libpq ``key=value`` string (``service=NAME`` reads the libpq service file),
with libpq's own TLS settings (``sslmode=verify-full&sslrootcert=…``). The password is never part of
it: libpq reads the password file (``~/.pgpass``, ``PGPASSFILE``) or the service file, or
``core.security.secrets`` has it under the URL without it. Messages show the target ``redact``-ed.
"""
from __future__ import annotations

from core.security.secrets import get_secret, redact, secret_name, split_password

from . import audit_chain as audit
from .record_schema import COLUMNS, DETECTION_COLUMNS, INSPECTION_COLUMNS, SCHEMA_VERSION, ddl
from .record_types import LAST_VALUES, AuditEntry, to_postgres

SCHEMA = ddl("postgres")


def _psycopg():
    try:
        import psycopg
    except ImportError:
        raise ValueError("PostgreSQL records need the psycopg package (pip install 'psycopg[binary]')") from None
    return psycopg


safe_url = redact      # the target without its password, for messages


def pg_connect(url: str, timeout: float = 5.0):
    """A connection with the schema in place (created, or migrated forward)."""
    psycopg = _psycopg()
    kw = {}
    if split_password(url)[1] is None:
        pw = get_secret(secret_name(url))
        if pw:
            kw["password"] = pw          # from the secret store; else libpq's password or service file
    try:
        con = psycopg.connect(url, connect_timeout=max(1, int(timeout)), **kw)
    except psycopg.Error as e:
        raise ConnectionError(f"{safe_url(url)}: cannot connect ({redact(str(e).strip().splitlines()[0])})") from None
    try:
        with con.transaction():   # all or nothing: a refusal below leaves the database as it was
            con.execute("SELECT pg_advisory_xact_lock(7342001)")   # two lines starting at once create it once
            problem = _foreign_tables(con)
            if problem:
                raise ValueError(f"{safe_url(url)}: {problem}")
            con.execute(SCHEMA)
            row = con.execute("SELECT value FROM sdgas_meta WHERE key = 'schema_version'").fetchone()
            if row and int(row[0]) > SCHEMA_VERSION:
                raise ValueError(f"{safe_url(url)}: records database from a newer version (schema {row[0]})")
            if not row or int(row[0]) < SCHEMA_VERSION:
                audit.seal(con, pg=True)      # rows older than the hash chain get theirs, in order
            con.execute("INSERT INTO sdgas_meta (key, value) VALUES ('schema_version', %s) "
                        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value", (str(SCHEMA_VERSION),))
    except psycopg.Error as e:
        con.close()
        raise ValueError(f"{safe_url(url)}: cannot set up the records tables ({str(e).strip().splitlines()[0]})") from None
    except BaseException:
        con.close()
        raise
    return con


def _foreign_tables(con) -> str | None:
    """What makes the database's tables of our names not ours (checked before anything is created or
    altered: another program's table stays as it was), or None."""
    rows = con.execute("SELECT table_name, column_name FROM information_schema.columns "
                       "WHERE table_schema = current_schema() AND table_name = ANY(%s)", (list(COLUMNS),)).fetchall()
    have: dict[str, set] = {}
    for table, column in rows:
        have.setdefault(table, set()).add(column)
    for table, want in COLUMNS.items():
        if table in have and want - have[table]:
            return (f"a table '{table}' of another program is there (it lacks the column(s) "
                    f"{', '.join(sorted(want - have[table]))}); records go to a database or schema of their own "
                    "(e.g. postgresql://USER@HOST/DB?options=-csearch_path%3Dsdgas)")
    return None


class PostgresStore:
    """Where a writer commits: a PostgreSQL database; reconnects on the next batch after a failure."""

    def __init__(self, url: str):
        self.url = url
        self.describe = safe_url(url)
        self.con = pg_connect(url)    # fail now, clearly, if the server refuses us
        self.last_audit: tuple[int, str] | None = None

    def commit(self, items: list) -> None:
        if self.con is None or self.con.closed:
            self.con = pg_connect(self.url)
        try:
            with self.con.transaction():
                cols = ", ".join(INSPECTION_COLUMNS)
                marks = ", ".join(["%s"] * len(INSPECTION_COLUMNS))
                dmarks = ", ".join(["%s"] * (len(DETECTION_COLUMNS) + 1))
                for it in items:
                    if isinstance(it, AuditEntry):
                        self.last_audit = audit.insert(self.con, it, pg=True)
                        continue
                    row = self.con.execute(f"INSERT INTO inspections ({cols}) VALUES ({marks}) "
                                           "ON CONFLICT (uid) DO NOTHING RETURNING id", it.row()).fetchone()
                    if row and it.detections:
                        with self.con.cursor() as cur:
                            cur.executemany(f"INSERT INTO detections (inspection_id, {', '.join(DETECTION_COLUMNS)}) "
                                            f"VALUES ({dmarks})", [(row[0], *d) for d in it.detections])
        except Exception:
            self.close()     # a broken connection is opened anew for the retry
            raise

    def last_values(self, line: str | None) -> dict:
        with self.con.transaction():
            return dict(self.con.execute(to_postgres(LAST_VALUES), (line,)).fetchall())

    def close(self) -> None:
        if self.con is not None:
            try:
                self.con.close()
            except Exception:  # noqa: BLE001
                pass
            self.con = None


class QmarkConnection:
    """A read-only PostgreSQL connection that takes the SQLite-style queries of ``core.report``
    (``?`` placeholders), so reports read a plant database as they read a file."""

    def __init__(self, url: str):
        self.con = pg_connect(url)
        self.con.autocommit = True      # each query on its own: a report holds no transaction open

    def execute(self, sql: str, args=()):
        cur = self.con.cursor()
        cur.execute(to_postgres(sql), tuple(args))
        return cur

    def close(self) -> None:
        self.con.close()
