"""Inspection reports from a generated records database: PDF pages and totals, CSV counts, escaped
HTML, JSON equal to the PDF, the empty range, a moved image, the CLI, the GUI preview, and size."""
import csv
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from report_big import make_db  # noqa: E402

from core.report import ReportFilter, gather, make_report  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
START = dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def db(tmp_path):
    imgs = []
    for i in range(3):
        p = tmp_path / "ng" / f"img{i}.png"
        p.parent.mkdir(exist_ok=True)
        cv2.imwrite(str(p), np.full((200, 200, 3), 60 + 40 * i, np.uint8))
        imgs.append(str(p))
    imgs.append(str(tmp_path / "moved" / "gone.png"))     # an image that is no longer there
    path = tmp_path / "records.sqlite"
    counts = make_db(path, 600, imgs, start=START, hours=8, hostile=True)
    return path, counts


def _pdf_text(path):
    from pypdf import PdfReader

    r = PdfReader(str(path))
    return [p.extract_text() for p in r.pages]


def test_pdf_pages_totals_page_numbers_and_repeated_table_header(db, tmp_path):
    path, counts = db
    out = make_report(path, "pdf", tmp_path / "r.pdf")[0]
    pages = _pdf_text(out)
    n = len(pages)
    assert n >= 3
    first = pages[0]
    assert "Inspection report" in first and "600" in first and f"{counts['NG']:,}" in first
    for k, text in enumerate(pages, 1):
        assert f"page {k} of {n}" in text
    table_pages = [t for t in pages if "NG images" in t or "source · frame" in t]
    assert len(table_pages) >= 2 and all("source · frame" in t for t in table_pages)   # the header repeats
    assert "image missing" in " ".join(pages)                                            # a placeholder, no failure
    assert "<script>alert(1)</script>" in " ".join(pages)                                 # text, laid out as text


def test_csv_parses_back_to_the_same_counts(db, tmp_path):
    path, counts = db
    ins, det = make_report(path, "csv", tmp_path / "r.csv")
    with open(ins, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 600
    for v in ("OK", "NG", "ERROR"):
        assert sum(r["verdict"] == v for r in rows) == counts[v]
    with open(det, newline="") as f:
        drows = list(csv.DictReader(f))
    assert len(drows) == counts["detections"]
    assert {r["class_name"] for r in drows} == set(counts["defects"])


def test_html_escapes_hostile_strings_and_inlines_images(db, tmp_path):
    path, _ = db
    html = make_report(path, "html", tmp_path / "r.html")[0].read_text()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "crazing<b>" not in html and "crazing&lt;b&gt;&amp;amp;" in html
    assert "line-7 &lt;camera &quot;A&quot;&gt; &amp; co" in html
    assert "data:image/jpeg;base64," in html and "(missing)" in html
    assert "src='http" not in html and 'src="http' not in html                          # self-contained


def test_json_has_the_numbers_of_the_pdf(db, tmp_path):
    path, counts = db
    j = json.loads(make_report(path, "json", tmp_path / "r.json")[0].read_text())
    assert (j["total"], j["ok"], j["ng"], j["error"]) == (600, counts["OK"], counts["NG"], counts["ERROR"])
    assert {c["class"]: c["defects"] for c in j["per_class"]} == counts["defects"]
    first = _pdf_text(make_report(path, "pdf", tmp_path / "r.pdf")[0])[0]
    assert f"{j['yield_pct']:.2f}%" in first and f"{j['ng_rate_pct']:.2f}%" in first
    assert sum(b["total"] for b in j["timeline"]) == 600 and j["bucket"] == "hour"


def test_an_empty_range_gives_a_valid_report_in_every_format(db, tmp_path):
    path, _ = db
    flt = ReportFilter(t_from=dt.datetime(2030, 1, 1), t_to=dt.datetime(2030, 1, 2))
    pdf = make_report(path, "pdf", tmp_path / "e.pdf", flt)[0]
    assert "No inspections in this range" in _pdf_text(pdf)[0]
    assert "No inspections in this range" in make_report(path, "html", tmp_path / "e.html", flt)[0].read_text()
    assert json.loads(make_report(path, "json", tmp_path / "e.json", flt)[0].read_text())["total"] == 0
    ins, det = make_report(path, "csv", tmp_path / "e.csv", flt)
    assert len(ins.read_text().splitlines()) == 1 and len(det.read_text().splitlines()) == 1
    shift = ReportFilter(t_from=START, t_to=START + dt.timedelta(hours=4))
    assert gather(path, shift).total == 300


def test_cli_report_and_its_errors(db, tmp_path):
    path, counts = db
    env = {**os.environ, "SDGAS_HOME": str(tmp_path / "home")}
    cli = [sys.executable, str(ROOT / "main.py"), "report", "--db", str(path)]
    r = subprocess.run(cli + ["--format", "json", "--out", str(tmp_path / "c.json"), "--from", "2026-12-01T06:00Z",
                              "--to", "2026-12-01T10:00Z"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "c.json").read_text())["total"] == 300
    r = subprocess.run(cli + ["--format", "pdf", "--out", str(tmp_path / "x.pdf"), "--from", "yesterday"],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "yesterday" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, str(ROOT / "main.py"), "report", "--db", str(tmp_path / "none.sqlite"),
                        "--format", "pdf", "--out", str(tmp_path / "y.pdf")], capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "none.sqlite" in r.stderr


def test_a_hundred_thousand_inspections_report_fast(tmp_path):
    path = tmp_path / "big.sqlite"
    make_db(path, 100_000, [str(tmp_path / "missing.png")], start=START)
    t = time.perf_counter()
    for fmt in ("json", "csv", "html", "pdf"):
        make_report(path, fmt, tmp_path / f"big.{fmt}")
    assert time.perf_counter() - t < 30


def test_the_reports_view_previews_the_same_figures(qtbot, db, tmp_path, monkeypatch):
    pytest.importorskip("pytestqt")
    monkeypatch.setenv("SDGAS_HOME", str(tmp_path / "home"))
    from app.report.report_view import ReportView, preset_range
    from core.settings import Settings

    path, counts = db
    v = ReportView(Settings())
    qtbot.addWidget(v)
    v.db_edit.setText(str(path))
    v.preset.setCurrentText("Everything")
    v.preview()
    qtbot.waitUntil(lambda: v.data is not None and v.thumbs.count() > 0, timeout=30000)
    assert v.data.total == 600 and f"{counts['NG']:,}" in v.summary.text()
    assert "&lt;script&gt;" in v.summary.text() or "<script>" not in v.summary.text()
    (tmp_path / "val.json").write_text(json.dumps({"map50": 0.9, "map50_95": 0.6, "n_images": 40, "inspection": {
        "conf": 0.25, "escape_rate": 0.05, "escapes": 1, "defective_images": 20, "overkill_rate": 0.1,
        "overkills": 2, "defect_free_images": 20}}))
    v.val_edit.setText(str(tmp_path / "val.json"))
    v.preview()
    qtbot.waitUntil(lambda: "Escape rate" in v.summary.text(), timeout=30000)
    assert "5.00%" in v.summary.text()
    v.export("pdf", str(tmp_path / "gui.pdf"))
    qtbot.waitUntil(lambda: (tmp_path / "gui.pdf").exists(), timeout=30000)
    a, b = preset_range("This shift", dt.datetime(2026, 12, 2, 3, 0))
    assert (a.hour, a.day, b.hour) == (22, 1, 6)
    v.shutdown()
