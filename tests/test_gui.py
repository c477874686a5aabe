"""The desktop application, offscreen: the live view with the demo line, errors, no model."""
import os
import sqlite3
import sys

import cv2
import pytest

pytest.importorskip("pytestqt")

from helpers import tiny_weights  # noqa: E402


@pytest.fixture
def fresh_home(tmp_path, monkeypatch):
    """An application folder as on first start: no settings yet."""
    monkeypatch.setenv("SDGAS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SDGAS_NO_CAMERA_PROBE", "1")
    return tmp_path / "home"


@pytest.fixture
def home(fresh_home):
    """An application folder whose settings choose no model (tests load their own)."""
    fresh_home.mkdir(parents=True, exist_ok=True)
    # no export in the background: these tests are not about the runtime (tests/test_fastest_runtime.py is)
    (fresh_home / "settings.json").write_text('{"weights": "", "fastest_runtime": false}')
    return fresh_home


def load(qtbot, w, path):
    """'Open weights…' and its file dialog, as the operator does it."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QFileDialog

    orig = QFileDialog.getOpenFileName
    QFileDialog.getOpenFileName = staticmethod(lambda *a, **k: (str(path), ""))
    try:
        with qtbot.waitSignal(w.live.models.loader.loaded, timeout=60000):
            qtbot.mouseClick(w.live.models.btn_open, Qt.LeftButton)
    finally:
        QFileDialog.getOpenFileName = orig


def click(qtbot, button):
    from PySide6.QtCore import Qt

    qtbot.mouseClick(button, Qt.LeftButton)


def edit_recipe_conf(qtbot, live, value: str):
    """'Edit recipe…', type the default threshold, Save."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication, QDialogButtonBox

    def edit():
        dlg = QApplication.activeModalWidget()
        if dlg is None:
            QTimer.singleShot(50, edit)
            return
        dlg.conf.selectAll()
        qtbot.keyClicks(dlg.conf, value)
        save = dlg.findChild(QDialogButtonBox).button(QDialogButtonBox.Save)
        qtbot.mouseClick(save, Qt.LeftButton)

    QTimer.singleShot(50, edit)
    qtbot.mouseClick(live.recipes.btn_edit, Qt.LeftButton)


def stop(qtbot, live):
    click(qtbot, live.btn_start)
    qtbot.waitUntil(lambda: live.btn_start.text() == "Start" and live.btn_start.isEnabled(), timeout=10000)


_REFCOUNT_PROBE = """
import gc, sys
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QApplication, QGraphicsSimpleTextItem
app = QApplication([])
item, font, color = QGraphicsSimpleTextItem("x"), QFont(), QColor(1, 2, 3)
gc.collect()
gc.disable()
before = sys.getrefcount(None)
for _ in range({n}):
    item.setFont(font)
    item.setBrush(color)
print(before - sys.getrefcount(None))
"""


@pytest.mark.slow
def test_pyside_does_not_corrupt_none_refcount():
    """PySide6 6.12.0 decremented None on every QGraphicsSimpleTextItem.setFont (crash after
    a few thousand overlay labels); the pinned version must not. In a process of its own: in the
    suite's, a collection of earlier tests' garbage once freed references to None inside the loop."""
    import subprocess

    n = 20000
    r = subprocess.run([sys.executable, "-c", _REFCOUNT_PROBE.format(n=n)], capture_output=True, text=True,
                       timeout=120, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert r.returncode == 0, r.stderr[-2000:]
    lost = int(r.stdout.strip().splitlines()[-1])
    assert lost < n // 4, f"{lost} references to None lost in {n} calls"   # the bug loses 2 per call


def test_opens_without_model_and_says_so(window):
    assert "No model chosen" in window.live.frames.view.message.text()
    assert not window.live.btn_start.isEnabled()
    assert window.windowTitle() == "SD-GASNet Inspector"


def test_first_start_loads_the_bundled_demo_model(qtbot, fresh_home):
    """A newcomer's first start: the demo line is the source and its bundled model loads by itself."""
    from app.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    with qtbot.waitSignal(w.live.models.loader.loaded, timeout=60000) as sig:
        w.show()
    try:
        assert sig.args[1].endswith("demo.pt")
        assert "demo.pt" in w.live.models.label.text() and w.live.btn_start.isEnabled()
        assert w.settings["weights"] == "default"  # remembered by name: it follows the source
    finally:
        w.live.shutdown()


def test_missing_model_file_is_a_visible_error(qtbot, window, tmp_path):
    with qtbot.waitSignal(window.live.models.loader.failed, timeout=30000):
        window.live.models.load(str(tmp_path / "missing.pt"))
    assert "missing.pt" in window.live.panel.error_label.text()
    assert window.live.models.detector is None and window.isVisible()


def test_demo_runs_counters_plots_and_records(qtbot, window, tmp_path, home):
    load(qtbot, window, tiny_weights(tmp_path))
    window.live.settings["demo_fps"] = 0.0  # unpaced: every frame judged
    window.live.source_box.setCurrentText("demo")
    click(qtbot, window.live.btn_start)
    assert window.live.btn_start.text() == "Stop"
    qtbot.waitUntil(lambda: window.live.ctrl.snapshot().total >= 8, timeout=60000)
    qtbot.waitUntil(lambda: window.live.last_result is not None, timeout=10000)
    qtbot.wait(700)  # a plot refresh
    click(qtbot, window.live.btn_pause)
    assert window.live.btn_step.isEnabled()
    counters = window.live.panel.counters.values
    assert int(counters["Total"].text()) >= 8
    assert window.live.panel.plots.n_updates > 0
    assert len(window.live.panel.plots.lat_curve.getData()[0]) > 1
    assert window.live.panel.banner.verdict in ("OK", "NG", "PAUSED")
    click(qtbot, window.live.btn_snap)
    stop(qtbot, window.live)
    n = sqlite3.connect(home / "records.sqlite").execute("select count(*) from inspections").fetchone()[0]
    assert n >= 8
    assert list((home / "snapshots").glob("*_raw.png"))


def test_bad_source_and_corrupt_folder_stay_up(qtbot, window, tmp_path):
    load(qtbot, window, tiny_weights(tmp_path))
    window.live.source_box.setCurrentText(str(tmp_path / "no_such_folder"))
    click(qtbot, window.live.btn_start)
    assert window.live.btn_start.text() == "Start"
    assert "no_such_folder" in window.live.panel.error_label.text()
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "broken.png").write_bytes(b"\x89PNG broken")
    from core.data.synth import make_image

    cv2.imwrite(str(folder / "z_good.png"), make_image(0, (64, 64))[0])
    window.live.settings["watch_folder"] = False
    window.live.source_box.setCurrentText(str(folder))
    click(qtbot, window.live.btn_start)
    assert window.live.btn_start.text() == "Stop"
    qtbot.waitUntil(lambda: window.live.ctrl.snapshot() is not None and window.live.ctrl.snapshot().total >= 2, timeout=30000)
    qtbot.waitUntil(lambda: "broken.png" in " ".join(window.live.errors + [window.live.panel.error_label.text()])
                    or window.live.ctrl.snapshot().error >= 1, timeout=10000)
    assert window.live.ctrl.snapshot().error == 1
    assert window.isVisible()


def test_settings_persist(qtbot, home, tmp_path):
    from app.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.live.source_box.setCurrentText(str(tmp_path))
    w.live.cb_labels.setChecked(False)
    w.live.settings["source"] = str(tmp_path)
    w.close()
    w2 = MainWindow()
    qtbot.addWidget(w2)
    assert w2.settings["show_labels"] is False and w2.settings["source"] == str(tmp_path)
    w2.close()


def test_line_connections_show_their_state_and_the_history_lists_changes(qtbot, window, tmp_path, home):
    """A broker set in Line connections: its state shows beside the counters; the history dialog
    lists the model, recipe and outputs in force, and a threshold changed while running."""
    from servers import Mosquitto

    from PySide6.QtGui import QAction

    from app.live.line_dialog import AuditDialog

    broker = Mosquitto(tmp_path / "mqtt")
    try:
        load(qtbot, window, tiny_weights(tmp_path))
        live = window.live
        live.settings["mqtt"] = f"mqtt://127.0.0.1:{broker.port}/line/results"
        live.settings["line"] = "line-7"
        live.source_box.setCurrentText("demo")
        click(qtbot, live.btn_start)
        qtbot.waitUntil(lambda: "connected, " in live.panel.outputs_label.text(), timeout=30000)
        assert "mqtt mqtt://127.0.0.1" in live.panel.outputs_label.text()
        edit_recipe_conf(qtbot, live, "0.7")     # a threshold changed in the recipe editor while running
        assert live.recipes.current.conf == 0.7
        qtbot.wait(300)
        stop(qtbot, live)
        shown = []
        orig = AuditDialog.exec
        AuditDialog.exec = lambda self: shown.append(self) or 0
        try:
            next(a for a in window.findChildren(QAction) if a.text() == "History of changes…").trigger()
            qtbot.waitUntil(lambda: bool(shown), timeout=10000)
        finally:
            AuditDialog.exec = orig
        t = shown[0].table
        whats = [t.item(i, 3).text() for i in range(t.rowCount())]
        assert {"model", "recipe", "outputs"} <= set(whats) and whats.count("recipe") == 2
        assert all(t.item(i, 2).text() == "line-7" for i in range(t.rowCount()))
    finally:
        broker.stop()


def test_defects_per_class_names_whole_classes(qtbot):
    """The Pareto's axis names every class readably (it once cut them to 12 characters)."""
    from app.live.panels import Plots
    from core.inspect.pipeline import StatsSnapshot

    p = Plots()
    qtbot.addWidget(p)
    p.resize(500, 400)
    p.show()
    per_class = {"rolled-in_scale": 3, "pitted_surface": 9, "a_class_name_far_too_long_to_show": 1}
    p.update_from(StatsSnapshot(13, 0, 13, 0, per_class, (), {}, 0.0))
    ticks = [t for _, t in p.pareto.getAxis("left")._tickLevels[0]]
    assert ticks == ["pitted surface", "rolled-in scale", "a class name fa…"]  # most frequent first
    assert p.pareto.getAxis("left").width() <= p.pareto.width() // 2
