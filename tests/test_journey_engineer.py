"""The engineer's journey in the main window, by mouse and keys, on data the test makes:

open a folder of images -> add classes -> label six images (boxes drawn, digits, O for defect-free)
-> pre-label one with a model of other classes and map them -> split -> train a tiny teacher ->
"Train a student from this teacher" (it takes the teacher's settings) -> "Use for inspection" ->
the live view's Model box names it -> a folder run judges with it -> the labels on disk are what
was drawn. File dialogs are replaced at the dialog boundary; every other dialog is answered by
typing and clicking in it.
"""
import sqlite3

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt

pytest.importorskip("pytestqt")

from helpers import button, choose, in_dialog, type_and_ok, wait_active  # noqa: E402

SIZE = (240, 320)       # h, w of the part images
TINY_RUN = {"epochs": "1", "imgsz": "64", "batch": "6"}   # one step: the teacher's six training images
MAP = {"scratches": "scratch", "patches": "patch"}   # the demo model's classes -> this line's


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    import json

    monkeypatch.setenv("SDGAS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SDGAS_NO_CAMERA_PROBE", "1")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "settings.json").write_text(json.dumps({"weights": "", "runs_dir": str(tmp_path / "runs")}))
    from app.main_window import MainWindow
    from core.settings import Settings

    w = MainWindow(settings=Settings())
    qtbot.addWidget(w)
    w.show()
    yield w
    for k in w.training.service.running_here():
        w.training.service.stop(k, hard=True)
    w.live.stop()
    for v in w.views:
        v.shutdown()


def _tab(qtbot, w, view):
    bar = w.tabs.tabBar()
    qtbot.mouseClick(bar, Qt.LeftButton, pos=bar.tabRect(w.tabs.indexOf(view)).center())
    assert w.tabs.currentWidget() is view


def _type(qtbot, widget, text):
    """Replace a field's text by typing, as a person does (select all, type)."""
    edit = widget.lineEdit() if hasattr(widget, "lineEdit") and widget.lineEdit() else widget
    edit.selectAll()
    qtbot.keyClicks(edit, text)


def _parts(folder):
    """Eight part images: f0-f3 with defects (their true boxes), f4-f5 clean, f6 for the model, f7 left alone."""
    from core.data.synth import make_image

    folder.mkdir()
    truth = {}
    for i, (seed, n) in enumerate([(11, (1, 2)), (12, (1, 2)), (13, (1, 2)), (14, (1, 2)), (1, (0, 0)), (2, (0, 0)),
                                   (8, (2, 3)), (3, (1, 1))]):
        img, boxes, _ = make_image(seed, SIZE, n)
        cv2.imwrite(str(folder / f"f{i}.png"), img)
        truth[f"f{i}.png"] = [tuple(map(float, b)) for b in boxes]
    return truth


def test_the_engineers_journey_by_mouse_and_keys(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QComboBox, QFileDialog

    from core.data.formats import load_dataset
    from core.registry import ModelRegistry

    w = window
    lab = w.labelling
    folder = tmp_path / "line7"
    truth = _parts(folder)

    # open the folder as a new dataset
    _tab(qtbot, w, lab)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    qtbot.mouseClick(button(lab, "Open image folder…"), Qt.LeftButton)
    qtbot.waitUntil(lambda: lab.project is not None and lab.ann is not None and lab.canvas.width_px > 0, timeout=30000)

    # two classes, with the panel's Add… button
    for name in ("scratch", "patch"):
        in_dialog(qtbot, type_and_ok(qtbot, name))
        qtbot.mouseClick(button(lab.classes, "Add…"), Qt.LeftButton)
        qtbot.waitUntil(lambda: name in lab.project.names, timeout=10000)

    def show(name):
        qtbot.waitUntil(lambda: lab.item is not None and lab.item.image.name == name and lab.ann is not None
                        and lab.canvas.width_px > 0, timeout=30000)
        wait_active(qtbot, w)

    # six images by hand: the defects' boxes dragged, a digit for each class; two marked defect-free
    drawn = {}
    vp = lab.canvas.viewport()
    for i in range(6):
        name = f"f{i}.png"
        show(name)
        for k, (x1, y1, x2, y2) in enumerate(truth[name]):
            qtbot.mousePress(vp, Qt.LeftButton, pos=lab.canvas.mapFromScene(x1, y1))
            qtbot.mouseMove(vp, lab.canvas.mapFromScene((x1 + x2) / 2, (y1 + y2) / 2))
            qtbot.mouseRelease(vp, Qt.LeftButton, pos=lab.canvas.mapFromScene(x2, y2))
            qtbot.keyClick(lab.canvas, Qt.Key_1 if k % 2 == 0 else Qt.Key_2)
        if not truth[name]:
            qtbot.keyClick(lab.canvas, Qt.Key_O)
        drawn[name] = [(b.cls, *b.xyxy) for b in lab.canvas.boxes]
        assert len(drawn[name]) == len(truth[name])
        qtbot.keyClick(lab.canvas, Qt.Key_D)                       # the next image; this one is saved

    # one pre-labelled by a model of other classes, its classes mapped to the line's
    show("f6.png")
    choose(qtbot, lab.models_box, "demo")
    asked: list = []

    def map_classes(dlg):
        for combo in dlg.findChildren(QComboBox):
            model_class = combo.objectName().removeprefix("map_")
            asked.append(model_class)
            choose(qtbot, combo, MAP.get(model_class, "ignore (no proposals)"))
        qtbot.mouseClick(button(dlg, "OK"), Qt.LeftButton)

    in_dialog(qtbot, map_classes)
    qtbot.keyClick(lab.canvas, Qt.Key_P)
    qtbot.waitUntil(lambda: bool(lab.canvas.proposals), timeout=120000)
    wait_active(qtbot, w)
    assert "scratches" in asked and "patches" in asked
    assert {lab.project.shown_names[b.cls] for b in lab.canvas.proposals} <= {"scratch", "patch"}
    qtbot.keyClick(lab.canvas, Qt.Key_Return, Qt.ShiftModifier)      # accept them all
    drawn["f6.png"] = [(b.cls, *b.xyxy) for b in lab.canvas.boxes]
    qtbot.keyClick(lab.canvas, Qt.Key_D)
    show("f7.png")
    assert lab.project.names == ["scratch", "patch"]

    # split and train a tiny teacher, from the labelling view's button
    def run_dialog(dlg):
        qtbot.waitUntil(lambda: dlg.checked is not None or bool(dlg.check_error), timeout=60000)
        assert not dlg.checked["problems"], dlg.checked["problems"]
        for key, value in TINY_RUN.items():
            _type(qtbot, dlg.basic.fields[key].widget, value)
        choose(qtbot, dlg.basic.fields["device"].widget, "cpu")
        qtbot.mouseClick(dlg.fold, Qt.LeftButton)                       # Advanced settings
        for key in ("workers", "precise_bn_images"):
            _type(qtbot, dlg.advanced.fields[key].widget, "0")
        qtbot.waitUntil(dlg.start_btn.isEnabled, timeout=10000)
        qtbot.mouseClick(dlg.start_btn, Qt.LeftButton)

    def split(dlg):
        in_dialog(qtbot, run_dialog)
        qtbot.mouseClick(button(dlg, "Write splits"), Qt.LeftButton)

    in_dialog(qtbot, lambda box: (in_dialog(qtbot, split), qtbot.mouseClick(button(box, "OK"), Qt.LeftButton)))
    qtbot.mouseClick(button(lab, "Train on this dataset"), Qt.LeftButton)
    tr = w.training
    qtbot.waitUntil(lambda: tr.current is not None and tr.current.kind == "teacher", timeout=60000)
    assert w.tabs.currentWidget() is tr
    spec = load_dataset(tr.current.dataset)
    listed = {r.image.name for s in spec.splits.values() for r in s}
    assert listed == {f"f{i}.png" for i in range(7)} and spec.splits["val"]      # f7 was never judged
    qtbot.waitUntil(lambda: tr.current.status in ("finished", "failed"), timeout=240000)
    assert tr.current.status == "finished", tr.current.reason
    teacher = tr.current.path

    # a student of it, which takes its settings
    seen: dict = {}

    def student_dialog(dlg):
        qtbot.waitUntil(lambda: "As its teacher" in dlg.inherit_note.text(), timeout=30000)
        seen.update(dlg.basic.values())
        qtbot.mouseClick(dlg.fold, Qt.LeftButton)
        for key in ("workers", "precise_bn_images"):
            _type(qtbot, dlg.advanced.fields[key].widget, "0")
        qtbot.waitUntil(dlg.start_btn.isEnabled, timeout=10000)
        qtbot.mouseClick(dlg.start_btn, Qt.LeftButton)

    wait_active(qtbot, w)
    in_dialog(qtbot, student_dialog)
    qtbot.mouseClick(tr.btn_distill, Qt.LeftButton)
    qtbot.waitUntil(lambda: tr.current is not None and tr.current.kind == "student", timeout=60000)
    assert (seen["epochs"], seen["imgsz"], seen["batch"]) == (1, 64, 6), seen
    qtbot.waitUntil(lambda: tr.current.status in ("finished", "failed"), timeout=240000)
    assert tr.current.status == "finished", tr.current.reason
    assert tr.current.teacher.endswith(str(teacher / "weights" / "best.pt"))

    # put the student on the line
    confirm: list = []
    wait_active(qtbot, w)
    in_dialog(qtbot, lambda dlg: (in_dialog(qtbot, lambda box: qtbot.mouseClick(button(box, "Use for inspection"),
                                                                                Qt.LeftButton), confirm),
                                  type_and_ok(qtbot, "line-7")(dlg)))
    qtbot.mouseClick(tr.btn_use, Qt.LeftButton)
    live = w.live
    qtbot.waitUntil(lambda: "line-7" in ModelRegistry() and live.models.detector is not None
                    and live.settings["weights"] == "line-7", timeout=120000)
    assert "line-7" in confirm[0]
    assert w.tabs.currentWidget() is live
    qtbot.waitUntil(lambda: live.models.box.currentText() == "line-7", timeout=10000)    # the Model box names it

    # a folder run judges with it
    run_folder = tmp_path / "to_judge"
    run_folder.mkdir()
    for i in range(3):
        (run_folder / f"part{i}.png").write_bytes((folder / f"f{i}.png").read_bytes())
    _type(qtbot, live.source_box, str(run_folder))
    qtbot.mouseClick(live.btn_start, Qt.LeftButton)
    db = live.settings["db"] or str(tmp_path / "home" / "records.sqlite")
    card = ModelRegistry().card("line-7")

    def judged():
        try:
            with sqlite3.connect(db) as con:
                return con.execute("SELECT model_id, verdict FROM inspections WHERE source = ?",
                                   (str(run_folder),)).fetchall()
        except sqlite3.Error:
            return []

    qtbot.waitUntil(lambda: len(judged()) == 3, timeout=60000)
    rows = judged()
    assert all(card.hash[:12] in m and v in ("OK", "NG") for m, v in rows), (rows, card.hash)
    if live.ctrl.running():
        qtbot.mouseClick(live.btn_start, Qt.LeftButton)                 # Stop

    # the labels on disk are what was drawn
    for i in range(8):
        name = f"f{i}.png"
        lbl = folder / f"f{i}.txt"
        if name not in drawn:
            assert not lbl.exists()                                   # never judged: no label, not an OK part
            continue
        rows = [ln.split() for ln in lbl.read_text().splitlines()]
        h, wd = SIZE
        on_disk = sorted((int(c), (float(cx) - float(bw) / 2) * wd, (float(cy) - float(bh) / 2) * h,
                          (float(cx) + float(bw) / 2) * wd, (float(cy) + float(bh) / 2) * h) for c, cx, cy, bw, bh in rows)
        want = sorted(drawn[name])
        assert len(on_disk) == len(want), name
        for a, b in zip(on_disk, want):
            assert a[0] == b[0] and np.abs(np.array(a[1:]) - np.array(b[1:])).max() < 0.5, (name, a, b)
    assert (folder / "f4.txt").read_text() == "" and (folder / "classes.txt").read_text() == "scratch\npatch\n"
