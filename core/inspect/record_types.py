"""What a records row is: an inspection with its detections, an audit entry, and the queries that
SQLite (``records_sqlite``) and PostgreSQL (``records_pg``) share (the tables: ``record_schema``)."""
from __future__ import annotations

import datetime as dt
import getpass
import json
import re
import uuid
from dataclasses import dataclass, field

from .record_schema import DETECTION_COLUMNS, INSPECTION_COLUMNS


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


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
    line: str | None = None
    uid: str = field(default_factory=lambda: uuid.uuid4().hex)
    part_id: str | None = None            # one part seen by several cameras: the same id on each view's row
    camera_frame_id: int | None = None    # an industrial camera's frame id and timestamp
    camera_ts: int | None = None

    def row(self) -> tuple:
        return tuple(getattr(self, c) for c in INSPECTION_COLUMNS)

    def to_json(self) -> dict:
        """The row and its detections, as the result outputs send it (no image)."""
        d = {c: getattr(self, c) for c in INSPECTION_COLUMNS}
        d["detections"] = [dict(zip(DETECTION_COLUMNS, x)) for x in self.detections]
        return d


@dataclass
class AuditEntry:
    """One change: ``what`` (e.g. "recipe", "threshold scratches", "model", "outputs"), old and new."""
    what: str
    old_value: str | None
    new_value: str | None
    user: str = field(default_factory=lambda: _os_user())
    ts: str = field(default_factory=now_iso)
    line: str | None = None
    role: str | None = None           # the signer's role (a signed change, or a session under a named account)
    reason: str | None = None         # why, as the signer gave it

    @classmethod
    def of(cls, what: str, old, new, line: str | None = None) -> "AuditEntry":
        return cls(what, _text(old), _text(new), line=line)


def _text(v) -> str | None:
    if v is None or isinstance(v, str):
        return v
    return json.dumps(v, sort_keys=True, default=str)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):   # no login name (a container, a service account without passwd entry)
        return "unknown"


LAST_VALUES = ("SELECT a.what, a.new_value FROM audit a JOIN (SELECT what, MAX(id) AS id FROM audit "
               "WHERE line IS ? GROUP BY what) b ON a.id = b.id")


def to_postgres(sql: str) -> str:
    """A records query in SQLite's dialect, the one every query is written in (``?`` placeholders,
    ``IS ?``, the column ``user``), in PostgreSQL's: ``%s``, ``IS NOT DISTINCT FROM %s``, ``"user"``
    (a reserved word there), a literal ``%`` doubled."""
    sql = sql.replace("%", "%%").replace(" IS ?", " IS NOT DISTINCT FROM ?")
    return re.sub(r'(?<![\w"])user(?![\w"])', '"user"', sql).replace("?", "%s")
