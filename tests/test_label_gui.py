"""The labelling view, offscreen: draw with the mouse, pick the class with a digit, save, reload;
proposals accepted with one key; a folder of images as a new dataset; nothing lost on navigation."""
import cv2
import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

pytest.importorskip("pytestqt")

from test_labels import _yolo_set  # noqa: E402


@pytest.fixture
def view(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("SDGAS_HOME", str(tmp_path / "home"))
    from app.label.label_view import LabelView
    from core.settings import Settings

    v = LabelView(Settings())
    qtbot.addWidget(v)
    v.resize(1300, 800)
    v.show()
    yield v
    v.shutdown()


def _open(qtbot, view, path, flt="all"):
    view.open_path(str(path), flt)
    qtbot.waitUntil(lambda: view.project is not None and view.ann is not None, timeout=30000)


def _at(view, x, y) -> QPoint:
    """Widget point of image pixel (x, y)."""
    return view.canvas.mapFromScene(x, y)


def test_drag_draws_a_box_digit_sets_class_save_and_reload(qtbot, view, tmp_path):
    from core.labels.project import LabelProject

    root = _yolo_set(tmp_path)
    _open(qtbot, view, root / "data.yaml")
    qtbot.waitUntil(lambda: view.item.image.name == "im0.png" and view.canvas.width_px == 200)
    qtbot.keyClick(view.canvas, Qt.Key_D)                   # next image: im1 (defect-free)
    qtbot.waitUntil(lambda: view.item.image.name == "im1.png" and view.ann is not None)
    qtbot.waitUntil(lambda: view.canvas.width_px == 200)
    c = view.canvas
    qtbot.mousePress(c.viewport(), Qt.LeftButton, pos=_at(view, 20, 20))
    qtbot.mouseMove(c.viewport(), _at(view, 60, 50))
    qtbot.mouseRelease(c.viewport(), Qt.LeftButton, pos=_at(view, 90, 70))
    assert len(c.boxes) == 1 and view.dirty and "unsaved" in view.header.text()
    b = c.boxes[0]
    assert abs(b.x1 - 20) < 2 and abs(b.y2 - 70) < 2
    qtbot.keyClick(c, Qt.Key_3)                               # class 3 = id 2 (stain)
    assert c.boxes[0].cls == 2
    qtbot.keyClick(c, Qt.Key_S, Qt.ControlModifier)
    assert not view.dirty
    txt = (root / "labels" / "im1.txt").read_text().split()
    assert txt[0] == "2" and abs(float(txt[1]) - 0.275) < 0.01
    # undo, then navigation saves by itself
    qtbot.keyClick(c, Qt.Key_Z, Qt.ControlModifier)            # the class change, then the box
    assert c.boxes[0].cls == 0 and view.dirty
    qtbot.keyClick(c, Qt.Key_Z, Qt.ControlModifier)
    assert not c.boxes
    for _ in range(2):
        qtbot.keyClick(c, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert len(c.boxes) == 1 and c.boxes[0].cls == 2
    qtbot.mousePress(c.viewport(), Qt.LeftButton, pos=_at(view, 120, 20))   # click-click drawing
    qtbot.mouseRelease(c.viewport(), Qt.LeftButton, pos=_at(view, 120, 20))
    qtbot.mouseMove(c.viewport(), _at(view, 150, 40))
    qtbot.mousePress(c.viewport(), Qt.LeftButton, pos=_at(view, 160, 60))
    qtbot.mouseRelease(c.viewport(), Qt.LeftButton, pos=_at(view, 160, 60))
    assert len(c.boxes) == 2
    qtbot.keyClick(c, Qt.Key_A)
    qtbot.waitUntil(lambda: view.item.image.name == "im0.png")
    p = LabelProject.open(root / "data.yaml")
    it = next(i for i in p.items if i.image.name == "im1.png")
    ann, _ = p.load(it, 200, 100)
    assert it.state == "labelled" and sorted(b.cls for b in ann.boxes) == [2, 2]
    # the untouched image kept its file byte for byte
    assert (root / "labels" / "im0.txt").read_text().splitlines()[1] == "1 0.7500001234 0.5 0.2 0.2"


def test_proposals_accept_with_one_key_and_ok_is_its_own_state(qtbot, view, tmp_path):
    from core.labels.annotation import Box
    from core.labels.project import LabelProject

    folder = tmp_path / "new"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"f{i}.png"), np.full((80, 120, 3), 90, np.uint8))
    p = LabelProject.open(folder)
    p.add_class("scratch")
    p.propose(p.items[0], [Box(0, 10, 10, 50, 40, score=0.8), Box(0, 60, 10, 100, 40, score=0.4)])
    _open(qtbot, view, folder, "unreviewed")
    qtbot.waitUntil(lambda: len(view.canvas.proposals) == 2)
    c = view.canvas
    c.select(("proposal", 0))
    qtbot.keyClick(c, Qt.Key_Return)                         # accept one
    assert len(c.boxes) == 1 and len(c.proposals) == 1
    c.select(("proposal", 0))
    qtbot.keyClick(c, Qt.Key_Delete)                         # reject the other
    assert not c.proposals
    qtbot.keyClick(c, Qt.Key_S, Qt.ControlModifier)
    assert (folder / "f0.txt").read_text().startswith("0 ")
    view.filter_box.setCurrentText("all")
    qtbot.waitUntil(lambda: view.model.rowCount() == 3)
    view.list.setCurrentIndex(view.model.index(1))
    qtbot.waitUntil(lambda: view.item.image.name == "f1.png" and view.ann is not None)
    qtbot.keyClick(c, Qt.Key_O)                              # defect-free
    qtbot.keyClick(c, Qt.Key_D)
    qtbot.waitUntil(lambda: view.item.image.name == "f2.png")
    assert (folder / "f1.txt").read_text() == "" and not (folder / "f2.txt").exists()
    states = {it.image.name: it.state for it in LabelProject.open(folder).items}
    assert states == {"f0.png": "labelled", "f1.png": "ok", "f2.png": "unlabelled"}


def test_prelabel_with_a_bundled_model_and_remapped_shortcuts_persist(qtbot, tmp_path, monkeypatch):
    """Pre-labelling runs in the background and its boxes arrive as proposals; a remapped key works
    and survives a restart of the view."""
    import json

    from app.label.label_view import LabelView
    from core.data.synth import make_image
    from core.settings import Settings

    home = tmp_path / "home"
    monkeypatch.setenv("SDGAS_HOME", str(home))
    home.mkdir()
    (home / "settings.json").write_text(json.dumps({"label_shortcuts": {"next": "N"}}))
    folder = tmp_path / "line"
    folder.mkdir()
    for i in range(2):
        cv2.imwrite(str(folder / f"frame{i}.png"), make_image(5 + i, (480, 640), (2, 2))[0])
    v = LabelView(Settings())
    qtbot.addWidget(v)
    v.resize(1200, 800)
    v.show()
    try:
        _open(qtbot, v, folder)
        qtbot.waitUntil(lambda: v.models_box.count() > 0, timeout=10000)
        v.models_box.setCurrentText("demo")
        qtbot.waitUntil(lambda: v.item is not None, timeout=30000)   # the image loads in the background
        v.prelabel_current()
        qtbot.waitUntil(lambda: bool(v.canvas.proposals), timeout=120000)
        assert v.project.names and all(b.score is not None for b in v.canvas.proposals)
        assert "proposal" in v.header.text() and v.item.unreviewed
        qtbot.keyClick(v.canvas, Qt.Key_N)                       # the remapped "next"
        qtbot.waitUntil(lambda: v.item.image.name == "frame1.png")
        qtbot.keyClick(v.canvas, Qt.Key_A)
        qtbot.waitUntil(lambda: v.item.image.name == "frame0.png")
        qtbot.waitUntil(lambda: bool(v.canvas.proposals))        # proposals are kept until decided
    finally:
        v.shutdown()
