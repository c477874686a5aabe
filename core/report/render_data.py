"""The JSON and CSV renderers: the figures as JSON; every inspection and every detection as CSV rows."""
from __future__ import annotations

import os
from pathlib import Path

from core.util import csv_safe
from core.util.io import write_json

from .gather import ReportData, ReportFilter, open_db


def write_report_json(data: ReportData, out: str | Path) -> Path:
    write_json(out, data.to_json())
    return Path(out)


def detections_path(out: str | Path) -> Path:
    p = Path(out)
    return p.with_name(p.stem + "_detections" + (p.suffix or ".csv"))


def write_report_csv(db: str | Path, flt: ReportFilter, out: str | Path) -> tuple[Path, Path]:
    """FILE: one row per inspection; FILE_detections.csv: one row per detection. Streamed from the
    database (flat memory), each written to a temporary file and renamed into place."""
    out = Path(out)
    det = detections_path(out)
    where, args = flt.where()
    con = open_db(db)
    try:
        _stream(out, ["id", "ts", "source", "frame", "verdict", "n_defects", "model_id", "recipe_id", "error",
                      "latency_ms", "frame_age_ms", "image_path"],
                con.execute("SELECT id, ts, source, frame, verdict, n_defects, model_id, recipe_id, error, latency_ms,"
                            f" frame_age_ms, image_path FROM inspections{where} ORDER BY ts, id", args))
        _stream(det, ["inspection_id", "ts", "class_id", "class_name", "score", "x1", "y1", "x2", "y2", "is_defect"],
                con.execute("SELECT d.inspection_id, i.ts, d.class_id, d.class_name, d.score, d.x1, d.y1, d.x2, d.y2,"
                            f" d.is_defect FROM detections d JOIN (SELECT id, ts FROM inspections{where}) i "
                            "ON d.inspection_id = i.id ORDER BY i.ts, d.inspection_id", args))
    finally:
        con.close()
    return out, det


def _stream(path: Path, header: list[str], rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv_safe.writer(f)
        w.writerow(header)
        while True:
            chunk = rows.fetchmany(5000)
            if not chunk:
                break
            w.writerows(chunk)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
