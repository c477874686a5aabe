"""A model on the line runs its fastest checked runtime: exported once (OpenVINO INT8 when it keeps
its accuracy on the model's own data, else fp32 when its scores match), timed against PyTorch on
this machine, cached by the weights' hash; the live view says which runtime judges, and the
engineer can go back to PyTorch."""
import json
import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

pytest.importorskip("openvino")
pytest.importorskip("nncf")

from core.data.synth import CLASSES  # noqa: E402
from core.model import build_model  # noqa: E402
from core.model.checkpoint import save_checkpoint  # noqa: E402


def weights_with_data(folder: Path, data: str = "demo:4", imgsz: int = 32) -> Path:
    """A small checkpoint that names the data it came from (as bundled models do)."""
    m = build_model("sdgasnet-n", num_classes=len(CLASSES))
    p = Path(folder) / "line.pt"
    save_checkpoint(p, m.state_dict(), {"names": list(CLASSES), "imgsz": imgsz, "model_config": m.cfg.to_dict(),
                                        "bundle": {"data": data}})
    return p


@pytest.fixture
def home(tmp_path, monkeypatch):
    from helpers import app_home

    return app_home(tmp_path, monkeypatch, {"weights": "", "demo_fps": 20})   # fastest_runtime: default on


def test_an_int8_export_that_loses_accuracy_is_not_used(tmp_path, home, monkeypatch):
    """The rule alone: exports and timings stand in for the slow steps whose outcome it decides on
    (the real ones run in the next test)."""
    import core.export.fastest as F
    from core.export.exporter import ExportResult
    from core.export.parity import Parity

    def export(fmt, int8=False, data=None, out=None, log=None):
        Path(out).mkdir(parents=True)
        acc = {"fp32": {"map50": 0.915, "map50_95": 0.566}, "int8": {"map50": 0.898, "map50_95": 0.482}} if int8 else {}
        dev = 0.65 if int8 else 2e-6        # INT8 moves scores; an fp32 export matches the weights
        return ExportResult(Path(out), fmt, "int8" if int8 else "fp32", 32, 1.0, Parity(4, "x", dev, 0.0, 0.0), acc)

    times = {"pytorch-fp32": 40.0, "openvino-fp32": 20.0}
    monkeypatch.setattr(F, "time_runtimes", lambda paths: {k: times[k] for k in paths})
    c = F.prepare_fastest(tmp_path / "w.pt", "ab" * 32, export, data="demo:4", log=lambda m: None)
    assert c.runtime == "openvino-fp32" and c.path.endswith("openvino-fp32")
    assert "INT8 lost 0.017 mAP50 on demo:4" in c.why
    assert not (Path(c.path).parent / "openvino-int8").exists()
    assert F.cached_choice("ab" * 32).runtime == "openvino-fp32"
    # an export that is not faster here is not used either: PyTorch stays
    times["openvino-fp32"] = 55.0
    c = F.prepare_fastest(tmp_path / "w.pt", "cd" * 32, export, data=None, log=lambda m: None)
    assert c.runtime == "pytorch-fp32" and c.path is None and "not faster" in c.why
    # an fp32 export whose scores differ is not used
    def bad(fmt, **kw):
        r = export(fmt, **kw)
        r.parity.max_score_dev = 0.2
        return r

    c = F.prepare_fastest(tmp_path / "w.pt", "ef" * 32, bad, data=None, log=lambda m: None)
    assert c.runtime == "pytorch-fp32" and "deviates" in c.why


@pytest.mark.slow
def test_the_live_view_prepares_the_fastest_runtime_names_it_and_can_go_back_to_pytorch(qtbot, tmp_path, home,
                                                                                        monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from app.main_window import MainWindow

    weights = weights_with_data(tmp_path)
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    live = w.live
    try:
        assert live.models.cb_fastest.isChecked()
        monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(weights), "")))
        with qtbot.waitSignal(live.models.loader.loaded, timeout=60000):
            qtbot.mouseClick(live.models.btn_open, Qt.LeftButton)
        assert "runtime: <b>PyTorch fp32" in live.models.label.text() and "preparing" in live.models.label.text()
        with qtbot.waitSignal(live.models.loader.prepared, timeout=300000):
            pass                                       # the child process exports, checks and times
        choice = json.loads(next((home / "runtimes").glob("*/choice.json")).read_text())
        text = live.models.label.text()
        names = {"openvino-int8": "OpenVINO INT8", "openvino-fp32": "OpenVINO fp32", "pytorch-fp32": "PyTorch fp32"}
        assert names[choice["runtime"]] in text, (choice, text)
        assert choice["checks"]["openvino-int8"]["accuracy"]["int8"] is not None     # checked on demo:4
        # it judges: the records name the runtime that judged
        live.source_box.setCurrentText("demo")
        qtbot.mouseClick(live.btn_start, Qt.LeftButton)
        qtbot.waitUntil(lambda: live.ctrl.snapshot().total >= 3, timeout=30000)
        qtbot.mouseClick(live.btn_start, Qt.LeftButton)
        qtbot.waitUntil(lambda: live.btn_start.text() == "Start" and live.btn_start.isEnabled(), timeout=5000)
        con = sqlite3.connect(home / "records.sqlite")
        ids = {r[0] for r in con.execute("SELECT DISTINCT model_id FROM inspections")}
        con.close()
        suffix = {"openvino-int8": "@openvino-int8", "openvino-fp32": "@openvino-fp32"}.get(choice["runtime"])
        assert len(ids) == 1 and (suffix in ids.pop() if suffix else "@" not in ids.pop())
        # the engineer goes back to the weights as they are
        with qtbot.waitSignal(live.models.loader.loaded, timeout=60000):
            qtbot.mouseClick(live.models.cb_fastest, Qt.LeftButton)
        assert not live.models.cb_fastest.isChecked() and "runtime: <b>PyTorch fp32" in live.models.label.text()
        assert w.settings["fastest_runtime"] is False
        # and back: the cached runtime loads at once, nothing is prepared again
        with qtbot.waitSignal(live.models.loader.loaded, timeout=60000):
            qtbot.mouseClick(live.models.cb_fastest, Qt.LeftButton)
        assert names[choice["runtime"]] in live.models.label.text() and not live.models.loader.preparing()
    finally:
        live.shutdown()
