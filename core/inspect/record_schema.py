"""The records tables, written once: each column with the schema version that added it, the indexes,
and the DDL the two stores run from them (SQLite's ``records_sqlite``, PostgreSQL's ``records_pg``)."""
from __future__ import annotations

SCHEMA_VERSION = 4

# column, type, constraint, the schema version that added it. Types are the stores' own below; v2
# gave each row its line and a unique id (a batch re-sent after a lost connection is stored once) and
# brought the audit table, v3 the industrial cameras' part id, frame id and timestamp, v4 signed
# changes (the signer's role and reason) and the audit hash chain.
TABLES = {
    "inspections": [
        ("id", "id", "", 1), ("ts", "text", "NOT NULL", 1), ("source", "text", "", 1), ("frame", "text", "", 1),
        ("image_path", "text", "", 1), ("verdict", "text", "NOT NULL CHECK (verdict IN ('OK', 'NG', 'ERROR'))", 1),
        ("n_defects", "int", "NOT NULL DEFAULT 0", 1), ("model_id", "text", "", 1), ("recipe_id", "text", "", 1),
        ("error", "text", "", 1), ("latency_ms", "real", "", 1), ("frame_age_ms", "real", "", 1),
        ("line", "text", "", 2), ("uid", "text", "UNIQUE", 2),
        ("part_id", "text", "", 3), ("camera_frame_id", "bigint", "", 3), ("camera_ts", "bigint", "", 3)],
    "detections": [
        ("inspection_id", "ref", "NOT NULL REFERENCES inspections (id)", 1), ("class_id", "int", "NOT NULL", 1),
        ("class_name", "text", "", 1), ("score", "real", "", 1), ("x1", "real", "", 1), ("y1", "real", "", 1),
        ("x2", "real", "", 1), ("y2", "real", "", 1), ("is_defect", "int", "NOT NULL DEFAULT 1", 1)],
    "audit": [
        ("id", "id", "", 2), ("ts", "text", "NOT NULL", 2), ("user", "text", "", 2), ("line", "text", "", 2),
        ("what", "text", "NOT NULL", 2), ("old_value", "text", "", 2), ("new_value", "text", "", 2),
        ("role", "text", "", 4), ("reason", "text", "", 4), ("prev_hash", "text", "", 4), ("hash", "text", "", 4)],
}
INDEXES = {"idx_inspections_ts": ("inspections", "ts"), "idx_inspections_verdict": ("inspections", "verdict"),
           "idx_detections_inspection": ("detections", "inspection_id"), "idx_audit_ts": ("audit", "ts")}
# a PostgreSQL server holds the rows of many lines, and its reports pick one; a station's SQLite file
# holds one line's, and is kept small (a full disk fills later)
LINE_INDEX = ("idx_inspections_line", ("inspections", "line"))
TYPES = {"sqlite": {"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "ref": "INTEGER", "text": "TEXT", "int": "INTEGER",
                    "bigint": "INTEGER", "real": "REAL"},
         "postgres": {"id": "BIGSERIAL PRIMARY KEY", "ref": "BIGINT", "text": "TEXT", "int": "INTEGER",
                      "bigint": "BIGINT", "real": "DOUBLE PRECISION"}}

INSPECTION_COLUMNS = tuple(c for c, *_ in TABLES["inspections"] if c != "id")
DETECTION_COLUMNS = tuple(c for c, *_ in TABLES["detections"] if c != "inspection_id")
# the columns a table must have to be ours (its first version's; later ones are added by migration): a
# table of the same name from another program is refused, in a SQLite file as in a PostgreSQL database
COLUMNS = {t: {c for c, _, _, v in cols if v == cols[0][3]} for t, cols in TABLES.items()}


def _name(column: str, dialect: str) -> str:
    return '"user"' if column == "user" and dialect == "postgres" else column   # a reserved word there


def _column(col: tuple, dialect: str) -> str:
    name, kind, constraint, _ = col
    if dialect == "sqlite" and constraint == "UNIQUE":
        constraint = ""          # SQLite cannot add a UNIQUE column to an old table: a unique index instead
    return " ".join(filter(None, (_name(name, dialect), TYPES[dialect][kind], constraint)))


def ddl(dialect: str) -> str:
    """The script that creates every table and index of the schema, for ``sqlite`` or ``postgres``.
    PostgreSQL's also adds the columns of later versions to older tables (``ADD COLUMN IF NOT
    EXISTS``); SQLite's older files are first migrated by ``sqlite_migrations``."""
    out = []
    if dialect == "postgres":   # no user_version there: the schema version is a row
        out.append("CREATE TABLE IF NOT EXISTS sdgas_meta (key TEXT PRIMARY KEY, value TEXT);")
    for table, cols in TABLES.items():
        body = ",\n    ".join(_column(c, dialect) for c in cols)
        out.append(f"CREATE TABLE IF NOT EXISTS {table} (\n    {body}\n);")
        if dialect == "postgres":
            out += [f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {_column(c, dialect)};"
                    for c in cols if c[3] > cols[0][3]]
    indexes = {**INDEXES, **dict([LINE_INDEX])} if dialect == "postgres" else INDEXES
    out += [f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({col});" for name, (table, col) in indexes.items()]
    if dialect == "sqlite":
        out += [f"CREATE UNIQUE INDEX IF NOT EXISTS idx_{t}_{c} ON {t} ({c});"
                for t, cols in TABLES.items() for c, _, constraint, _ in cols if constraint == "UNIQUE"]
    return "\n".join(out) + "\n"


def sqlite_migrations() -> dict[int, list[tuple[str, str, str]]]:
    """version -> the (table, column, ``ALTER TABLE``) statements that bring a SQLite file of that
    version to the next (a table that does not exist yet is created whole by ``ddl``)."""
    steps: dict[int, list] = {}
    for table, cols in TABLES.items():
        for c in cols:
            if c[3] > cols[0][3]:
                steps.setdefault(c[3] - 1, []).append(
                    (table, c[0], f"ALTER TABLE {table} ADD COLUMN {_column(c, 'sqlite')}"))
    return steps
