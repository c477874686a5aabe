"""The labelling view, offscreen, driven as a person drives it: the mouse draws and clicks buttons
and rows, keys pick classes, accept and save; dialogs are answered by typing and clicking in them."""
import cv2
import numpy as np
import pytest
import yaml
from PySide6.QtCore import QPoint, Qt

pytest.importorskip("pytestqt")

from helpers import button, choose, in_dialog, type_and_ok, wait_active  # noqa: E402
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


def _drag(qtbot, view, x1, y1, x2, y2):
    """Draw a box with the mouse, from image pixel (x1, y1) to (x2, y2)."""
    vp = view.canvas.viewport()
    qtbot.mousePress(vp, Qt.LeftButton, pos=_at(view, x1, y1))
    qtbot.mouseMove(vp, _at(view, (x1 + x2) / 2, (y1 + y2) / 2))
    qtbot.mouseRelease(vp, Qt.LeftButton, pos=_at(view, x2, y2))


def _click_row(qtbot, widget, row: int):
    """Click row ``row`` of a list view or list widget."""
    idx = widget.model().index(row, 0)
    qtbot.mouseClick(widget.viewport(), Qt.LeftButton, pos=widget.visualRect(idx).center())


def _show(qtbot, view, name):
    qtbot.waitUntil(lambda: view.item is not None and view.item.image.name == name and view.ann is not None
                    and view.canvas.width_px > 0, timeout=30000)
    wait_active(qtbot, view)


def _images(folder, n, size=(80, 120)):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        cv2.imwrite(str(folder / f"f{i}.png"), np.full((*size, 3), 60 + 10 * i, np.uint8))
    return folder


def test_drag_draws_a_box_digit_sets_class_save_and_reload(qtbot, view, tmp_path):
    from core.labels.project import LabelProject

    root = _yolo_set(tmp_path)
    _open(qtbot, view, root / "data.yaml")
    _show(qtbot, view, "im0.png")
    qtbot.keyClick(view.canvas, Qt.Key_D)                   # next image: im1 (defect-free)
    _show(qtbot, view, "im1.png")
    c = view.canvas
    _drag(qtbot, view, 20, 20, 90, 70)
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
    assert not view.dirty and "unsaved" not in view.header.text()   # redone back to what is on disk
    qtbot.mousePress(c.viewport(), Qt.LeftButton, pos=_at(view, 120, 20))   # click-click drawing
    qtbot.mouseRelease(c.viewport(), Qt.LeftButton, pos=_at(view, 120, 20))
    qtbot.mouseMove(c.viewport(), _at(view, 150, 40))
    qtbot.mousePress(c.viewport(), Qt.LeftButton, pos=_at(view, 160, 60))
    qtbot.mouseRelease(c.viewport(), Qt.LeftButton, pos=_at(view, 160, 60))
    assert len(c.boxes) == 2
    qtbot.keyClick(c, Qt.Key_A)
    _show(qtbot, view, "im0.png")
    p = LabelProject.open(root / "data.yaml")
    it = next(i for i in p.items if i.image.name == "im1.png")
    ann, _ = p.load(it, 200, 100)
    assert it.state == "labelled" and sorted(b.cls for b in ann.boxes) == [2, 2]
    # the untouched image kept its file byte for byte
    assert (root / "labels" / "im0.txt").read_text().splitlines()[1] == "1 0.7500001234 0.5 0.2 0.2"


def test_keys_tab_visits_proposals_enter_keeps_the_box_selected_and_save_works_from_anywhere(qtbot, tmp_path,
                                                                                          monkeypatch):
    """Tab reaches the proposals before the boxes; after Enter accepts one the box stays selected, so a
    digit re-classes it; undo back to what is on disk clears the unsaved mark; Ctrl+S saves with the
    focus outside the view."""
    from PySide6.QtWidgets import QLineEdit, QVBoxLayout, QWidget

    from app.label.label_view import LabelView
    from core.data.annotation import Box
    from core.labels.project import LabelProject
    from core.settings import Settings

    monkeypatch.setenv("SDGAS_HOME", str(tmp_path / "home"))
    folder = _images(tmp_path / "new", 3)
    (folder / "classes.txt").write_text("scratch\ndent\n")
    (folder / "f0.txt").write_text("1 0.8 0.8 0.1 0.1\n")
    p = LabelProject.open(folder)
    p.propose(p.items[0], [Box(0, 10, 10, 50, 40, score=0.8), Box(0, 60, 10, 100, 40, score=0.4)])
    window = QWidget()
    elsewhere = QLineEdit()
    view = LabelView(Settings())
    lay = QVBoxLayout(window)
    lay.addWidget(elsewhere)
    lay.addWidget(view)
    qtbot.addWidget(window)
    window.resize(1300, 850)
    window.show()
    try:
        _open(qtbot, view, folder, "unreviewed")
        qtbot.waitUntil(lambda: len(view.canvas.proposals) == 2)
        c = view.canvas
        assert len(c.boxes) == 1
        qtbot.keyClick(c, Qt.Key_Tab)
        assert c.selected == ("proposal", 0)
        qtbot.keyClick(c, Qt.Key_Return)                         # accept it
        assert len(c.boxes) == 2 and len(c.proposals) == 1 and c.selected == ("box", 1)
        qtbot.keyClick(c, Qt.Key_2)                              # the accepted box becomes a dent
        assert c.boxes[1].cls == 1 and view.dirty
        qtbot.keyClick(c, Qt.Key_Z, Qt.ControlModifier)
        qtbot.keyClick(c, Qt.Key_Z, Qt.ControlModifier)
        assert len(c.proposals) == 2 and not view.dirty and "unsaved" not in view.header.text()
        qtbot.keyClick(c, Qt.Key_Tab)
        qtbot.keyClick(c, Qt.Key_Tab)
        assert c.selected == ("proposal", 1)
        qtbot.keyClick(c, Qt.Key_Delete)                         # reject the other
        assert len(c.proposals) == 1 and view.dirty
        elsewhere.setFocus()
        qtbot.waitUntil(elsewhere.hasFocus)
        qtbot.keyClick(elsewhere, Qt.Key_S, Qt.ControlModifier)  # the focus is outside the labelling view
        assert not view.dirty
        assert LabelProject.open(folder).review.proposals("f0.png")[0].x1 == 10
        choose(qtbot, view.filter_box, "all")
        qtbot.waitUntil(lambda: view.model.rowCount() == 3)
        _click_row(qtbot, view.list, 1)
        _show(qtbot, view, "f1.png")
        qtbot.keyClick(c, Qt.Key_O)                              # defect-free
        qtbot.keyClick(c, Qt.Key_D)
        _show(qtbot, view, "f2.png")
        assert (folder / "f1.txt").read_text() == "" and not (folder / "f2.txt").exists()
        states = {it.image.name: it.state for it in LabelProject.open(folder).items}
        assert states == {"f0.png": "labelled", "f1.png": "ok", "f2.png": "unlabelled"}
    finally:
        view.shutdown()


def test_a_box_drawn_before_any_class_asks_for_the_first_class(qtbot, view, tmp_path):
    folder = _images(tmp_path / "fresh", 2)
    _open(qtbot, view, folder)
    _show(qtbot, view, "f0.png")
    view.canvas.current_class = 6          # left from another dataset
    seen: list = []
    in_dialog(qtbot, lambda w: qtbot.mouseClick(button(w, "Cancel"), Qt.LeftButton), seen)
    _drag(qtbot, view, 10, 10, 60, 40)
    qtbot.waitUntil(lambda: bool(seen), timeout=10000)
    qtbot.wait(100)
    assert not view.canvas.boxes and not view.project.names and not (folder / "classes.txt").exists()
    in_dialog(qtbot, type_and_ok(qtbot, "scratch"), seen)
    _drag(qtbot, view, 10, 10, 60, 40)
    qtbot.waitUntil(lambda: bool(view.canvas.boxes), timeout=10000)
    assert seen == ["Name the first class"] * 2, seen
    assert view.project.names == ["scratch"] and view.canvas.boxes[0].cls == 0
    assert (folder / "classes.txt").read_text() == "scratch\n"
    assert not (folder / "data.yaml").exists()             # no split yet: nothing would train every image
    in_dialog(qtbot, type_and_ok(qtbot, "dent"))           # a second class, the new box still selected
    qtbot.mouseClick(button(view.classes, "Add…"), Qt.LeftButton)
    qtbot.waitUntil(lambda: view.project.names == ["scratch", "dent"], timeout=10000)
    assert view.canvas.boxes[0].cls == 0                   # adding a class re-classed the selected box
    _drag(qtbot, view, 70, 10, 110, 40)
    assert [b.cls for b in view.canvas.boxes] == [0, 1]    # new boxes take the class just added
    wait_active(qtbot, view)
    qtbot.keyClick(view.canvas, Qt.Key_D)                  # saves without a word
    _show(qtbot, view, "f1.png")
    assert [ln.split()[0] for ln in (folder / "f0.txt").read_text().splitlines()] == ["0", "1"]


def test_prelabel_maps_the_models_classes_and_adds_one_only_when_accepted(qtbot, view, tmp_path):
    """A model of other classes: a class of the same name is matched, the others are asked for once;
    data.yaml is not touched until a proposal of a class it lacks is accepted, and then keeps its layout."""
    from core.data.synth import make_image

    root = tmp_path / "line7"
    (root / "images").mkdir(parents=True)
    for i, seed in enumerate((5, 8)):   # seed 5: scratches, pitted surface; seed 8: patches, scratches, ...
        cv2.imwrite(str(root / "images" / f"p{i}.png"), make_image(seed, (240, 320), (2, 3))[0])
    text = "# line 7, camera 2\npath: .\ntrain: images\nval: images\nnames:\n  0: scratch\n  1: Pitted surface\n"
    (root / "data.yaml").write_text(text)
    _open(qtbot, view, root / "data.yaml")
    _show(qtbot, view, "p0.png")
    qtbot.waitUntil(lambda: view.models_box.count() > 0, timeout=10000)
    choose(qtbot, view.models_box, "demo")
    seen: list = []

    def map_scratches(w):
        choose(qtbot, w.findChild(type(view.models_box), "map_scratches"), "scratch")
        qtbot.mouseClick(button(w, "OK"), Qt.LeftButton)

    in_dialog(qtbot, map_scratches, seen)
    qtbot.keyClick(view.canvas, Qt.Key_P)
    qtbot.waitUntil(lambda: bool(view.canvas.proposals), timeout=120000)
    wait_active(qtbot, view)
    assert seen == ["Map the model's classes"], seen
    names = view.project.shown_names
    assert {names[b.cls] for b in view.canvas.proposals} == {"scratch", "Pitted surface"}
    assert (root / "data.yaml").read_text() == text
    qtbot.keyClick(view.canvas, Qt.Key_Delete, Qt.ShiftModifier)     # reject them all
    qtbot.keyClick(view.canvas, Qt.Key_D)
    _show(qtbot, view, "p1.png")
    assert (root / "data.yaml").read_text() == text and not (root / "labels" / "p0.txt").exists()
    seen.clear()
    in_dialog(qtbot, lambda w: qtbot.mouseClick(button(w, "OK"), Qt.LeftButton), seen)   # patches: a new class
    qtbot.keyClick(view.canvas, Qt.Key_P)
    qtbot.waitUntil(lambda: bool(view.canvas.proposals), timeout=120000)
    wait_active(qtbot, view)
    assert len(seen) == 1        # asked for 'patches' only: 'scratches' is remembered
    names = view.project.shown_names
    assert names[view.canvas.proposals[0].cls] == "patches" and (root / "data.yaml").read_text() == text
    qtbot.keyClick(view.canvas, Qt.Key_Tab)
    qtbot.keyClick(view.canvas, Qt.Key_Return)                      # accept the patches proposal
    qtbot.keyClick(view.canvas, Qt.Key_S, Qt.ControlModifier)
    assert (root / "data.yaml").read_text() == text + "  2: patches\n"   # the mapping kept, the comment too
    assert (root / "labels" / "p1.txt").read_text().startswith("2 ")
    assert yaml.safe_load((root / "data.yaml").read_text())["names"] == {0: "scratch", 1: "Pitted surface",
                                                                       2: "patches"}


def test_merge_keeps_no_class_selected_and_can_be_undone(qtbot, view, tmp_path):
    root = _yolo_set(tmp_path)
    before = {p.name: p.read_bytes() for p in (root / "labels").iterdir()}
    yaml_before = (root / "data.yaml").read_text()
    _open(qtbot, view, root / "data.yaml")
    _show(qtbot, view, "im0.png")
    panel = view.classes
    _click_row(qtbot, panel.list, 0)                                 # crack
    seen: list = []

    def choose_stain(w):
        from PySide6.QtWidgets import QComboBox

        choose(qtbot, w.findChild(QComboBox), "stain")
        qtbot.mouseClick(button(w, "OK"), Qt.LeftButton)
        in_dialog(qtbot, lambda box: qtbot.mouseClick(button(box, "Yes"), Qt.LeftButton), seen)

    in_dialog(qtbot, choose_stain, seen)
    qtbot.mouseClick(button(panel, "Merge into…"), Qt.LeftButton)
    qtbot.waitUntil(lambda: view.project.names == ["dent", "stain"], timeout=30000)
    _show(qtbot, view, "im0.png")
    assert "backup" in seen[-1], seen
    assert panel.list.currentRow() == -1                             # not on the target: no second slip
    assert [ln.split()[0] for ln in (root / "labels" / "im0.txt").read_text().splitlines()] == ["1", "0"]
    qtbot.mouseClick(button(panel, "Merge into…"), Qt.LeftButton)                   # with no class selected: nothing
    qtbot.wait(200)
    assert view.project.names == ["dent", "stain"]
    _drag(qtbot, view, 10, 10, 40, 40)                             # new boxes: what crack became
    qtbot.waitUntil(lambda: len(view.canvas.boxes) == 3, timeout=10000)
    assert view.canvas.boxes[-1].cls == 1
    qtbot.keyClick(view.canvas, Qt.Key_Z, Qt.ControlModifier)
    qtbot.waitUntil(lambda: panel.b_undo.isEnabled())
    in_dialog(qtbot, lambda box: qtbot.mouseClick(button(box, "Yes"), Qt.LeftButton), seen)
    merged = view.project
    qtbot.mouseClick(panel.b_undo, Qt.LeftButton)
    qtbot.waitUntil(lambda: view.project is not merged and view.project.names == ["crack", "dent", "stain"],
                    timeout=30000)   # the dataset reopened as it was
    assert "merge 'crack' into 'stain'" in seen[-1]
    assert {p.name: p.read_bytes() for p in (root / "labels").iterdir()} == before
    assert yaml.safe_load((root / "data.yaml").read_text())["names"] == yaml.safe_load(yaml_before)["names"]


def test_training_a_new_folder_splits_the_judged_images_only(qtbot, view, tmp_path):
    """A folder labelled in part: classes added with the button, boxes drawn, two images marked OK,
    three left alone. Train on this dataset asks for a split, and the split holds the five judged
    images only, with val images that are not train's."""
    from core.data.formats import load_dataset

    folder = _images(tmp_path / "parts", 8)
    _open(qtbot, view, folder)
    _show(qtbot, view, "f0.png")
    for name in ("scratch", "dent"):
        in_dialog(qtbot, type_and_ok(qtbot, name))
        qtbot.mouseClick(button(view.classes, "Add…"), Qt.LeftButton)
        qtbot.waitUntil(lambda: name in view.project.names, timeout=10000)
        wait_active(qtbot, view)
    assert not (folder / "data.yaml").exists()
    for i in range(3):
        _drag(qtbot, view, 10 + i, 10, 50, 40)
        qtbot.keyClick(view.canvas, Qt.Key_1 if i % 2 else Qt.Key_2)
        qtbot.keyClick(view.canvas, Qt.Key_D)
        _show(qtbot, view, f"f{i + 1}.png")
    for i in (3, 4):
        qtbot.keyClick(view.canvas, Qt.Key_O)
        qtbot.keyClick(view.canvas, Qt.Key_D)
        _show(qtbot, view, f"f{i + 1}.png")

    def split(w):
        assert "3 unlabelled or unreadable image(s) left out" in w.info.text(), w.info.text()
        qtbot.mouseClick(button(w, "Write splits"), Qt.LeftButton)

    in_dialog(qtbot, lambda box: (in_dialog(qtbot, split), qtbot.mouseClick(button(box, "OK"), Qt.LeftButton)))
    with qtbot.waitSignal(view.train_requested, timeout=30000) as sig:
        qtbot.mouseClick(button(view, "Train on this dataset"), Qt.LeftButton)
    spec = load_dataset(sig.args[0])
    train = {r.image.name for r in spec.splits["train"]}
    val = {r.image.name for r in spec.splits["val"]}
    assert train | val == {f"f{i}.png" for i in range(5)} and val and not train & val
    assert spec.names == ["scratch", "dent"] and (folder / "classes.txt").read_text() == "scratch\ndent\n"


def test_a_split_that_leaves_val_empty_is_refused_with_the_reason(qtbot, view, tmp_path):
    from app.label.dataset_dialogs import SplitDialog

    folder = _images(tmp_path / "two", 3)
    (folder / "classes.txt").write_text("scratch\n")
    (folder / "f0.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (folder / "f1.txt").write_text("")
    _open(qtbot, view, folder)
    dlg = SplitDialog(view.project, view)
    qtbot.addWidget(dlg)
    assert not dlg.ok.isEnabled() and "val split would be empty" in dlg.info.text()
    dlg.spins["val"].setValue(50)
    assert dlg.ok.isEnabled(), dlg.info.text()
    dlg.spins["val"].setValue(0)
    assert not dlg.ok.isEnabled() and "val" in dlg.info.text()


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
        choose(qtbot, v.models_box, "demo")
        _show(qtbot, v, "frame0.png")
        in_dialog(qtbot, lambda w: qtbot.mouseClick(button(w, "OK"), Qt.LeftButton))   # every class a new one
        qtbot.mouseClick(button(v, "This image"), Qt.LeftButton)
        qtbot.waitUntil(lambda: bool(v.canvas.proposals), timeout=120000)
        wait_active(qtbot, v)
        assert not v.project.names and all(b.score is not None for b in v.canvas.proposals)
        assert "proposal" in v.header.text() and v.item.unreviewed
        qtbot.keyClick(v.canvas, Qt.Key_N)                       # the remapped "next"
        qtbot.waitUntil(lambda: v.item.image.name == "frame1.png")
        qtbot.keyClick(v.canvas, Qt.Key_A)
        qtbot.waitUntil(lambda: v.item.image.name == "frame0.png")
        qtbot.waitUntil(lambda: bool(v.canvas.proposals))        # proposals are kept until decided
    finally:
        v.shutdown()


def test_a_save_over_labels_another_program_changed_names_the_file_and_reloads(qtbot, view, tmp_path):
    """Another process saves the image shown here; Ctrl+S then says which file changed and writes
    nothing; Keep my edits keeps the canvas, Reload shows what is on disk."""
    import subprocess
    import sys

    from test_labels import ROOT

    root = _yolo_set(tmp_path)
    _open(qtbot, view, root / "data.yaml")
    _show(qtbot, view, "im0.png")
    qtbot.keyClick(view.canvas, Qt.Key_D)
    _show(qtbot, view, "im1.png")                       # defect-free, as read
    _drag(qtbot, view, 20, 20, 90, 70)
    theirs = "1 0.500000 0.500000 0.200000 0.200000\n"
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from core.data.annotation import Box; "
            "from core.labels.project import LabelProject; "
            f"p = LabelProject.open({str(root / 'data.yaml')!r}); it = [i for i in p.items if i.image.name == 'im1.png'][0]; "
            "ann, _ = p.load(it, 200, 100); ann.boxes.append(Box(1, 80, 40, 120, 60)); p.save(it, ann)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert (root / "labels" / "im1.txt").read_text() == theirs
    seen: list = []
    in_dialog(qtbot, lambda w: qtbot.mouseClick(button(w, "Keep my edits"), Qt.LeftButton), seen)
    qtbot.keyClick(view.canvas, Qt.Key_S, Qt.ControlModifier)
    qtbot.waitUntil(lambda: bool(seen), timeout=10000)
    assert str(root / "labels" / "im1.txt") in seen[0] and "changed on disk" in seen[0], seen
    assert view.dirty and len(view.canvas.boxes) == 1 and (root / "labels" / "im1.txt").read_text() == theirs
    in_dialog(qtbot, lambda w: qtbot.mouseClick(button(w, "Reload"), Qt.LeftButton), seen)
    qtbot.waitUntil(view.isActiveWindow)      # the window has the keys again once the message closed
    qtbot.keyClick(view.canvas, Qt.Key_S, Qt.ControlModifier)
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=10000)
    _show(qtbot, view, "im1.png")
    qtbot.waitUntil(lambda: not view.dirty and len(view.canvas.boxes) == 1 and view.canvas.boxes[0].cls == 1,
                    timeout=30000)
    assert (root / "labels" / "im1.txt").read_text() == theirs
