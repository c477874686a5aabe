"""What every rendered report shows, in one place: the header lines, the totals table, chart series."""
from __future__ import annotations

from .gather import ReportData, local


def title(d: ReportData) -> str:
    return "Inspection report"


def header_rows(d: ReportData) -> list[tuple[str, str]]:
    f = d.filter
    span = (f"{local(d.first_ts)} – {local(d.last_ts)}" if d.total else "no inspections")
    asked = (f"{local(f.get('t_from')) or 'the start'} – {local(f.get('t_to')) or 'now'}")
    rows = [("Line / source", ", ".join(d.sources) or (f.get("source") or "all")),
            ("Time range asked", asked), ("Inspections from", span)]
    for m in d.models or [{"text": f.get("model") or "—"}]:
        rows.append(("Model", m["text"] + (f": {m['frames']:,} frames" if len(d.models) > 1 else "")))
    for r in d.recipes or [{"name": f.get("recipe") or "—"}]:
        rows.append(("Recipe", recipe_text(r) + (f": {r['frames']:,} frames, {_span(r)}" if "frames" in r else "")))
    rows += [("Records", d.db), ("Software", f"SD-GASNet Inspector {d.version}"),
             ("Generated", d.generated.replace("T", " "))]
    return rows


def _span(r: dict) -> str:
    a, b = local(r.get("first_ts")), local(r.get("last_ts"))
    return f"{a} – {b[11:] if a[:10] == b[:10] else b}"


def recipe_text(r: dict) -> str:
    if "conf" not in r:
        return f"{r['name']} (thresholds not on this machine)"
    if r.get("recorded") is False:      # judged before the audit trail recorded this recipe
        return recipe_bits(r) + " (thresholds as its file says now; not recorded when it judged)"
    return recipe_bits(r)


def recipe_bits(r: dict) -> str:
    bits = [f"conf ≥ {r['conf']}"]
    if r.get("class_conf"):
        bits.append("per class " + ", ".join(f"{k} ≥ {v}" for k, v in r["class_conf"].items()))
    if r.get("min_area"):
        bits.append(f"min area {r['min_area']} px²")
    if r.get("class_min_area"):
        bits.append("min area per class " + ", ".join(f"{k} {v}" for k, v in r["class_min_area"].items()))
    if r.get("ignore_classes"):
        bits.append("ignored: " + ", ".join(r["ignore_classes"]))
    return f"{r['name']}: " + "; ".join(bits)


def pct(v) -> str:
    return "—" if v is None else f"{v:.2f}%"


def totals_rows(d: ReportData) -> list[tuple[str, str]]:
    again = (f"{d.reinspections:,} of {d.reinspected_parts:,} part(s) inspected again: each part counts once, "
             "by its last inspection" if d.reinspections else "none")
    rows = [("Parts inspected", f"{d.total:,}"), ("Re-inspections", again), ("OK", f"{d.ok:,}"), ("NG", f"{d.ng:,}"),
            ("Yield (OK / judged)", pct(d.yield_pct)), ("NG rate", pct(d.ng_rate_pct)),
            ("ERROR (not judged)", f"{d.error:,}")]
    if d.median_latency_ms is not None:
        rows.append(("Median latency", f"{d.median_latency_ms:.1f} ms"))
    return rows


def validation_rows(d: ReportData) -> list[tuple[str, str]]:
    v = d.validation or {}
    ins = v.get("inspection") or {}
    if not ins:
        return []
    rate = lambda x: "—" if x is None else f"{100 * x:.2f}%"  # noqa: E731
    return [("Escape rate (defective judged OK)", f"{rate(ins.get('escape_rate'))} "
             f"({ins.get('escapes')} of {ins.get('defective_images')})"),
            ("Overkill rate (defect-free judged NG)", f"{rate(ins.get('overkill_rate'))} "
             f"({ins.get('overkills')} of {ins.get('defect_free_images')})"),
            ("mAP50 / mAP50-95", f"{v.get('map50', 0):.3f} / {v.get('map50_95', 0):.3f}"),
            ("Validated on", f"{v.get('n_images', '?')} labelled images at conf {ins.get('conf')}")]


def timeline_series(d: ReportData) -> tuple[list[str], list[float], list[float]]:
    """Bucket labels (local time), NG rate % of the judged, and inspections per minute."""
    per_min = {"10 s": 1 / 6, "minute": 1.0, "hour": 60.0, "day": 1440.0}[d.bucket]
    labels, ng_rate, rate = [], [], []
    for b in d.timeline:
        t = b["t"] + {"10 s": "0", "minute": ":00", "hour": ":00:00", "day": "T00:00:00"}[d.bucket]
        stamp = local(t + "+00:00")
        labels.append(b["t"] if d.bucket == "day" else (stamp[11:19] if d.bucket == "10 s" else stamp[5:16]))
        judged = b["total"] - (b["error"] or 0)
        ng_rate.append(100.0 * (b["ng"] or 0) / judged if judged else 0.0)
        rate.append(b["total"] / per_min)
    return labels, ng_rate, rate
