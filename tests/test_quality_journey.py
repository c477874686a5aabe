"""The quality staff's journey after a shift, by mouse in the real window: the operator inspects a
folder of boards with a registered model, the recipe's threshold is changed and the folder is
inspected again; then the Reports tab, Preview and Export PDF. The report counts each board once
(and says how many re-inspections there were), its totals equal the records, its model line names
the registered model that judged, its recipe lines list both versions with the frames each judged,
and the file's default name carries the line, date and shift."""
import sqlite3

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt

pytest.importorskip("pytestqt")

from helpers import choose, in_dialog, tiny_weights  # noqa: E402

BOARDS = 12


@pytest.fixture
def home(tmp_path, monkeypatch):
    from helpers import app_home

    return app_home(tmp_path, monkeypatch, {"weights": "", "fastest_runtime": False, "line": "line-3"})


def inspect_folder_once(qtbot, live):
    qtbot.mouseClick(live.btn_start, Qt.LeftButton)
    qtbot.waitUntil(lambda: live.ctrl.snapshot().total == BOARDS, timeout=60000)
    qtbot.wait(300)
    qtbot.mouseClick(live.btn_start, Qt.LeftButton)
    qtbot.waitUntil(lambda: live.btn_start.text() == "Start" and live.btn_start.isEnabled(), timeout=5000)


def set_threshold(qtbot, live, value: str):
    from PySide6.QtWidgets import QDialogButtonBox

    def edit(dlg):
        dlg.conf.selectAll()
        qtbot.keyClicks(dlg.conf, value)
        qtbot.mouseClick(dlg.findChild(QDialogButtonBox).button(QDialogButtonBox.Save), Qt.LeftButton)

    in_dialog(qtbot, edit)
    qtbot.mouseClick(live.recipes.btn_edit, Qt.LeftButton)


def test_a_shift_report_counts_parts_once_and_names_the_model_and_recipes_that_judged(qtbot, home, tmp_path,
                                                                                     monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from app.main_window import MainWindow
    from core.registry import ModelRegistry

    card = ModelRegistry().register(tiny_weights(tmp_path, 64), "line3-v1")
    parts = tmp_path / "boards"
    parts.mkdir()
    rng = np.random.default_rng(0)
    for i in range(BOARDS):
        cv2.imwrite(str(parts / f"board_{i:02d}.png"), rng.integers(0, 255, (48, 48, 3), dtype=np.uint8))
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    live = w.live
    try:
        # the operator: the registered model from the Model box, the folder, Start … Stop, twice
        qtbot.waitUntil(lambda: live.models.box.findText("line3-v1") >= 0, timeout=30000)
        with qtbot.waitSignal(live.models.loader.loaded, timeout=60000):
            choose(qtbot, live.models.box, "line3-v1")
        assert live.models.box.currentText() == "line3-v1"
        monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(parts)))
        qtbot.mouseClick(live.btn_folder, Qt.LeftButton)
        set_threshold(qtbot, live, "0.05")          # a low threshold: random weights find "defects"
        inspect_folder_once(qtbot, live)
        set_threshold(qtbot, live, "0.95")          # the same recipe name, another threshold
        inspect_folder_once(qtbot, live)

        # what really happened, from the records
        con = sqlite3.connect(home / "records.sqlite")
        rows = con.execute("SELECT frame, verdict, model_id, recipe_id FROM inspections ORDER BY ts, id").fetchall()
        con.close()
        assert len(rows) == 2 * BOARDS
        last = {}
        for frame, verdict, *_ in rows:
            last[frame] = verdict
        truth = {v: sum(x == v for x in last.values()) for v in ("OK", "NG", "ERROR")}
        assert {r[2] for r in rows} == {f"line3-v1:{card.hash[:12]}"}

        # quality staff: Reports tab, this shift, Preview
        w.tabs.setCurrentIndex(w.tabs.indexOf(w.reports))
        rv = w.reports
        qtbot.waitUntil(lambda: rv.source.count() > 1, timeout=30000)
        assert "No records yet" not in rv.summary.text()
        choose(qtbot, rv.preset, "This shift")
        preview = next(b for b in rv.findChildren(type(live.btn_start)) if b.objectName() == "report_preview")
        qtbot.mouseClick(preview, Qt.LeftButton)
        qtbot.waitUntil(lambda: rv.data is not None, timeout=30000)
        d = rv.data
        assert (d.total, d.inspections, d.reinspections) == (BOARDS, 2 * BOARDS, BOARDS)
        assert (d.ok, d.ng, d.error) == (truth["OK"], truth["NG"], truth["ERROR"])
        text = rv.summary.text()
        assert f"line3-v1 (weights {card.hash[:12]}, PyTorch FP32)" in text
        assert f"{BOARDS} of {BOARDS} part(s) inspected again" in text
        recipes = [r for r in d.recipes]
        assert [(r["conf"], r["frames"]) for r in recipes] == [(0.05, BOARDS), (0.95, BOARDS)]
        assert "default: conf ≥ 0.05" in text and "default: conf ≥ 0.95" in text

        # export: the proposed name says line, date and shift; the PDF says what the preview said
        proposed = []

        def save_as(parent, caption, path, *a, **k):
            proposed.append(path)
            return str(tmp_path / path.rsplit("/", 1)[-1]), ""

        monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(save_as))
        qtbot.mouseClick(rv.export_buttons["pdf"], Qt.LeftButton)
        qtbot.waitUntil(lambda: bool(rv.exported), timeout=60000)
        name = proposed[0].rsplit("/", 1)[-1]
        start, end = rv.report_filter().t_from, rv.report_filter().t_to
        assert name == f"report_line-3_{start:%Y-%m-%d}_shift-{start:%H}-{end:%H}.pdf", name
        from pypdf import PdfReader

        pdf = " ".join(p.extract_text() for p in PdfReader(str(rv.exported[0])).pages)
        assert f"line3-v1 (weights {card.hash[:12]}" in pdf and "conf ≥ 0.05" in pdf and "conf ≥ 0.95" in pdf
        assert f"Parts inspected {BOARDS}" in pdf.replace("\n", " ")
    finally:
        live.shutdown()
        w.reports.shutdown()
