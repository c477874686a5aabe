"""Inspection reports: gather figures from the records with SQL aggregates, then render one format.

    from core.report import make_report, ReportFilter
    make_report("records.sqlite", "pdf", "shift.pdf", ReportFilter(t_from=..., t_to=...))
"""
from __future__ import annotations

import json
from pathlib import Path

from .gather import ReportData, ReportFilter, distinct, gather, parse_time  # noqa: F401

FORMATS = ("pdf", "html", "csv", "json")


def read_validation(path: str | Path | None) -> dict | None:
    """A ``val --json`` file's figures, or None for no path (raises ValueError naming the file)."""
    if not path:
        return None
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: not a val --json file ({e})") from None


def make_report(db, fmt: str, out, flt: ReportFilter | None = None, validation: dict | None = None,
                recipes_dir=None, known_models: dict | None = None) -> list[Path]:
    """Write the report; returns the files written (CSV writes two: inspections and detections).
    ``known_models``: weights hash -> model name, for rows written before records named their model."""
    flt = flt or ReportFilter()
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format '{fmt}' (choose from: {', '.join(FORMATS)})")
    if fmt == "csv":
        from .render_data import write_report_csv

        return list(write_report_csv(db, flt, out))
    data = gather(db, flt, recipes_dir=recipes_dir, validation=validation, known_models=known_models)
    if fmt == "json":
        from .render_data import write_report_json

        return [write_report_json(data, out)]
    if fmt == "html":
        from .render_html import write_report_html

        return [write_report_html(data, out)]
    from .render_pdf import write_report_pdf

    return [write_report_pdf(data, out)]
