"""Industrial cameras in the live view, on emulated devices: the camera picker, the camera settings
dialog with its live preview, and a station of two cameras side by side. Real widgets, mouse and keys."""
import json
import time
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")
pytest.importorskip("pypylon")
genicam = pytest.importorskip("genicam")

from PySide6.QtCore import Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QPushButton  # noqa: E402

from helpers import tiny_weights  # noqa: E402


@pytest.fixture
def home(tmp_path, monkeypatch):
    """The window's application folder, with two emulated Basler cameras and the GenTL producer."""
    from helpers import app_home

    monkeypatch.setenv("PYLON_CAMEMU", "2")
    monkeypatch.setenv("GENICAM_GENTL64_PATH", str(Path(genicam.__file__).parent))
    return app_home(tmp_path, monkeypatch, {"weights": ""})


def in_modal(qtbot, act, timeout_s=30):
    """Run ``act(dialog)`` once the next modal dialog is open (call before what opens it)."""
    end = time.time() + timeout_s

    def poll():
        w = QApplication.activeModalWidget()
        if w is None and time.time() < end:
            QTimer.singleShot(50, poll)
        elif w is not None:
            act(w)

    QTimer.singleShot(50, poll)


def _button(dlg, text):
    return next(b for b in dlg.findChildren(QPushButton) if b.text().replace("&", "").startswith(text))


def test_the_camera_picker_lists_emulated_cameras_and_sets_the_source(qtbot, window):
    live = window.live

    def choose(dlg):
        qtbot.waitUntil(lambda: dlg.list.count() >= 5, timeout=20000)   # 2 Basler, 3 GenTL
        items = [dlg.list.item(i).text() for i in range(dlg.list.count())]
        row = next(i for i, t in enumerate(items) if t.startswith("pylon://0815-0001"))
        r = dlg.list.visualItemRect(dlg.list.item(row))
        qtbot.mouseClick(dlg.list.viewport(), Qt.LeftButton, pos=r.center())
        dlg.mode.setCurrentIndex(1)          # software trigger
        qtbot.mouseClick(_button(dlg, "OK"), Qt.LeftButton)

    in_modal(qtbot, choose)
    qtbot.mouseClick(live.btn_camera, Qt.LeftButton)
    assert live.source_box.currentText() == "pylon://0815-0001?trigger=software"


def test_camera_settings_preview_write_read_back_and_save_to_the_recipe(qtbot, window):
    """Exposure typed in is written to the camera and read back; read-only and absent features are
    shown as such; Save puts the camera's values into the recipe file."""
    from core.inspect.recipe import RecipeStore
    from core.settings import recipes_dir

    live = window.live
    live.source_box.setCurrentText("pylon://0815-0000?trigger=software")
    seen = {}

    def adjust(dlg):
        qtbot.waitUntil(lambda: dlg.table.rowCount() > 10 and "edit_ExposureTime" in
                        [e.objectName() for e in dlg._editors.values()], timeout=20000)
        qtbot.waitUntil(lambda: not dlg.view.pixmap.pixmap().isNull(), timeout=20000)   # live preview
        rows = {dlg.table.item(i, 0).text(): i for i in range(dlg.table.rowCount())}
        seen["SensorWidth"] = dlg.table.item(rows["SensorWidth"], 2).text()
        seen["DeviceSerialNumber"] = dlg.table.item(rows["DeviceSerialNumber"], 2).text()
        ed = dlg._editors["ExposureTime"]
        ed.setFocus()
        ed.selectAll()
        qtbot.keyClicks(ed, "2500")
        qtbot.keyClick(ed, Qt.Key_Return)
        qtbot.waitUntil(lambda: dict((n, v) for n, v, _ in dlg._shown).get("ExposureTime") == 2500.0, timeout=10000)
        cam = dlg.preview.source.device.cam          # what pylon itself says
        seen["pylon"] = cam.ExposureTime.Value
        w = dlg._editors["Width"]
        w.setFocus()
        w.selectAll()
        qtbot.keyClicks(w, "512")
        qtbot.keyClick(w, Qt.Key_Return)
        qtbot.waitUntil(lambda: dlg.view.pixmap.pixmap().width() == 512, timeout=10000)
        qtbot.mouseClick(_button(dlg, "Save to recipe"), Qt.LeftButton)

    in_modal(qtbot, adjust)
    qtbot.mouseClick(live.btn_camera_settings, Qt.LeftButton)
    assert seen["pylon"] == 2500.0
    assert seen["SensorWidth"] == "read-only" and seen["DeviceSerialNumber"] == "not on this camera"
    saved = RecipeStore(recipes_dir()).load(live.recipes.current.name)
    assert saved.camera == {"ExposureTime": 2500.0, "Width": 512}


def test_camera_settings_on_a_camera_that_is_not_there_says_so(qtbot, window):
    live = window.live
    live.source_box.setCurrentText("pylon://NOT-THERE")
    seen = {}

    def look(dlg):
        qtbot.waitUntil(lambda: "Cannot open" in dlg.view.message.text(), timeout=20000)
        seen["msg"] = dlg.status.text()
        qtbot.mouseClick(_button(dlg, "Cancel"), Qt.LeftButton)

    in_modal(qtbot, look)
    qtbot.mouseClick(live.btn_camera_settings, Qt.LeftButton)
    assert "no such camera" in seen["msg"]


def test_a_station_of_two_cameras_shows_its_views_side_by_side(qtbot, window, tmp_path):
    live = window.live
    with qtbot.waitSignal(live.models.loader.loaded, timeout=60000):
        live.models.load(str(tiny_weights(tmp_path, imgsz=64)))
    st = tmp_path / "station.json"
    st.write_text(json.dumps({"views": [{"name": "top", "source": "pylon://0815-0000"},
                                        {"name": "bottom", "source": "genicam://2"}]}))
    live.source_box.setCurrentText(str(st))
    qtbot.mouseClick(live.btn_start, Qt.LeftButton)
    qtbot.waitUntil(lambda: live.frames.parts.isVisible() and len(live.frames.parts.frames) == 2
                    and not live.frames.parts.frames[1].pixmap.pixmap().isNull(), timeout=30000)
    assert not live.frames.view.isVisible()
    texts = [lb.text() for lb in live.frames.parts.labels]
    assert texts[0].startswith("top: OK") and texts[1].startswith("bottom: OK")
    assert live.frames.parts.frames[0].pixmap.pixmap().width() == 1024 and live.frames.parts.frames[1].pixmap.pixmap().width() == 400
    qtbot.mouseClick(live.btn_start, Qt.LeftButton)      # Stop
    qtbot.waitUntil(lambda: not live.ctrl.running(), timeout=20000)
