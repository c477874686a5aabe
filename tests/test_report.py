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
    assert "image not shown: file not found" in " ".join(pages)                           # a placeholder, no failure
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
    assert "data:image/jpeg;base64," in html and "(not shown: file not found)" in html
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
    (tmp_path / "bad.json").write_text("{")
    r = subprocess.run(cli + ["--format", "json", "--out", str(tmp_path / "v.json"), "--val", str(tmp_path / "bad.json")],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 1 and "bad.json: not a val --json file" in r.stderr and "Traceback" not in r.stderr


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

    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QFileDialog, QPushButton

    path, counts = db
    v = ReportView(Settings())
    qtbot.addWidget(v)
    v.show()
    v.db_edit.clear()
    qtbot.keyClicks(v.db_edit, str(path))
    qtbot.keyClick(v.db_edit, Qt.Key_Return)
    v.preset.setFocus()
    qtbot.keyClicks(v.preset, "Everything")
    assert v.preset.currentText() == "Everything"
    preview = next(b for b in v.findChildren(QPushButton) if b.objectName() == "report_preview")
    qtbot.mouseClick(preview, Qt.LeftButton)
    qtbot.waitUntil(lambda: v.data is not None and v.thumbs.count() > 0, timeout=30000)
    assert v.data.total == 600 and f"{counts['NG']:,}" in v.summary.text()
    assert "&lt;script&gt;" in v.summary.text() or "<script>" not in v.summary.text()
    (tmp_path / "val.json").write_text(json.dumps({"map50": 0.9, "map50_95": 0.6, "n_images": 40, "inspection": {
        "conf": 0.25, "escape_rate": 0.05, "escapes": 1, "defective_images": 20, "overkill_rate": 0.1,
        "overkills": 2, "defect_free_images": 20}}))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(tmp_path / "val.json"), "")))
    qtbot.mouseClick(next(b for b in v.findChildren(QPushButton) if b.text() == "Ground truth…"), Qt.LeftButton)
    qtbot.mouseClick(preview, Qt.LeftButton)
    qtbot.waitUntil(lambda: "Escape rate" in v.summary.text(), timeout=30000)
    assert "5.00%" in v.summary.text()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(tmp_path / "gui.pdf"), "")))
    qtbot.mouseClick(v.export_buttons["pdf"], Qt.LeftButton)
    qtbot.waitUntil(lambda: (tmp_path / "gui.pdf").exists(), timeout=30000)
    (tmp_path / "bad.json").write_text("{")         # read in the worker from the path the GUI thread took
    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(tmp_path / "bad.json"), "")))
    qtbot.mouseClick(next(b for b in v.findChildren(QPushButton) if b.text() == "Ground truth…"), Qt.LeftButton)
    qtbot.mouseClick(preview, Qt.LeftButton)
    qtbot.waitUntil(lambda: "not a val --json file" in v.summary.text(), timeout=30000)
    assert "bad.json" in v.summary.text() and v.data.total == 600
    a, b = preset_range("This shift", dt.datetime(2026, 12, 2, 3, 0))
    assert (a.hour, a.day, b.hour) == (22, 1, 6)
    v.shutdown()


def test_tall_and_wide_ng_images_stay_inside_their_cells(tmp_path):
    """A 2000×300 or 100×1200 image once made a row taller than a page: no PDF at all."""
    from core.inspect.records import InspectionRecord, RecordsWriter
    from core.report.thumbs import THUMB_H, THUMB_W, thumbnail

    w = RecordsWriter(str(tmp_path / "odd.sqlite"))
    for i, (h, wd) in enumerate([(2000, 300), (100, 1200), (200, 200)]):
        p = tmp_path / f"odd{i}.png"
        cv2.imwrite(str(p), np.full((h, wd, 3), 90, np.uint8))
        w.add(InspectionRecord(ts=f"2026-12-06T07:0{i}:00.000+00:00", source="cam", frame=f"{i}", verdict="NG",
                               image_path=str(p), detections=[(0, "crazing", 0.9, 5, 5, wd - 5, h - 5, 1)]))
        jpg, problem = thumbnail(str(p), [("crazing", 0.9, 5, 5, wd - 5, h - 5)], ["crazing"])
        assert problem is None
        assert cv2.imdecode(np.frombuffer(jpg, np.uint8), cv2.IMREAD_COLOR).shape[:2] == (THUMB_H, THUMB_W)
    w.close()
    out = make_report(tmp_path / "odd.sqlite", "pdf", tmp_path / "odd.pdf")[0]
    assert "NG images (3 of 3" in " ".join(_pdf_text(out))


def test_reinspected_files_count_once_and_each_recipe_version_with_its_frames(tmp_path):
    """A folder inspected twice is one set of parts, judged by the last pass; the recipe's threshold
    changed between the passes (same name) shows as two versions; camera frames are each a part."""
    from core.inspect.records import AuditEntry, InspectionRecord, RecordsWriter

    w = RecordsWriter(str(tmp_path / "r.sqlite"), line="line-3")
    t = iter(f"2026-12-06T07:{m:02d}:{s:02d}.000+00:00" for m in range(60) for s in range(0, 60, 5))
    for conf, verdict in ((0.25, "NG"), (0.9, "OK")):
        e = AuditEntry.of("recipe", None, {"name": "default", "conf": conf})
        e.ts = next(t)             # the session's start writes the recipe in force
        w.add(e)
        for i in range(5):
            w.add(InspectionRecord(ts=next(t), source="/boards", frame=f"b{i}.png", verdict=verdict,
                                   model_id="line3-v1:0123456789ab", recipe_id="default"))
    for i in range(3):      # a camera's frames: numbered per run, never the same part
        w.add(InspectionRecord(ts=next(t), source="camera 0", frame=f"{i % 2}", verdict="NG",
                               model_id="sdgasnet-n:ba9876543210", recipe_id="default"))
    w.close()
    d = gather(tmp_path / "r.sqlite", known_models={"ba9876543210": "fast"})
    assert (d.total, d.inspections, d.reinspections, d.reinspected_parts) == (8, 13, 5, 5)
    assert (d.ok, d.ng) == (5, 3)               # the boards by their last pass (OK), the camera frames NG
    assert [(r["conf"], r["frames"]) for r in d.recipes] == [(0.25, 5), (0.9, 8)]
    assert [(m["name"], m["frames"]) for m in d.models] == [("line3-v1", 10), ("fast", 3)]
    assert d.models[1]["text"] == "fast (sdgasnet-n, weights ba9876543210, PyTorch FP32)"


def test_the_reports_tab_finds_records_written_after_it_opened(qtbot, tmp_path, monkeypatch):
    pytest.importorskip("pytestqt")
    monkeypatch.setenv("SDGAS_HOME", str(tmp_path / "home"))
    from app.report.report_view import ReportView
    from core.settings import Settings

    v = ReportView(Settings())
    qtbot.addWidget(v)
    v.show()
    qtbot.waitUntil(lambda: "No records yet" in v.summary.text(), timeout=20000)
    assert "no such records database" not in v.summary.text()
    make_db(tmp_path / "home" / "records.sqlite", 20)     # the live view's first run
    v.hide()
    v.show()                                               # the tab is chosen again
    qtbot.waitUntil(lambda: v.source.count() == 2, timeout=20000)
    assert "No records yet" not in v.summary.text() and v.source.itemText(1) == "line-7"
    v.shutdown()
