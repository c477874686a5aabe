"""The PDF report (fpdf2): A4 pages with a running header, page numbers, vector charts, and the NG
table whose header repeats on every page.

Why fpdf2 rather than Qt's PDF writer: ``core`` must not import Qt (the CLI makes reports on a
headless line PC), and fpdf2 is a small pure-Python library that paginates tables with repeated
headings and embeds a Unicode font (DejaVu Sans, bundled in resources/fonts), so any class name,
file name or error text from the data is laid out as text, never interpreted.
"""
from __future__ import annotations

import io
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from core.util.io import atomic_write_bytes

from . import content as C
from .gather import ReportData, local
from .thumbs import thumbnail

FONTS = Path(__file__).resolve().parents[2] / "resources" / "fonts"
GREY = (110, 110, 110)


class _Pdf(FPDF):
    def __init__(self, d: ReportData):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.d = d
        self.add_font("DejaVu", "", str(FONTS / "DejaVuSans.ttf"))
        self.add_font("DejaVu", "B", str(FONTS / "DejaVuSans-Bold.ttf"))
        self.set_auto_page_break(True, margin=16)
        self.set_title(C.title(d))
        self.set_creator(f"SD-GASNet Inspector {d.version}")

    def header(self):
        self.set_font("DejaVu", "", 8)
        self.set_text_color(*GREY)
        src = ", ".join(self.d.sources) or "all sources"
        self.cell(0, 5, _fit(self, f"{C.title(self.d)} · {src} · {local(self.d.first_ts)} – {local(self.d.last_ts)}",
                             180), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(3)
        self.set_text_color(0, 0, 0)

    def footer(self):
        self.set_y(-12)
        self.set_font("DejaVu", "", 8)
        self.set_text_color(*GREY)
        self.cell(0, 6, f"Generated {self.d.generated.replace('T', ' ')} · page {self.page_no()} of {{nb}}",
                  align="C")


def _fit(pdf: FPDF, text: str, width_mm: float) -> str:
    """``text`` cut with an ellipsis to fit ``width_mm`` in the current font."""
    text = str(text).replace("\n", " ").replace("\r", " ")
    if pdf.get_string_width(text) <= width_mm:
        return text
    while text and pdf.get_string_width(text + "…") > width_mm:
        text = text[:-1]
    return text + "…"


def _h2(pdf: FPDF, text: str, keep_mm: float = 30):
    """A section title, kept on one page with the first ``keep_mm`` of what follows it."""
    if pdf.get_y() + 14 + keep_mm > pdf.h - pdf.b_margin:
        pdf.add_page()
    pdf.ln(3)
    pdf.set_font("DejaVu", "B", 12)
    pdf.cell(0, 8, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("DejaVu", "", 9)


def _kv(pdf: FPDF, rows, widths=(68, 112)):
    pdf.set_font("DejaVu", "", 9)
    with pdf.table(col_widths=widths, first_row_as_headings=False, borders_layout="HORIZONTAL_LINES",
                   text_align=("LEFT", "LEFT"), line_height=5, width=sum(widths), align="LEFT") as t:
        for k, v in rows:
            r = t.row()
            r.cell(str(k), style=FontFace(emphasis="BOLD"))
            r.cell(str(v))


def _room(pdf: FPDF, need_mm: float):
    """A new page unless ``need_mm`` fit above the bottom margin (charts are drawn unbroken)."""
    if pdf.get_y() + need_mm > pdf.h - pdf.b_margin:
        pdf.add_page()


def _bars(pdf: FPDF, labels, values, w=180, h=55):
    _room(pdf, h + 14)
    x0, y0 = pdf.l_margin + 12, pdf.get_y() + 4
    if not values:
        pdf.cell(0, 6, "No defects in this range.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        return
    top = max(values) or 1
    bw = (w - 14) / len(values)
    pdf.set_font("DejaVu", "", 7)
    for i, (lab, v) in enumerate(zip(labels, values)):
        bh = (h - 8) * v / top
        x = x0 + i * bw
        pdf.set_fill_color(229, 115, 115)
        pdf.rect(x + 1, y0 + h - bh, bw - 2, bh, style="F")
        pdf.set_xy(x, y0 + h - bh - 4)
        pdf.cell(bw, 4, f"{v:,}", align="C")
        pdf.set_xy(x, y0 + h + 1)
        pdf.cell(bw, 4, _fit(pdf, lab, bw - 1), align="C")
    pdf.set_draw_color(150, 150, 150)
    pdf.line(x0, y0 + h, x0 + w - 14, y0 + h)
    total, cum, prev = sum(values), 0, None
    pdf.set_draw_color(69, 90, 100)
    for i, v in enumerate(values):   # cumulative share, the Pareto line
        cum += v
        pt = (x0 + i * bw + bw / 2, y0 + h - (h - 8) * cum / total)
        if prev:
            pdf.line(*prev, *pt)
        prev = pt
    pdf.set_draw_color(0, 0, 0)
    pdf.set_fill_color(255, 255, 255)   # tables drawn later fill with the current colour
    pdf.set_y(y0 + h + 8)


def _line(pdf: FPDF, labels, values, unit: str, color, w=180, h=40):
    _room(pdf, h + 12)
    x0, y0 = pdf.l_margin + 12, pdf.get_y() + 3
    if not values:
        return
    top = max(max(values), 1e-9)
    n = len(values)
    pdf.set_font("DejaVu", "", 7)
    pdf.set_draw_color(150, 150, 150)
    pdf.line(x0, y0 + h, x0 + w - 14, y0 + h)
    pdf.line(x0, y0, x0, y0 + h)
    pdf.set_xy(x0 - 12, y0 - 2)
    pdf.cell(11, 4, f"{top:.3g}", align="R")
    pdf.set_xy(x0 - 12, y0 + h - 2)
    pdf.cell(11, 4, "0", align="R")
    pdf.set_xy(x0 + 2, y0 - 4)
    pdf.cell(60, 4, unit)
    pts = [(x0 + (w - 14) * (i / max(n - 1, 1)), y0 + h - h * v / top) for i, v in enumerate(values)]
    pdf.set_draw_color(*color)
    pdf.set_line_width(0.5)
    if n == 1:
        pdf.circle(pts[0][0], pts[0][1], 1.2, style="F")
    for a, b in zip(pts, pts[1:]):
        pdf.line(*a, *b)
    pdf.set_line_width(0.2)
    pdf.set_draw_color(0, 0, 0)
    for i in sorted({0, n // 2, n - 1}):
        pdf.set_xy(pts[i][0] - 15, y0 + h + 1)
        pdf.cell(30, 4, labels[i], align="C")
    pdf.set_y(y0 + h + 7)


def render_pdf(d: ReportData) -> bytes:
    pdf = _Pdf(d)
    pdf.add_page()
    pdf.set_font("DejaVu", "B", 18)
    pdf.cell(0, 10, C.title(d), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _kv(pdf, C.header_rows(d))
    _h2(pdf, "Totals")
    if not d.total:
        pdf.set_font("DejaVu", "B", 11)
        pdf.cell(0, 8, "No inspections in this range.", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        return bytes(pdf.output())
    _kv(pdf, C.totals_rows(d))
    if d.error_reasons:
        _h2(pdf, "ERROR reasons")
        _kv(pdf, [(f"{n:,}×", r) for r, n in d.error_reasons], widths=(20, 160))
    val = C.validation_rows(d)
    if val:
        _h2(pdf, "Against ground truth")
        _kv(pdf, val)
    _h2(pdf, "Defects per class (Pareto)", keep_mm=70)
    _bars(pdf, [c for c, _ in d.per_class], [n for _, n in d.per_class])
    labels, ng_rate, rate = C.timeline_series(d)
    _h2(pdf, f"NG rate over time (per {d.bucket})", keep_mm=55)
    _line(pdf, labels, ng_rate, "% NG of judged", (198, 40, 40))
    _h2(pdf, f"Throughput over time (per {d.bucket})", keep_mm=55)
    _line(pdf, labels, rate, "inspections / min", (30, 136, 229))
    _room(pdf, 24)
    pdf.ln(6)
    pdf.set_font("DejaVu", "", 9)
    pdf.cell(90, 8, "Reviewed by: ______________________________")
    pdf.cell(90, 8, "Date / signature: ______________________", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if d.thumbs:
        pdf.add_page()
        _h2(pdf, f"NG images ({len(d.thumbs)} of {d.ng:,}, evenly sampled)")
        names = [c for c, _ in d.per_class]
        pdf.set_font("DejaVu", "", 8)
        with pdf.table(col_widths=(40, 36, 58, 46), text_align=("CENTER", "LEFT", "LEFT", "LEFT"),
                       repeat_headings=1, line_height=4.5, headings_style=FontFace(emphasis="BOLD",
                                                                                   fill_color=(235, 235, 235))) as t:
            h = t.row()
            for c in ("image", "time", "source · frame", "defects"):
                h.cell(c)
            for th in d.thumbs:
                jpg, problem = thumbnail(th.image_path, th.detections, names)
                r = t.row()
                r.cell(img=io.BytesIO(jpg), img_fill_width=True)
                r.cell(local(th.ts))
                where = f"{th.source} · {th.frame}"
                if problem is not None:
                    where += f"\n(image not shown: {problem}: {th.image_path})" if th.image_path else "\n(image not saved)"
                r.cell(where)
                r.cell("\n".join(f"{c} {s:.2f}" for c, s, *_ in th.detections) or "—")
    return bytes(pdf.output())


def write_report_pdf(d: ReportData, out: str | Path) -> Path:
    atomic_write_bytes(out, render_pdf(d))
    return Path(out)
