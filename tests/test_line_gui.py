"""The live view's Line connections for a PLC on Modbus TCP, walked as a user: the menu opens the dialog,
the address is typed in and saved with the mouse, Start serves it, and a PLC from another stack
(modbus-serial, tests/plc_node) triggers the station and reads its results."""
import shutil
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from helpers import click_in_dialog, tiny_weights  # noqa: E402
from servers import free_port  # noqa: E402
from test_plc import PLC, run_plc  # noqa: E402


def _menu_action(window, text):
    from PySide6.QtGui import QAction

    return next(a for a in window.findChildren(QAction) if a.text() == text)


def _fill_line_dialog(qtbot, fields: dict, seen: list, told: list | None = None):
    """When the Line connections dialog opens: type into its fields, then click Save with the mouse
    (``told``: a message box is expected then; its text lands there, OK is clicked, the dialog cancelled)."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication, QDialogButtonBox

    def poll():
        d = QApplication.activeModalWidget()
        if d is None or d.windowTitle() != "Line connections":
            QTimer.singleShot(50, poll)
            return
        seen.append(d)
        for name, text in fields.items():
            box = getattr(d, name)
            box.clear()
            qtbot.keyClicks(box, text)
        if told is not None:
            click_in_dialog(qtbot, "OK", told)
        qtbot.mouseClick(d.findChild(QDialogButtonBox).button(QDialogButtonBox.Save), Qt.LeftButton)
        if told is not None:
            qtbot.mouseClick(d.findChild(QDialogButtonBox).button(QDialogButtonBox.Cancel), Qt.LeftButton)

    QTimer.singleShot(50, poll)


def test_a_modbus_plc_set_in_line_connections_triggers_the_live_view(qtbot, window, tmp_path):
    from PySide6.QtCore import Qt

    if not shutil.which("node") or not (PLC / "node_modules" / "modbus-serial").is_dir():
        pytest.skip("node with tests/plc_node's packages")
    live = window.live
    with qtbot.waitSignal(live.models.loader.loaded, timeout=60000):
        live.models.load(str(tiny_weights(tmp_path)))
    live.source_box.setCurrentText("demo")

    # both PLC servers at once: refused with a message, nothing saved
    seen, told = [], []
    _fill_line_dialog(qtbot, {"opcua": "opc.tcp://127.0.0.1:4840", "modbus": "127.0.0.1:5020"}, seen, told)
    _menu_action(window, "Line connections…").trigger()
    assert seen and told and "One PLC handshake at a time" in told[0], told
    assert live.settings["modbus"] == "" and live.settings["opcua"] == ""

    target = f"127.0.0.1:{free_port()}"
    seen = []
    _fill_line_dialog(qtbot, {"modbus": target}, seen)
    _menu_action(window, "Line connections…").trigger()
    assert seen and live.settings["modbus"] == target
    assert '"modbus": "%s"' % target in Path(live.settings.path).read_text()

    qtbot.mouseClick(live.btn_start, Qt.LeftButton)
    qtbot.waitUntil(lambda: f"modbus {target}: connected" in live.panel.outputs_label.text(), timeout=30000)
    assert "waiting for the PLC's Trigger (Modbus TCP)" in live.panel.banner.text()
    out = run_plc(shutil.which("node"), "modbus", target, "documented", 5)
    assert [r["InspectionId"] for r in out["results"]] == [1, 2, 3, 4, 5]
    qtbot.waitUntil(lambda: "5 sent" in live.panel.outputs_label.text(), timeout=10000)
    assert live.ctrl.snapshot().total == 5
    qtbot.mouseClick(live.btn_start, Qt.LeftButton)
