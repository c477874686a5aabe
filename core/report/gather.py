"""What a report says, gathered from a records database with SQL aggregates (flat memory at any size).

    data = gather("records.sqlite", ReportFilter(t_from=..., t_to=..., source=None))

Times in the database are UTC ISO strings; the filter takes datetimes (naive ones are local time)
and the report shows local time with its offset.

A part is counted once: an image file inspected again (the same source and file name, e.g. a folder
run twice) is one part, judged by its last inspection, and the re-inspections are counted apart.
Camera, stream, demo and video frames are each a part. The recipes list each version that judged
in the range, from the audit trail (a recipe's thresholds changed under the same name are two
versions), with the frames each judged.
"""
from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.data.imageio import IMAGE_EXTS
from core.security.secrets import redact

MAX_THUMBS = 48          # NG images shown with their boxes (evenly sampled over the range)
MAX_ERROR_REASONS = 20
# An image file's frame name (a folder's or an image source's): the same file again is the same part.
_FILE_FRAME = " OR ".join(f"lower(frame) LIKE '%{e}'" for e in sorted(IMAGE_EXTS))
_PART = f"CASE WHEN {_FILE_FRAME} THEN COALESCE(source, '') || '|' || frame ELSE 'row ' || CAST(id AS TEXT) END"
# portable SQL (SQLite and PostgreSQL): no SUM over booleans
_NG = "SUM(CASE WHEN verdict = 'NG' THEN 1 ELSE 0 END)"
_ERR = "SUM(CASE WHEN verdict = 'ERROR' THEN 1 ELSE 0 END)"


@dataclass
class ReportFilter:
    t_from: dt.datetime | None = None
    t_to: dt.datetime | None = None
    source: str | None = None
    model: str | None = None
    recipe: str | None = None

    def where(self) -> tuple[str, list]:
        clauses, args = [], []
        if self.t_from is not None:
            clauses.append("ts >= ?")
            args.append(to_utc_iso(self.t_from))
        if self.t_to is not None:
            clauses.append("ts < ?")
            args.append(to_utc_iso(self.t_to))
        for col, v in (("source", self.source), ("model_id", self.model), ("recipe_id", self.recipe)):
            if v:
                clauses.append(f"{col} = ?")
                args.append(v)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def to_utc_iso(t: dt.datetime) -> str:
    if t.tzinfo is None:
        t = t.astimezone()   # naive: local time
    return t.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")


def parse_time(text: str) -> dt.datetime:
    """ISO date or date-time; naive means local time."""
    try:
        return dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"'{text}' is not a date or time (use e.g. 2026-12-02 or 2026-12-02T06:00)") from None


def local(ts: str | None) -> str:
    """A stored UTC timestamp as local time, to the second."""
    if not ts:
        return ""
    try:
        return dt.datetime.fromisoformat(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return ts


@dataclass
class Thumb:
    id: int
    ts: str
    source: str
    frame: str
    image_path: str | None
    detections: list[tuple] = field(default_factory=list)   # (class_name, score, x1, y1, x2, y2)


@dataclass
class ReportData:
    db: str
    filter: dict
    generated: str
    version: str
    first_ts: str | None = None
    last_ts: str | None = None
    total: int = 0                                          # parts: each counted once, by its last inspection
    ok: int = 0
    ng: int = 0
    error: int = 0
    inspections: int = 0                                    # every inspection, re-inspections included
    reinspected_parts: int = 0                              # parts inspected more than once
    sources: list[str] = field(default_factory=list)
    models: list[dict] = field(default_factory=list)        # {id, name, text, frames}, most frames first
    recipes: list[dict] = field(default_factory=list)       # {name, thresholds..., frames, first_ts, last_ts, recorded}
    error_reasons: list[tuple[str, int]] = field(default_factory=list)
    per_class: list[tuple[str, int]] = field(default_factory=list)   # defects per class, most first
    bucket: str = "minute"
    timeline: list[dict] = field(default_factory=list)      # {t, total, ng, error}
    median_latency_ms: float | None = None
    thumbs: list[Thumb] = field(default_factory=list)
    validation: dict | None = None                          # a val run's figures (ground truth known)

    @property
    def reinspections(self) -> int:
        return self.inspections - self.total

    @property
    def judged(self) -> int:
        return self.ok + self.ng

    @property
    def yield_pct(self) -> float | None:
        return 100.0 * self.ok / self.judged if self.judged else None

    @property
    def ng_rate_pct(self) -> float | None:
        return 100.0 * self.ng / self.judged if self.judged else None

    def to_json(self) -> dict:
        d = asdict(self)
        d["judged"], d["yield_pct"], d["ng_rate_pct"] = self.judged, self.yield_pct, self.ng_rate_pct
        d["reinspections"] = self.reinspections
        d["per_class"] = [{"class": c, "defects": n} for c, n in self.per_class]
        d["error_reasons"] = [{"reason": r, "count": n} for r, n in self.error_reasons]
        d["thumbs"] = [{"id": t.id, "ts": t.ts, "source": t.source, "frame": t.frame, "image_path": t.image_path,
                        "detections": [dict(zip(("class", "score", "x1", "y1", "x2", "y2"), x))
                                       for x in t.detections]} for t in self.thumbs]
        return d


def is_url(db) -> bool:
    """A PostgreSQL database (a URL or a libpq ``key=value`` string), not a file."""
    from core.inspect.records import is_postgres

    return is_postgres(db)


def open_db(path: str | Path) -> sqlite3.Connection:
    """The records read-only: a SQLite file, or a PostgreSQL URL (queries are written for both)."""
    if is_url(path):
        from core.inspect.records_pg import QmarkConnection

        return QmarkConnection(str(path))
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such records database")
    try:
        con = sqlite3.connect(f"file:{p}?mode=ro", uri=True, timeout=30)
        con.execute("SELECT 1 FROM inspections LIMIT 1")
    except sqlite3.DatabaseError as e:
        raise ValueError(f"{p}: not a records database ({e})") from None
    return con


def distinct(db: str | Path, column: str) -> list[str]:
    """Distinct sources, models or recipes (the GUI's choices)."""
    col = {"source": "source", "model": "model_id", "recipe": "recipe_id"}[column]
    con = open_db(db)
    try:
        return [r[0] for r in con.execute(f"SELECT DISTINCT {col} FROM inspections WHERE {col} IS NOT NULL "
                                          f"ORDER BY {col} LIMIT 500")]
    finally:
        con.close()


def _bucket(first: str | None, last: str | None) -> tuple[str, int]:
    """Timeline resolution by the span: 10 s up to 20 min, minutes up to 3 h, hours up to 4 days, else days."""
    try:
        span = (dt.datetime.fromisoformat(last) - dt.datetime.fromisoformat(first)).total_seconds()
    except (TypeError, ValueError):
        return "minute", 16
    if span <= 1200:
        return "10 s", 18
    if span <= 3 * 3600:
        return "minute", 16
    if span <= 4 * 86400:
        return "hour", 13
    return "day", 10


def gather(db: str | Path, flt: ReportFilter | None = None, recipes_dir: Path | None = None,
           validation: dict | None = None, known_models: dict | None = None) -> ReportData:
    """``known_models``: weights hash -> bundled or registered name (``core.detector.known_models``),
    for rows written before records named their model."""
    from core.inspect.model_id import describe_model_id, model_name
    from core.util.version import VERSION

    flt = flt or ReportFilter()
    where, args = flt.where()
    con = open_db(db)
    try:
        d = ReportData(db=redact(db), filter={k: (to_utc_iso(v) if isinstance(v, dt.datetime) else v)
                                            for k, v in asdict(flt).items()},
                       generated=dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                       version=VERSION, validation=validation)
        row = con.execute(f"SELECT COUNT(*), MIN(ts), MAX(ts) FROM inspections{where}", args).fetchone()
        d.inspections, d.first_ts, d.last_ts = int(row[0] or 0), row[1], row[2]
        if not d.inspections:
            return d
        # each part once, by its last inspection
        parts = (f" WHERE id IN (SELECT id FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY {_PART} ORDER BY ts DESC, "
                 f"id DESC) AS k FROM inspections{where}) AS q WHERE k = 1)")
        row = con.execute(f"SELECT COUNT(*), SUM(CASE WHEN verdict = 'OK' THEN 1 ELSE 0 END), {_NG}, {_ERR} "
                          f"FROM inspections{parts}", args).fetchone()
        d.total, d.ok, d.ng, d.error = (int(v or 0) for v in row)
        d.reinspected_parts = int(con.execute(
            f"SELECT COUNT(*) FROM (SELECT {_PART} AS p FROM inspections{where} GROUP BY p HAVING COUNT(*) > 1) AS q",
            args).fetchone()[0])
        d.sources = [r[0] for r in con.execute(f"SELECT DISTINCT source FROM inspections{where} LIMIT 50", args)]
        d.models = [{"id": r[0], "name": model_name(r[0], known_models), "text": describe_model_id(r[0], known_models),
                     "frames": int(r[1])} for r in con.execute(
            f"SELECT model_id, COUNT(*) AS n FROM inspections{where} GROUP BY model_id ORDER BY n DESC LIMIT 50", args)
            if r[0]]
        d.recipes = _recipes(con, where, args, recipes_dir)
        ew = parts + " AND verdict = 'ERROR'"
        d.error_reasons = [(r[0] or "(no reason recorded)", r[1]) for r in con.execute(
            f"SELECT error, COUNT(*) AS n FROM inspections{ew} GROUP BY error ORDER BY n DESC LIMIT "
            f"{MAX_ERROR_REASONS}", args)]
        d.per_class = [(r[0], r[1]) for r in con.execute(
            f"SELECT COALESCE(d.class_name, 'class ' || d.class_id), COUNT(*) AS n FROM detections d JOIN "
            f"(SELECT id FROM inspections{parts}) i ON d.inspection_id = i.id WHERE d.is_defect = 1 "
            f"GROUP BY 1 ORDER BY n DESC", args)]
        d.bucket, width = _bucket(d.first_ts, d.last_ts)
        d.timeline = [{"t": r[0], "total": r[1], "ng": r[2], "error": r[3]} for r in con.execute(
            f"SELECT substr(ts, 1, {width}) AS b, COUNT(*), {_NG}, {_ERR} "
            f"FROM inspections{where} GROUP BY b ORDER BY b", args)]
        n_lat = con.execute(f"SELECT COUNT(latency_ms) FROM inspections{where}", args).fetchone()[0]
        if n_lat:
            lw = where + (" AND " if where else " WHERE ") + "latency_ms IS NOT NULL"
            d.median_latency_ms = con.execute(f"SELECT latency_ms FROM inspections{lw} ORDER BY latency_ms "
                                              f"LIMIT 1 OFFSET ?", [*args, n_lat // 2]).fetchone()[0]
        d.thumbs = _thumbs(con, parts, args, d.ng)
    finally:
        con.close()
    return d


def _thumbs(con, where, args, n_ng: int) -> list[Thumb]:
    if not n_ng:
        return []
    step = max(1, n_ng // MAX_THUMBS)
    nw = where + (" AND " if where else " WHERE ") + "verdict = 'NG'"
    rows = con.execute(f"SELECT id, ts, source, frame, image_path FROM (SELECT id, ts, source, frame, image_path, "
                       f"ROW_NUMBER() OVER (ORDER BY ts) AS k FROM inspections{nw}) AS q WHERE (k - 1) % ? = 0 "
                       f"ORDER BY ts LIMIT {MAX_THUMBS}", [*args, step]).fetchall()
    out = []
    for r in rows:
        dets = con.execute("SELECT COALESCE(class_name, 'class ' || class_id), score, x1, y1, x2, y2 FROM detections "
                           "WHERE inspection_id = ? AND is_defect = 1", (r[0],)).fetchall()
        out.append(Thumb(r[0], r[1], r[2] or "", r[3] or "", r[4], [tuple(x) for x in dets]))
    return out


def _recipes(con, where: str, args: list, folder: Path | None) -> list[dict]:
    """Each recipe version that judged in the range, with its frames (first and last time): versions
    from the audit trail (every start and change writes the recipe in force, per line); frames of a
    name judged before any audit entry of it get the thresholds of its file now, and say so."""
    import json

    names = [r[0] for r in con.execute(f"SELECT DISTINCT recipe_id FROM inspections{where} LIMIT 50", args) if r[0]]
    history: dict[tuple, list] = {}
    try:
        audit = con.execute("SELECT ts, line, new_value FROM audit WHERE what = 'recipe' ORDER BY id").fetchall()
    except Exception:  # noqa: BLE001 - a file from before the audit trail: no versions known
        audit = []
    for ts, line, value in audit:
        try:
            r = json.loads(value)
        except (TypeError, ValueError):
            continue
        if isinstance(r, dict) and r.get("name") in names:
            history.setdefault((line or "", r["name"]), []).append((ts, r))
    lines = [r[0] or "" for r in con.execute(f"SELECT DISTINCT line FROM inspections{where}", args)]
    out: dict[str, dict] = {}

    def count(name, line, t0, t1, recipe, recorded):
        w = where + (" AND " if where else " WHERE ") + "recipe_id = ? AND COALESCE(line, '') = ?"
        a = [*args, name, line]
        if t0:
            w, a = w + " AND ts >= ?", [*a, t0]
        if t1:
            w, a = w + " AND ts < ?", [*a, t1]
        n, first, last = con.execute(f"SELECT COUNT(*), MIN(ts), MAX(ts) FROM inspections{w}", a).fetchone()
        if not n:
            return
        key = json.dumps(recipe, sort_keys=True) if recorded else f"file:{name}"
        e = out.setdefault(key, {**recipe, "frames": 0, "first_ts": first, "last_ts": last, "recorded": recorded})
        e["frames"] += int(n)
        e["first_ts"], e["last_ts"] = min(e["first_ts"], first), max(e["last_ts"], last)

    for name in names:
        for line in lines:
            versions = history.get((line, name), [])
            count(name, line, None, versions[0][0] if versions else None, _recipe(name, folder), False)
            for i, (ts, r) in enumerate(versions):
                count(name, line, ts, versions[i + 1][0] if i + 1 < len(versions) else None, r, True)
    return sorted(out.values(), key=lambda e: e["first_ts"])


def _recipe(name: str, folder: Path | None) -> dict:
    """A recipe's thresholds, when the recipe file is at hand."""
    from core.inspect.recipe import RecipeStore
    from core.settings import recipes_dir

    from core.inspect.recipe import Recipe

    try:
        r = RecipeStore(folder or recipes_dir()).load(name)
    except (ValueError, OSError):
        if name != "default":
            return {"name": name}
        r = Recipe()   # the built-in default recipe has no file
    return {"name": name, **r.to_dict()}
