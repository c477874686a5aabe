"""Shared test helpers: a small checkpoint and a tiny dataset, written on the fly."""
from pathlib import Path

import yaml

from core.data.synth import CLASSES, write_dataset
from core.model import build_model
from core.model.checkpoint import save_checkpoint


def app_home(tmp_path: Path, monkeypatch, settings: dict | None = None) -> Path:
    """An application folder (SDGAS_HOME) for one test, with ``settings.json`` when given; no
    camera probing at start (a test names its cameras)."""
    import json

    home = Path(tmp_path) / "home"
    monkeypatch.setenv("SDGAS_HOME", str(home))
    monkeypatch.setenv("SDGAS_NO_CAMERA_PROBE", "1")
    if settings is not None:
        home.mkdir(parents=True, exist_ok=True)
        (home / "settings.json").write_text(json.dumps(settings))
    return home


def tiny_weights(folder: Path, imgsz: int = 128, train_args: dict | None = None, name: str = "tiny.pt") -> Path:
    """An untrained checkpoint; ``train_args``: the run settings it says it was trained with."""
    m = build_model("sdgasnet-n", num_classes=len(CLASSES))
    p = Path(folder) / name
    meta = {"names": list(CLASSES), "imgsz": imgsz, "model_config": m.cfg.to_dict()}
    if train_args is not None:
        meta["train_args"] = train_args
    save_checkpoint(p, m.state_dict(), meta)
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
    from PySide6.QtCore import Qt

    in_dialog(qtbot, lambda w: qtbot.mouseClick(button(w, button_text), Qt.LeftButton), seen, timeout_ms)


def record_rows(db) -> list[tuple]:
    """(frame, verdict, error) of each inspection stored in a records file, in order; none while it
    cannot be read yet (a test polls it while the station writes)."""
    import sqlite3

    try:
        con = sqlite3.connect(db)
        try:
            return con.execute("SELECT frame, verdict, error FROM inspections ORDER BY id").fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return []


def button(parent, text: str):
    """The push button under ``parent`` labelled ``text`` (mnemonic '&' aside)."""
    from PySide6.QtWidgets import QAbstractButton

    found = [b for b in parent.findChildren(QAbstractButton) if b.text().replace("&", "") == text]
    assert found, f"no button '{text}' in {[b.text() for b in parent.findChildren(QAbstractButton)]}"
    return found[0]


def in_dialog(qtbot, act, seen: list | None = None, timeout_ms: int = 60000):
    """When the next modal dialog opens, call ``act(dialog)`` (which clicks and types in it like a
    person); ``seen`` gets the dialog's text or title. Call before the action that opens it."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    waited = [0]

    def poll():
        w = QApplication.activeModalWidget()
        if w is None or not w.isVisible():
            waited[0] += 50
            if waited[0] < timeout_ms:
                QTimer.singleShot(50, poll)
            return
        if seen is not None:
            seen.append(w.text() if isinstance(w, QMessageBox) else w.windowTitle())
        owner = w.parentWidget().window() if w.parentWidget() is not None else None
        try:
            act(w)
        except Exception as e:  # noqa: BLE001 - the test fails on what it finds, not on a dialog left open
            if seen is not None:
                seen.append(f"{type(e).__name__}: {e}")
            w.reject() if hasattr(w, "reject") else w.close()
        if owner is not None:
            _reactivate(owner, w)

    QTimer.singleShot(50, poll)


def _reactivate(owner, dialog, waited: int = 0):
    """The offscreen platform does not give a window back its activation when a dialog or popup on
    it closes (a desktop does): without it no shortcut would reach the window."""
    from PySide6.QtCore import QTimer

    try:
        if dialog is not None and dialog.isVisible():
            if waited < 60000:
                QTimer.singleShot(20, lambda: _reactivate(owner, dialog, waited + 20))
            return
    except RuntimeError:   # the dialog object is gone: it closed
        pass
    owner.activateWindow()


def type_and_ok(qtbot, text: str, ok: str = "OK"):
    """An ``in_dialog`` action for an input dialog: type ``text`` into its field, click ``ok``."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QLineEdit

    def act(w):
        edit = w.findChild(QLineEdit)
        edit.selectAll()
        qtbot.keyClicks(edit, text)
        qtbot.mouseClick(button(w, ok), Qt.LeftButton)

    return act


def choose(qtbot, combo, text: str):
    """Pick ``text`` in a combo box as a person does: open its list, click the entry."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    i = combo.findText(text)
    assert i >= 0, f"'{text}' is not among {[combo.itemText(k) for k in range(combo.count())]}"
    combo.showPopup()
    view = combo.view()
    qtbot.waitUntil(view.isVisible, timeout=5000)
    idx = view.model().index(i, 0)
    view.scrollTo(idx)
    qtbot.mouseClick(view.viewport(), Qt.LeftButton, pos=view.visualRect(idx).center())
    qtbot.waitUntil(lambda: combo.currentText() == text and not view.isVisible(), timeout=5000)
    _reactivate(combo.window(), None)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is combo.window(), timeout=5000)


def wait_active(qtbot, widget, timeout_ms: int = 5000):
    """Until ``widget``'s window is the active one (keys go to it), as a desktop makes it when the
    dialogs and popups on it have closed (the offscreen platform leaves no window active)."""
    from PySide6.QtWidgets import QApplication

    def active():
        if QApplication.activeWindow() is None and QApplication.activeModalWidget() is None:
            widget.window().activateWindow()
        return QApplication.activeWindow() is widget.window()

    qtbot.waitUntil(active, timeout=timeout_ms)


def open_weights(qtbot, live, path, monkeypatch):
    """'Open weights…' in the live view, its file dialog answering ``path``."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(path), "")))
    with qtbot.waitSignal(live.models.loader.loaded, timeout=60000):
        qtbot.mouseClick(live.models.btn_open, Qt.LeftButton)


def action(w, text):
    """The main window's menu action called ``text`` (what a menu click triggers)."""
    for a in w.findChildren(type(w.menuBar().actions()[0])):
        if a.text().replace("&", "") == text:
            return a
    raise KeyError(text)
