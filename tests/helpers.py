"""Shared test helpers: a small checkpoint and a tiny dataset, written on the fly."""
from pathlib import Path

import yaml

from core.data.synth import CLASSES, write_dataset
from core.model import build_model
from core.model.checkpoint import save_checkpoint


def tiny_weights(folder: Path, imgsz: int = 128) -> Path:
    m = build_model("sdgasnet-n", num_classes=len(CLASSES))
    p = Path(folder) / "tiny.pt"
    save_checkpoint(p, m.state_dict(), {"names": list(CLASSES), "imgsz": imgsz, "model_config": m.cfg.to_dict()})
    return p


def tiny_data(tmp_path, n=8, size=(128, 128), val_is_train=True, classes=(2, 5)):
    classes = list(classes)
    """A YOLO dataset of ``n`` synthetic images; its val split is the train split unless told."""
    d = write_dataset(Path(tmp_path) / "data", n, 0 if val_is_train else 4, "yolo", size=size, n_defects=(1, 2),
                      classes=list(classes))
    cfg = yaml.safe_load(d.read_text())
    if val_is_train:
        cfg["val"] = cfg["train"]
    d.write_text(yaml.safe_dump(cfg))
    return str(d)


def fake_run(root: Path, name: str, data: str, map50: float, weights: Path) -> Path:
    """A finished teacher run folder as the trainer leaves it: args, events, weights/best.pt."""
    import json
    import shutil
    import time

    run = Path(root) / name
    (run / "weights").mkdir(parents=True)
    shutil.copy(weights, run / "weights" / "best.pt")
    (run / "args.yaml").write_text(yaml.safe_dump({"data": data, "epochs": 3, "imgsz": 64, "model": "sdgasnet-n"}))
    t = time.time() - 60
    events = [{"event": "start", "epoch": 0, "epochs": 3, "time": t},
              {"event": "checkpoint", "epoch": 3, "best": True, "map50": map50, "map50_95": map50 / 2, "time": t + 1},
              {"event": "end", "epoch": 3, "status": "finished", "time": t + 2}]
    (run / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    return run


def click_in_dialog(qtbot, button_text: str, seen: list | None = None, timeout_ms: int = 60000):
    """When the next modal dialog opens, click its button labelled ``button_text`` with the mouse
    (``seen`` gets the dialog's text). Call before the action that opens it."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QAbstractButton, QApplication, QMessageBox

    waited = [0]

    def poll():
        w = QApplication.activeModalWidget()
        if w is None:
            waited[0] += 50
            if waited[0] < timeout_ms:
                QTimer.singleShot(50, poll)
            return
        if seen is not None:
            seen.append(w.text() if isinstance(w, QMessageBox) else w.windowTitle())
        for b in w.findChildren(QAbstractButton):
            if b.text().replace("&", "") == button_text:
                qtbot.mouseClick(b, Qt.LeftButton)
                return
        if seen is not None:   # the test fails on what it finds, not by waiting on a dialog no one closes
            seen.append(f"no button '{button_text}' in {[b.text() for b in w.findChildren(QAbstractButton)]}")
        w.reject() if hasattr(w, "reject") else w.close()

    QTimer.singleShot(50, poll)


def open_weights(qtbot, live, path, monkeypatch):
    """'Open weights…' in the live view, its file dialog answering ``path``."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(path), "")))
    with qtbot.waitSignal(live.loader.loaded, timeout=60000):
        qtbot.mouseClick(live.btn_model, Qt.LeftButton)


def choose(qtbot, combo, text):
    """Open the list with the mouse and click the item ``text``."""
    from PySide6.QtCore import Qt

    i = combo.findText(text)
    assert i >= 0, f"{text} not in {[combo.itemText(k) for k in range(combo.count())]}"
    qtbot.mouseClick(combo, Qt.LeftButton)
    view = combo.view()
    qtbot.waitUntil(view.isVisible, timeout=5000)
    qtbot.wait(600)          # Qt ignores a release sooner than a double-click interval after the list opened
    rect = view.visualRect(combo.model().index(i, 0))
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=rect.center())
    qtbot.waitUntil(lambda: not view.isVisible(), timeout=5000)


def action(w, text):
    """The main window's menu action called ``text`` (what a menu click triggers)."""
    for a in w.findChildren(type(w.menuBar().actions()[0])):
        if a.text().replace("&", "") == text:
            return a
    raise KeyError(text)


def when_modal(qtbot, fn, timeout_ms=30000):
    """Run ``fn(dialog)`` once the next modal dialog is open (call before what opens it)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    waited = [0]

    def poll():
        w = QApplication.activeModalWidget()
        if w is None:
            waited[0] += 50
            if waited[0] < timeout_ms:
                QTimer.singleShot(50, poll)
            return
        try:
            fn(w)
        finally:
            if w.isVisible():
                w.reject()

    QTimer.singleShot(50, poll)
