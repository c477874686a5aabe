"""The operator's journey, by mouse and keys on the real window: a model opened with 'Open weights…',
then Start / Pause / Step / Stop, twenty times over a watched image folder, a network camera
(an MJPEG stream on loopback, read by OpenCV as any IP camera) and the demo line.

Each Stop must answer within 0.5 s (the button reads Start again; once it froze the window 10 s),
leave no thread of its run behind, and every frame judged must be one record: no more (a run
started twice), no fewer.
"""
import sqlite3
import threading
import time

import cv2
import numpy as np
import pytest
from PySide6.QtCore import Qt

pytest.importorskip("pytestqt")

from helpers import tiny_weights  # noqa: E402
from servers import MjpegCamera  # noqa: E402

CYCLES = 20
STOP_S = 0.5
RUN_THREADS = ("capture", "inference", "grabber", "image-saver", "records-writer", "opcua-station")




def folder_of_parts(root, n=80, size=48):
    d = root / "parts"
    d.mkdir()
    rng = np.random.default_rng(1)
    for i in range(n):
        cv2.imwrite(str(d / f"board_{i:03d}.png"), rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
    return d


def type_source(qtbot, live, text):
    """What an operator does: select the source field's text and type over it."""
    edit = live.source_box.lineEdit()
    qtbot.mouseClick(edit, Qt.LeftButton)
    qtbot.keyClick(edit, Qt.Key_A, Qt.ControlModifier)
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key_Return)


def run_threads():
    return sorted(t.name for t in threading.enumerate() if t.name.split("_")[0] in RUN_THREADS)


def app_threads():
    """Threads of the application (not the camera stand-in's server threads)."""
    return [t for t in threading.enumerate() if "process_request" not in t.name and t.name != "mjpeg-camera"]


def settled(qtbot, live) -> int:
    """The count once it has not moved for 300 ms (a frame in hand may still finish after Pause)."""
    prev = -1
    while live.ctrl.snapshot().total != prev:
        prev = live.ctrl.snapshot().total
        qtbot.wait(300)
    return prev


def records(home) -> int:
    db = home / "records.sqlite"
    if not db.exists():
        return 0
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT COUNT(*) FROM inspections").fetchone()[0]
    finally:
        con.close()


def test_start_pause_step_stop_twenty_times_over_folder_camera_and_demo(qtbot, home, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from app.main_window import MainWindow

    weights = tiny_weights(tmp_path, imgsz=64)
    parts = folder_of_parts(tmp_path)
    cam = MjpegCamera(fps=25)
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    live = w.live
    try:
        # the model, through the button and its file dialog
        monkeypatch.setattr(QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(weights), "")))
        with qtbot.waitSignal(live.models.loader.loaded, timeout=60000):
            qtbot.mouseClick(live.models.btn_open, Qt.LeftButton)
        assert live.btn_start.isEnabled() and live.btn_start.text() == "Start"
        assert "tiny.pt" in live.models.label.text() and "PyTorch fp32" in live.models.label.text()

        # the folder, through its button and dialog; the others typed into the source field
        monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(parts)))
        qtbot.mouseClick(live.btn_folder, Qt.LeftButton)
        assert live.source_box.currentText() == str(parts)
        assert live.settings["watch_folder"]      # the default: the folder is watched for new parts
        sources = [str(parts), cam.url, "demo"]

        judged = 0
        stop_times, baseline = [], None
        for cycle in range(CYCLES):
            src = sources[cycle % 3]
            if live.source_box.currentText() != src:
                type_source(qtbot, live, src)
            qtbot.mouseClick(live.btn_start, Qt.LeftButton)
            assert live.btn_start.text() == "Stop", (cycle, src, live.errors[-3:])
            qtbot.waitUntil(lambda: (live.ctrl.snapshot().total or 0) >= 2, timeout=30000)

            before = live.ctrl.snapshot().total
            qtbot.mouseClick(live.btn_pause, Qt.LeftButton)
            assert live.btn_pause.text() == "Resume" and live.btn_step.isEnabled()
            n = settled(qtbot, live)              # the frame in hand is finished, then nothing more
            assert n <= before + 2, f"{src}: {n - before} frames judged after Pause"
            qtbot.wait(400)
            assert live.ctrl.snapshot().total == n, f"{src}: frames judged while paused"
            qtbot.mouseClick(live.btn_step, Qt.LeftButton)
            qtbot.waitUntil(lambda: live.ctrl.snapshot().total == n + 1, timeout=10000)
            qtbot.wait(250)
            assert live.ctrl.snapshot().total == n + 1, f"{src}: Step judged more than one frame"
            if cycle % 2:                         # every other run is stopped while running, not paused
                qtbot.mouseClick(live.btn_pause, Qt.LeftButton)
                qtbot.wait(150)

            t0 = time.perf_counter()
            qtbot.mouseClick(live.btn_start, Qt.LeftButton)
            click_s = time.perf_counter() - t0
            qtbot.waitUntil(lambda: live.btn_start.text() == "Start" and live.btn_start.isEnabled(),
                            timeout=5000)
            stop_s = time.perf_counter() - t0
            stop_times.append((src, round(click_s, 3), round(stop_s, 3)))
            assert click_s < STOP_S and stop_s < STOP_S, f"{src}: Stop took {stop_s:.2f} s (click {click_s:.2f} s)"
            assert run_threads() == [], f"{src}: threads outlived the run: {run_threads()}"
            judged += live.ctrl.snapshot().total
            assert records(home) == judged, f"{src}: {records(home)} records for {judged} frames judged"
            assert not live.btn_pause.isEnabled() and not live.btn_step.isEnabled()
            if cycle == 2:
                baseline = len(app_threads())     # every source has run once: workers exist now
            elif baseline is not None:
                assert len(app_threads()) == baseline, [t.name for t in app_threads()]
        print("stop times (source, click s, until Start s):", stop_times)
    finally:
        live.shutdown()
        cam.stop()
