"""The inspection records: a plain SQLite file other tools can read (interfaces.md).

Rows are written by one background thread in batched transactions (WAL mode, synchronous=NORMAL:
a crash of the app loses nothing that was committed). Old files are migrated forward by
``user_version``.
"""
from __future__ import annotations

import queue
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

SCHEMA_VERSION = 1

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
    frame_age_ms REAL
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
"""


@dataclass
class InspectionRecord:
    ts: str
    source: str
    frame: str
    verdict: str
    n_defects: int = 0
    image_path: str | None = None
    model_id: str | None = None
    recipe_id: str | None = None
    error: str | None = None
    latency_ms: float | None = None
    frame_age_ms: float | None = None
    detections: list[tuple] = field(default_factory=list)  # (class_id, class_name, score, x1, y1, x2, y2, is_defect)


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
    con.executescript(SCHEMA)
    con.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    con.commit()
    return con


COLUMNS = {"inspections": {"id", "ts", "source", "frame", "image_path", "verdict", "n_defects", "model_id",
                           "recipe_id", "error", "latency_ms", "frame_age_ms"},
           "detections": {"inspection_id", "class_id", "class_name", "score", "x1", "y1", "x2", "y2", "is_defect"}}


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


class RecordsWriter:
    """Queue records from any thread; one thread commits them in batches."""

    def __init__(self, path: str | Path, batch: int = 50, interval: float = 0.5):
        self.path = Path(path)
        connect(self.path).close()  # fail now, clearly, if the file is unusable
        self.batch, self.interval = batch, interval
        self.q: queue.Queue = queue.Queue(maxsize=10000)
        self.written = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="records-writer", daemon=True)
        self._thread.start()

    def add(self, rec: InspectionRecord) -> None:
        self.q.put(rec)

    def _run(self):
        con = connect(self.path)
        pending: list[InspectionRecord] = []
        last = time.time()
        while True:
            try:
                pending.append(self.q.get(timeout=0.1))
            except queue.Empty:
                pass
            done = self._stop.is_set() and self.q.empty()
            if pending and (len(pending) >= self.batch or time.time() - last >= self.interval or done):
                try:
                    self._commit(con, pending)
                    self.written += len(pending)
                except sqlite3.Error as e:  # keep the rows, report, retry next round
                    self.error = f"{self.path}: {e}"
                    time.sleep(0.5)
                    continue
                pending = []
                last = time.time()
            if done:
                break
        con.close()

    @staticmethod
    def _commit(con: sqlite3.Connection, recs: list[InspectionRecord]):
        with con:
            for r in recs:
                cur = con.execute(
                    "INSERT INTO inspections (ts, source, frame, image_path, verdict, n_defects, model_id, recipe_id,"
                    " error, latency_ms, frame_age_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (r.ts, r.source, r.frame, r.image_path, r.verdict, r.n_defects, r.model_id, r.recipe_id, r.error,
                     r.latency_ms, r.frame_age_ms))
                if r.detections:
                    con.executemany(
                        "INSERT INTO detections (inspection_id, class_id, class_name, score, x1, y1, x2, y2, is_defect)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [(cur.lastrowid, *d) for d in r.detections])

    def close(self, timeout: float = 30.0) -> None:
        """Flush everything queued and stop the thread."""
        self._stop.set()
        self._thread.join(timeout)
