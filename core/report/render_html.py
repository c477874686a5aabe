"""The HTML report: one self-contained file (charts as inline SVG, thumbnails as data URIs); every
string from the data is escaped."""
from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from core.util.io import atomic_write_text

from . import content as C
from .gather import ReportData, local
from .thumbs import thumbnail

CSS = """body{font-family:DejaVu Sans,Arial,sans-serif;color:#222;margin:24px auto;max-width:1000px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:22px 0 6px;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:13px}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}
th{background:#f3f3f3}.num{text-align:right}.grid{display:flex;flex-wrap:wrap;gap:10px}
figure{margin:0;width:320px;font-size:11px}figure img{width:320px;border:1px solid #ccc}.muted{color:#777}
.ng{color:#b71c1c;font-weight:bold}"""


def _bars(labels, values, w=900, h=260, color="#e57373") -> str:
    if not values:
        return "<p class='muted'>no defects in this range</p>"
    top = max(values) or 1
    n = len(values)
    bw = (w - 80) / n
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h + 60}' role='img'>"]
    total, cum = sum(values), 0
    pts = []
    for i, (lab, v) in enumerate(zip(labels, values)):
        x = 60 + i * bw
        bh = (h - 20) * v / top
        out.append(f"<rect x='{x + 4:.1f}' y='{h - bh:.1f}' width='{bw - 8:.1f}' height='{bh:.1f}' fill='{color}'/>")
        out.append(f"<text x='{x + bw / 2:.1f}' y='{h - bh - 4:.1f}' font-size='11' text-anchor='middle'>{v}</text>")
        out.append(f"<text x='{x + bw / 2:.1f}' y='{h + 16}' font-size='11' text-anchor='middle'>"
                   f"{escape(str(lab)[:18])}</text>")
        cum += v
        pts.append(f"{x + bw / 2:.1f},{h - (h - 20) * cum / total:.1f}")
    out.append(f"<polyline points='{' '.join(pts)}' fill='none' stroke='#455a64' stroke-width='1.5'/>")
    out.append(f"<text x='{w - 10}' y='14' font-size='11' text-anchor='end' fill='#455a64'>line: cumulative share</text>")
    out.append(f"<line x1='60' y1='{h}' x2='{w - 20}' y2='{h}' stroke='#999'/></svg>")
    return "".join(out)


def _line(labels, values, unit: str, w=900, h=200, color="#1e88e5") -> str:
    if len(values) < 1:
        return "<p class='muted'>no data</p>"
    top = max(max(values), 1e-9)
    n = len(values)
    xs = [60 + (w - 90) * (i / max(n - 1, 1)) for i in range(n)]
    ys = [h - (h - 20) * v / top for v in values]
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
    out = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h + 40}' role='img'>",
           f"<line x1='60' y1='{h}' x2='{w - 20}' y2='{h}' stroke='#999'/>",
           f"<line x1='60' y1='20' x2='60' y2='{h}' stroke='#999'/>",
           f"<text x='54' y='24' font-size='11' text-anchor='end'>{top:.3g}</text>",
           f"<text x='54' y='{h}' font-size='11' text-anchor='end'>0</text>",
           f"<text x='64' y='14' font-size='11'>{escape(unit)}</text>",
           f"<polyline points='{pts}' fill='none' stroke='{color}' stroke-width='2'/>"]
    for i in sorted({0, n // 2, n - 1}):
        out.append(f"<text x='{xs[i]:.1f}' y='{h + 16}' font-size='11' text-anchor='middle'>{escape(labels[i])}</text>")
    out.append("</svg>")
    return "".join(out)


def _table(rows, head=None) -> str:
    h = "".join(f"<th>{escape(x)}</th>" for x in head) if head else ""
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table>{'<tr>' + h + '</tr>' if h else ''}{body}</table>"


def render_html(d: ReportData) -> str:
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(C.title(d))}</title>"
             f"<style>{CSS}</style></head><body><h1>{escape(C.title(d))}</h1>",
             _table(C.header_rows(d))]
    if not d.total:
        parts.append("<h2>Totals</h2><p><b>No inspections in this range.</b></p></body></html>")
        return "".join(parts)
    parts += ["<h2>Totals</h2>", _table(C.totals_rows(d))]
    if d.error_reasons:
        parts += ["<h2>ERROR reasons</h2>", _table(d.error_reasons, ["reason", "count"])]
    val = C.validation_rows(d)
    if val:
        parts += ["<h2>Against ground truth</h2>", _table(val)]
    parts += ["<h2>Defects per class</h2>", _bars([c for c, _ in d.per_class], [n for _, n in d.per_class])]
    labels, ng_rate, rate = C.timeline_series(d)
    parts += [f"<h2>NG rate over time (per {d.bucket})</h2>", _line(labels, ng_rate, "% NG of judged", color="#c62828"),
              f"<h2>Throughput over time (per {d.bucket})</h2>", _line(labels, rate, "inspections / min")]
    parts.append(f"<h2>NG images ({len(d.thumbs)} of {d.ng:,}, evenly sampled)</h2><div class='grid'>")
    names = [c for c, _ in d.per_class]
    for t in d.thumbs:
        jpg, problem = thumbnail(t.image_path, t.detections, names)
        dets = ", ".join(f"{c} {s:.2f}" for c, s, *_ in t.detections) or "—"
        where = escape(t.image_path or "")
        if problem is not None:
            where += f" <span class='ng'>(not shown: {escape(problem)})</span>"
        parts.append(f"<figure><img alt='NG {t.id}' src='data:image/jpeg;base64,{base64.b64encode(jpg).decode()}'>"
                     f"<figcaption>{escape(local(t.ts))} · {escape(t.source)} · {escape(t.frame)}<br>{escape(dets)}"
                     f"<br><span class='muted'>{where}</span></figcaption></figure>")
    parts.append("</div></body></html>")
    return "".join(parts)


def write_report_html(d: ReportData, out: str | Path) -> Path:
    atomic_write_text(out, render_html(d))
    return Path(out)
