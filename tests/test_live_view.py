"""The live view's smaller promises, each driven through its widgets: the frame fits again after a
message, the model in use is named with its runtime, a recipe chosen while paused judges the frame
in view again, a run's line warnings end with it, Line connections tests what is typed, the history
names models and shows local time, and charts read in plain units."""
import datetime as dt
import socket
import sqlite3

import numpy as np
import pytest
from PySide6.QtCore import Qt

pytest.importorskip("pytestqt")

from helpers import action, app_home, button, choose, in_dialog, open_weights, tiny_weights  # noqa: E402


@pytest.fixture
def home(tmp_path, monkeypatch):
    return app_home(tmp_path, monkeypatch, {"weights": "", "fastest_runtime": False, "demo_fps": 20})


def frame_fully_shown(view) -> bool:
    """The whole frame lies inside the viewport, and fills it along one side (fitted)."""
    r = view.mapFromScene(view.pixmap.sceneBoundingRect()).boundingRect()
    vp = view.viewport().rect()
    inside = vp.adjusted(-2, -2, 2, 2).contains(r)
    return inside and (r.width() >= vp.width() - 4 or r.height() >= vp.height() - 4)


def test_the_frame_after_a_message_is_fitted_whole_and_snapshots_are_whole(qtbot, window, tmp_path, monkeypatch, home):
    live = window.live
    open_weights(qtbot, live, tiny_weights(tmp_path, 64), monkeypatch)
    live.source_box.setCurrentText("demo")
    qtbot.mouseClick(live.btn_start, Qt.LeftButton)
    qtbot.waitUntil(lambda: live.last_result is not None, timeout=30000)
    assert frame_fully_shown(live.frames.view)
    qtbot.mouseClick(live.btn_start, Qt.LeftButton)                   # Stop
    qtbot.waitUntil(lambda: live.btn_start.text() == "Start" and live.btn_start.isEnabled(), timeout=5000)
    (tmp_path / "other").mkdir()
    open_weights(qtbot, live, tiny_weights(tmp_path / "other", 64), monkeypatch)   # "Model ready." takes the view
    assert live.frames.view.message.isVisible()
    qtbot.mouseClick(live.btn_start, Qt.LeftButton)
    first = live.ctrl.snapshot().total
    qtbot.waitUntil(lambda: live.ctrl.snapshot().total > first + 2, timeout=30000)
    qtbot.wait(300)
    assert not live.frames.view.message.isVisible()
    assert frame_fully_shown(live.frames.view), "the frame after a message is drawn zoomed and cropped"
    qtbot.mouseDClick(live.frames.view.viewport(), Qt.LeftButton)           # double-click: fit
    assert frame_fully_shown(live.frames.view)
    qtbot.mouseClick(live.btn_snap, Qt.LeftButton)
    qtbot.mouseClick(live.btn_start, Qt.LeftButton)
    views = sorted((home / "snapshots").glob("*_view.png"))
    import cv2

    img = cv2.imread(str(views[-1]))
    h, w = live.last_result.frame.image.shape[:2]
    assert img.shape[:2] == (h, w), "the snapshot is the whole frame, at its own size"


def test_the_model_box_names_the_model_that_judges_and_its_runtime(qtbot, window):
    """`default` on the demo line is the demo model: the box and the label say so, with the runtime."""
    live = window.live
    live.source_box.setCurrentText("demo")
    qtbot.waitUntil(lambda: live.models.box.findText("default") >= 0, timeout=30000)
    with qtbot.waitSignal(live.models.loader.loaded, timeout=60000):
        choose(qtbot, live.models.box, "default")
    qtbot.waitUntil(lambda: live.models.box.currentText() == "demo", timeout=10000)
    text = live.models.label.text()
    assert "demo" in text and "demo.pt" in text and "runtime: <b>PyTorch fp32</b> on cpu" in text
    assert "demo.pt" in live.models.box.toolTip()


def test_a_recipe_chosen_while_paused_judges_the_frame_in_view_again(qtbot, window, tmp_path, monkeypatch, home):
    from core.inspect.recipe import Recipe, RecipeStore
    from core.settings import recipes_dir

    store = RecipeStore(recipes_dir())
    store.save(Recipe("everything-counts", conf=0.0))    # any box is a defect: NG
    store.save(Recipe("lenient", conf=0.99))             # a random model's boxes never reach it: OK
    live = window.live
    live.recipes.refresh()
    live.recipes.box.setCurrentText("lenient")
    open_weights(qtbot, live, tiny_weights(tmp_path, 64), monkeypatch)
    live.source_box.setCurrentText("demo")
    qtbot.mouseClick(live.btn_start, Qt.LeftButton)
    qtbot.waitUntil(lambda: live.last_result is not None and live.panel.banner.verdict == "OK", timeout=30000)
    qtbot.mouseClick(live.btn_pause, Qt.LeftButton)
    qtbot.wait(800)          # a last frame in hand is judged and drawn
    frame = live.last_result.frame.name
    n = live.ctrl.snapshot().total
    live.recipes.box.setFocus()
    qtbot.keyClicks(live.recipes.box, "everything")       # the operator picks it from the list by typing
    assert live.recipes.box.currentText() == "everything-counts"
    qtbot.waitUntil(lambda: live.panel.banner.verdict == "NG", timeout=10000)
    assert live.last_result.frame.name == frame and "judged again" in live.panel.banner.text()
    assert live.ctrl.snapshot().total == n, "judging again is not a new inspection"
    qtbot.mouseClick(live.btn_start, Qt.LeftButton)
    qtbot.waitUntil(lambda: live.btn_start.text() == "Start" and live.btn_start.isEnabled(), timeout=5000)
    con = sqlite3.connect(home / "records.sqlite")
    assert con.execute("SELECT COUNT(*) FROM inspections").fetchone()[0] == live.ctrl.snapshot().total


def test_a_line_warning_ends_with_its_run(qtbot, window, tmp_path, monkeypatch, home):
    from servers import free_port

    live = window.live
    open_weights(qtbot, live, tiny_weights(tmp_path, 64), monkeypatch)
    live.settings["mqtt"] = f"mqtt://op:s3cret@127.0.0.1:{free_port()}/line/results"     # no broker there
    live.source_box.setCurrentText("demo")
    qtbot.mouseClick(live.btn_start, Qt.LeftButton)
    qtbot.waitUntil(lambda: "mqtt" in live.panel.outputs_label.text() and "unreachable" in live.panel.outputs_label.text(),
                    timeout=30000)
    qtbot.mouseClick(live.btn_start, Qt.LeftButton)
    qtbot.wait(1200)                                      # plot refreshes come and go
    assert live.panel.outputs_label.text() == "" and "mqtt" not in live.panel.error_label.text()
    con = sqlite3.connect(home / "records.sqlite")
    audit = " ".join(str(r) for r in con.execute("SELECT * FROM audit"))
    con.close()
    assert "mqtt://op@127.0.0.1" in audit and "s3cret" not in audit, "a password reached the records"


def test_line_connections_test_what_is_typed_against_real_servers(qtbot, window, tmp_path):
    """Test connection: a real broker answers, a closed port does not, a taken OPC UA port is named,
    an existing records file is recognised; nothing is saved by testing."""
    from servers import Mosquitto, free_port

    broker = Mosquitto(tmp_path / "mqtt")
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    db = tmp_path / "r.sqlite"
    from core.inspect.records import RecordsWriter

    RecordsWriter(str(db)).close()
    seen = {}

    def use(dlg):
        dlg.db.clear()
        qtbot.keyClicks(dlg.db, str(db))
        qtbot.keyClicks(dlg.opcua, f"opc.tcp://127.0.0.1:{taken.getsockname()[1]}")
        qtbot.keyClicks(dlg.mqtt, f"mqtt://127.0.0.1:{broker.port}/line/results")
        qtbot.mouseClick(dlg.btn_test, Qt.LeftButton)
        qtbot.waitUntil(lambda: "MQTT" in dlg.test_result.text(), timeout=20000)
        seen["good"] = dlg.test_result.text()
        dlg.mqtt.clear()
        qtbot.keyClicks(dlg.mqtt, f"mqtt://127.0.0.1:{free_port()}/line/results")
        qtbot.mouseClick(dlg.btn_test, Qt.LeftButton)
        qtbot.waitUntil(lambda: dlg.btn_test.isEnabled() and "no broker" in dlg.test_result.text(), timeout=20000)
        seen["bad"] = dlg.test_result.text()
        qtbot.mouseClick(button(dlg, "Cancel"), Qt.LeftButton)

    problems = []
    try:
        in_dialog(qtbot, use, problems)
        action(window, "Line connections…").trigger()
        assert not [p for p in problems if "Error" in p], problems
    finally:
        broker.stop()
        taken.close()
    good, bad = seen["good"], seen["bad"]
    assert "✔ <b>MQTT</b>" in good and "line/results" in good
    assert "✘ <b>OPC UA</b>" in good and "in use" in good
    assert "✔ <b>records</b>" in good and "records file of this program" in good
    assert "✘ <b>MQTT</b>" in bad
    assert window.settings["mqtt"] == "", "testing saves nothing"


def test_history_names_models_and_shows_local_time(qtbot, window, tmp_path, monkeypatch, home):
    from app.live.line_dialog import AuditDialog

    live = window.live
    live.source_box.setCurrentText("demo")
    qtbot.waitUntil(lambda: live.models.box.findText("demo") >= 0, timeout=30000)
    with qtbot.waitSignal(live.models.loader.loaded, timeout=60000):
        choose(qtbot, live.models.box, "demo")
    qtbot.mouseClick(live.btn_start, Qt.LeftButton)
    qtbot.waitUntil(lambda: live.ctrl.snapshot().total >= 1, timeout=60000)
    qtbot.mouseClick(live.btn_start, Qt.LeftButton)
    qtbot.waitUntil(lambda: live.btn_start.text() == "Start" and live.btn_start.isEnabled(), timeout=5000)
    # a row from before records named models: the architecture and the hash only
    con = sqlite3.connect(home / "records.sqlite")
    h = live.models.detector.checkpoint["hash"][:12]
    con.execute("INSERT INTO audit (ts, user, line, what, old_value, new_value) VALUES "
                "('2026-01-02T03:04:05.000+00:00', 'x', NULL, 'model', NULL, ?)", (f"sdgasnet-n:{h}",))
    con.commit()
    con.close()
    seen = []
    monkeypatch.setattr(AuditDialog, "exec", lambda self: seen.append(self) or 0)
    action(window, "History of changes…").trigger()
    qtbot.waitUntil(lambda: bool(seen), timeout=20000)
    t = seen[0].table
    rows = [[t.item(i, j).text() for j in range(6)] for i in range(t.rowCount())]
    models = [r for r in rows if r[3] == "model"]
    assert models and all(r[5].startswith("demo (") and h in r[5] for r in models), models
    local = dt.datetime.fromisoformat("2026-01-02T03:04:05+00:00").astimezone().strftime("%Y-%m-%d %H:%M:%S")
    assert any(r[0] == local for r in rows)
    assert all("T" not in r[0] for r in rows), "times are shown as local time, not UTC ISO"
    assert t.horizontalHeaderItem(0).text() == "when (local time)"


def test_short_runs_show_a_rolling_yield_and_charts_use_plain_units(qtbot):
    from app.live.panels import Plots, rolling_yield
    from core.inspect.pipeline import StatsSnapshot

    assert list(rolling_yield(np.array([1.0, 0.0, 1.0, 1.0]), window=50)) == [100.0, 50.0, 200 / 3, 75.0]
    assert rolling_yield(np.ones(60), 50)[-1] == 100.0
    p = Plots()
    qtbot.addWidget(p)
    p.resize(600, 400)
    p.show()
    import time

    now = time.monotonic()
    times = tuple((now - 0.2 + i * 0.01, 5.0, "OK" if i % 4 else "NG") for i in range(20))   # a 20-part folder
    p.update_from(StatsSnapshot(20, 15, 5, 0, {}, times, {}, 0.0))
    x, y = p.yield_curve.getData()
    assert len(x) == 20 and y[-1] == 75.0
    for plot in (p.rate, p.latency, p.yield_plot, p.pareto):
        for side in ("left", "bottom"):
            assert not plot.getAxis(side).autoSIPrefix, "no '(x0.001)' scaling of units"
