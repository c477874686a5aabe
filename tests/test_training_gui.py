"""The training view, offscreen: the run dialog, a real tiny run watched, stopped, resumed, registered."""
import os
import signal
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("pytestqt")

from helpers import button, in_dialog, tiny_data  # noqa: E402

TINY = {"epochs": 30, "imgsz": 64, "batch": 2, "device": "cpu"}
TINY_ADV = {"workers": 0, "mosaic": 0.0, "precise_bn_images": 4, "close_mosaic": 0}


@pytest.fixture
def view(qtbot, home, tmp_path):
    from app.train.train_view import TrainView
    from core.settings import Settings

    v = TrainView(Settings(), root=tmp_path / "runs")
    qtbot.addWidget(v)
    v.resize(1400, 900)
    v.show()
    yield v
    for k in v.service.running_here():
        v.service.stop(k, hard=True)
    v.shutdown()


def _dialog(qtbot, view, kind, data, **kw):
    dlg = view.dialog(kind, data=data, **kw)
    qtbot.waitUntil(lambda: dlg.checked is not None or bool(dlg.check_error), timeout=60000)
    dlg.basic.set_values(TINY)
    dlg.advanced.set_values(TINY_ADV)
    return dlg


def test_dataset_problems_are_shown_and_start_is_refused_until_confirmed(qtbot, view, tmp_path):
    data = tiny_data(tmp_path, n=6, size=(64, 64))
    imgs = sorted((tmp_path / "data").rglob("*.png")) + sorted((tmp_path / "data").rglob("*.jpg"))
    imgs[0].write_bytes(b"not an image")
    lbl = sorted((tmp_path / "data").rglob("*.txt"))
    lbl[-1].write_text("0 0.5 0.5\n")
    dlg = _dialog(qtbot, view, "teacher", data)
    assert dlg.checked["problems"], dlg.data_summary.text()
    assert imgs[0].name in dlg.problems.toPlainText()
    assert not dlg.start_btn.isEnabled() and "problem" in dlg.error.text()
    assert "val lists the same" in dlg.problems.toPlainText()      # tiny_data validates on its train images
    from PySide6.QtCore import Qt

    qtbot.mouseClick(dlg.confirm, Qt.LeftButton)
    assert dlg.start_btn.isEnabled(), dlg.error.text()
    dlg.advanced.fields["lr0"].widget.setText("-1")   # checked on entry
    assert not dlg.start_btn.isEnabled() and "lr0" in dlg.error.text()
    dlg.advanced.fields["lr0"].widget.setText("0.02")
    dlg.data_box.setCurrentText(str(tmp_path / "nowhere"))
    dlg.check()
    qtbot.waitUntil(lambda: bool(dlg.check_error), timeout=30000)
    assert "nowhere" in dlg.error.text() and not dlg.start_btn.isEnabled()


def test_a_teacher_run_can_start_from_a_model_and_says_which(qtbot, view, tmp_path):
    from core.train.runs import command

    data = tiny_data(tmp_path, n=4, size=(64, 64), val_is_train=False)
    dlg = _dialog(qtbot, view, "teacher", data)
    assert dlg.start_box.currentText() == "base" and dlg.settings()["weights"] == "base"   # a new dataset
    assert [dlg.start_box.itemText(i) for i in range(4)] == ["(from scratch)", "base", "base-fast", "default"]
    dlg.start_box.setCurrentText("(from scratch)")
    assert "weights" not in dlg.settings()
    dlg.start_box.setCurrentText("default")
    s = dlg.settings()
    assert s["weights"] == "default" and dlg.start_btn.isEnabled(), dlg.error.text()
    assert not dlg.basic.fields["model"].widget.isEnabled()   # the weights' architecture is used
    cmd = command("teacher", s, dlg.out())
    import yaml

    assert yaml.safe_load(Path(cmd[cmd.index("--cfg") + 1]).read_text())["weights"] == "default"
    dlg.start_box.setCurrentText(str(tmp_path / "missing.pt"))
    assert not dlg.start_btn.isEnabled() and "missing.pt" in dlg.error.text()
    student = _dialog(qtbot, view, "student", data)
    student.teacher_box.setCurrentText("default")
    assert "weights" not in student.settings()   # a student starts from scratch unless told
    student.start_box.setCurrentText("(the teacher's weights)")
    s = student.settings()
    assert s["weights"] == s["teacher"] == "default" and student.start_btn.isEnabled(), student.error.text()
    cmd = command("student", s, student.out())
    args = yaml.safe_load(Path(cmd[cmd.index("--cfg") + 1]).read_text())
    assert args["teacher"] == args["weights"] == "default"


@pytest.mark.slow
def test_a_run_started_from_the_dialog_is_watched_stopped_resumed_and_used(qtbot, view, tmp_path, home):
    from app.live.live_view import LiveView
    from core.registry import ModelRegistry
    from core.settings import Settings

    data = tiny_data(tmp_path, n=16, size=(64, 64), val_is_train=False)
    dlg = _dialog(qtbot, view, "teacher", data)
    dlg.basic.set_values({"epochs": 12})     # room to stop after epoch 2 and resume (about 2 s an epoch)
    assert dlg.start_btn.isEnabled(), dlg.error.text()
    out = view.start(dlg.kind, dlg.settings(), dlg.out())
    assert out is not None and view.current.path == out
    # progress and curves arrive from the child process's events
    qtbot.waitUntil(lambda: view.epoch_bar.value() >= 2 and view.curves.n_points() > 0, timeout=180000)
    assert view.btn_stop.isEnabled() and "images/s" in view.pace.text()
    view.stop_current()
    qtbot.waitUntil(lambda: view.current.status == "stopped", timeout=120000)
    assert view.btn_resume.isEnabled()
    stopped_at = view.current.epoch
    view.resume_current()
    qtbot.waitUntil(lambda: view.current.status == "finished", timeout=600000)   # a loaded CI machine
    assert view.current.epoch == 12 > stopped_at
    qtbot.waitUntil(lambda: view.results.table.rowCount() > 0, timeout=30000)
    assert "escape rate" in view.results.summary.text()
    from core.detector import Detector   # the Results tab shows what `val --json` says of best.pt

    v = Detector(str(out / "weights" / "best.pt"), "cpu").val(data)
    last = view.results.table.rowCount() - 1
    assert view.results.table.item(last, 0).text() == "all"
    assert view.results.table.item(last, 2).text() == f"{v['map50']:.3f}"
    assert view.btn_distill.isEnabled()
    live = LiveView(Settings())
    qtbot.addWidget(live)
    from helpers import click_in_dialog

    from PySide6.QtCore import Qt

    from helpers import type_and_ok

    in_dialog(qtbot, lambda w: (click_in_dialog(qtbot, "Use for inspection"), type_and_ok(qtbot, "tiny-line")(w)))
    with qtbot.waitSignal(view.use_model, timeout=60000):
        qtbot.mouseClick(view.btn_use, Qt.LeftButton)
    assert "tiny-line" in ModelRegistry()
    live.models.refresh()
    qtbot.waitUntil(lambda: "tiny-line" in live.models.names(), timeout=10000)
    with qtbot.waitSignal(live.models.loader.loaded, timeout=60000):
        live.models.load("tiny-line")
    live.shutdown()
    # the student dialog from this teacher comes filled in
    sd = view.dialog("student", data=view.current.dataset, teacher=str(view.current.best_weights))
    assert sd.teacher_box.currentText() == str(out / "weights" / "best.pt")


@pytest.mark.slow
def test_a_run_whose_process_dies_shows_failed_with_the_reason(qtbot, view, tmp_path):
    data = tiny_data(tmp_path, n=16, size=(64, 64), val_is_train=False)
    dlg = _dialog(qtbot, view, "teacher", data)
    out = view.start(dlg.kind, dlg.settings(), dlg.out())
    qtbot.waitUntil(lambda: view.current is not None and view.current.epoch >= 1, timeout=180000)
    # the window closes and opens again: the run it left running is found and followed
    from app.train.train_view import TrainView
    from core.settings import Settings

    again = TrainView(Settings(), root=view.root)
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: again.current is not None and again.current.status == "running"
                    and again.curves.n_points() > 0, timeout=60000)
    again.shutdown()
    os.kill(view.current.pid, signal.SIGKILL)
    qtbot.waitUntil(lambda: view.current.status == "failed", timeout=30000)
    assert "SIGKILL" in view.reason.text()
    row = view.table.row_of(str(out))
    assert row >= 0 and view.table.item(row, 2).text().startswith("failed")
    assert view.btn_resume.isEnabled()   # a failed run with a last.pt can continue


def test_use_for_inspection_button_compares_registers_and_the_live_view_judges_with_it(qtbot, view, tmp_path,
                                                                                      monkeypatch):
    """The button a user clicks (not the slot): a weak model is warned about and Cancel keeps the line
    as it is; a good one replaces the model named in the message and the live view loads it."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QInputDialog

    from app.live.live_view import LiveView
    from core.registry import ModelRegistry
    from core.settings import Settings
    from core.train.runs import run_info
    from helpers import click_in_dialog, fake_run, tiny_weights

    data = tiny_data(tmp_path, n=4, size=(64, 64), val_is_train=False)
    w = tiny_weights(tmp_path, imgsz=64)
    view.settings["weights"] = "demo"            # what the live view judges with now
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("line-a", True))   # the name asked for
    weak = fake_run(view.root, "weak", data, 0.0, w)
    view.select(run_info(weak))
    assert view.btn_use.isEnabled()
    seen: list = []
    click_in_dialog(qtbot, "Cancel", seen)
    qtbot.mouseClick(view.btn_use, Qt.LeftButton)
    qtbot.waitUntil(lambda: bool(seen) and view.btn_use.isEnabled(), timeout=60000)
    assert "finds almost nothing" in seen[0] and "replaces 'demo'" in seen[0], seen[0]
    assert "line-a" not in ModelRegistry()

    good = fake_run(view.root, "good", data, 0.9, w)
    view.select(run_info(good))
    live = LiveView(Settings())
    qtbot.addWidget(live)
    view.use_model.connect(live.models.load)
    seen.clear()
    click_in_dialog(qtbot, "Use for inspection", seen)
    with qtbot.waitSignal(view.use_model, timeout=60000) as sig:
        qtbot.mouseClick(view.btn_use, Qt.LeftButton)
    assert sig.args == ["line-a"] and "Warning" not in seen[0], seen[0]
    assert "line-a" in ModelRegistry() and ModelRegistry().card("line-a").source == str(good / "weights" / "best.pt")
    qtbot.waitUntil(lambda: live.settings["weights"] == "line-a" and live.models.detector is not None, timeout=60000)
    live.shutdown()


def _select(qtbot, view, run):
    """Click the run's row in the runs table."""
    from PySide6.QtCore import Qt

    qtbot.waitUntil(lambda: view.table.row_of(str(run)) >= 0, timeout=30000)
    item = view.table.item(view.table.row_of(str(run)), 0)
    qtbot.mouseClick(view.table.viewport(), Qt.LeftButton, pos=view.table.visualItemRect(item).center())
    qtbot.waitUntil(lambda: view.current is not None and view.current.path == run, timeout=10000)


def test_a_student_from_this_teacher_takes_the_teachers_settings(qtbot, view, tmp_path):
    """Train a student from this teacher: the dialog comes with the teacher's epochs, image size, batch
    and augmentation (it said 100 / 320 / 16 whatever the teacher was), says so, and names them plainly."""
    from PySide6.QtCore import Qt

    from core.config import TRAIN_LABELS
    from helpers import fake_run, tiny_weights

    data = tiny_data(tmp_path, n=4, size=(64, 64), val_is_train=False)
    w = tiny_weights(tmp_path, imgsz=96, train_args={"epochs": 7, "imgsz": 96, "batch": 3, "mosaic": 0.25,
                                                     "lr0": 0.5, "device": "cuda:3"})
    run = fake_run(view.root, "teacher-a", data, 0.8, w)
    view.service.refresh()
    _select(qtbot, view, run)
    assert view.btn_distill.isEnabled()
    got: dict = {}

    def look(dlg):
        qtbot.waitUntil(lambda: "As its teacher" in dlg.inherit_note.text(), timeout=30000)
        got.update(dlg.basic.values(), mosaic=dlg.advanced.values()["mosaic"], lr0=dlg.advanced.values()["lr0"],
                   teacher=dlg.teacher_box.currentText(), note=dlg.inherit_note.text(),
                   rows={k: dlg.kd.labels[k].text() for k in dlg.kd.labels},
                   tips={k: dlg.kd.labels[k].toolTip() for k in dlg.kd.labels})
        qtbot.mouseClick(button(dlg, "Cancel"), Qt.LeftButton)

    seen: list = []
    in_dialog(qtbot, look, seen)
    qtbot.mouseClick(view.btn_distill, Qt.LeftButton)
    qtbot.waitUntil(lambda: bool(got) or len(seen) > 1, timeout=60000)
    assert got, seen
    assert (got["epochs"], got["imgsz"], got["batch"], got["mosaic"]) == (7, 96, 3, 0.25), got
    assert got["lr0"] != 0.5 and got["device"] != "cuda:3"      # a rate and a machine are not the teacher's
    assert got["teacher"] == str(run / "weights" / "best.pt") and "7 epochs at 96 px" in got["note"]
    for key in ("kd_temperature", "w_cwd"):
        assert got["rows"][key] == TRAIN_LABELS[key] and key not in got["rows"][key] and key in got["tips"][key]


def test_results_are_scaled_to_the_space_not_cropped(qtbot, tmp_path):
    import json

    from app.train.results_panel import ResultsPanel

    run = tmp_path / "run"
    run.mkdir()
    for name, size in (("PR_curve.png", (1500, 2000)), ("confusion_matrix.png", (1800, 1800))):
        cv2.imwrite(str(run / name), np.full((*size, 3), 200, np.uint8))
    res = {"map50": 0.5, "map50_95": 0.3, "per_class": {"a": {"ap50": 0.5, "ap50_95": 0.3, "n_gt": 3}}}
    (run / "val_best.json").write_text(json.dumps(res))
    panel = ResultsPanel()
    qtbot.addWidget(panel)
    panel.resize(700, 560)
    panel.show()
    panel.show_results(run, res)
    for size in ((700, 560), (1300, 900)):
        panel.resize(*size)
        qtbot.wait(50)
        for label in (panel.pr, panel.cm):
            pm = label.pixmap()
            assert pm.width() <= label.width() and pm.height() <= label.height()      # whole, not cropped
            assert pm.width() >= label.width() - 2 or pm.height() >= label.height() - 2  # as large as fits


def test_start_is_not_swallowed_when_the_focus_leaves_the_dataset_box(qtbot, view, tmp_path):
    """The dataset box re-checked its text whenever it lost the focus, so a click on Start right after
    a click in it found the check running again and did nothing."""
    from PySide6.QtCore import Qt

    data = tiny_data(tmp_path, n=4, size=(64, 64), val_is_train=False)
    dlg = view.dialog("teacher", data=data)
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitUntil(lambda: dlg.checked is not None, timeout=60000)
    dlg.activateWindow()
    qtbot.mouseClick(dlg.data_box.lineEdit(), Qt.LeftButton)
    qtbot.waitUntil(dlg.data_box.lineEdit().hasFocus, timeout=5000)
    qtbot.mouseClick(dlg.start_btn, Qt.LeftButton)
    assert dlg.result() == dlg.DialogCode.Accepted and not dlg.isVisible(), dlg.error.text()


def test_a_student_started_here_is_shown_beside_its_teacher_once_its_run_names_it(qtbot, view, tmp_path):
    """A run started in the window names its teacher only when its process has written args.yaml: the
    view looked once, at the start, and the student's results and curves never had the teacher's."""
    import json
    import time

    import yaml

    from helpers import fake_run, tiny_weights

    data = tiny_data(tmp_path, n=4, size=(64, 64), val_is_train=False)
    teacher = fake_run(view.root, "teacher-b", data, 0.6, tiny_weights(tmp_path, imgsz=64))
    student = view.root / "student-b"
    student.mkdir()
    (student / "process.json").write_text(json.dumps({"pid": None, "kind": "student", "started": time.time()}))
    (student / "events.jsonl").write_text(json.dumps({"event": "start", "epoch": 0, "epochs": 3,
                                                      "time": time.time()}) + "\n")
    view.service.refresh()
    _select(qtbot, view, student)
    assert view.teacher_key is None
    (student / "args.yaml").write_text(yaml.safe_dump({"data": data, "teacher": str(teacher / "weights" / "best.pt"),
                                                      "epochs": 3, "imgsz": 64}))
    view.service.refresh()
    qtbot.waitUntil(lambda: view.teacher_key == str(teacher), timeout=30000)


def test_a_new_dataset_starts_from_base_and_a_time_budget_fills_the_settings_with_reasons(qtbot, view, tmp_path,
                                                                                         monkeypatch):
    """Start from defaults to the pretrained base for a dataset with no run yet, and says the class
    layers start afresh (a trained model keeps the classes it knows by name, and the note says which);
    choosing a time budget (a click in its list) fills image size, epochs and backbone freezing from the
    dataset, each with its reason, and they stay editable."""
    import app.train.run_dialog as rd
    from core.train.auto_settings import Speed
    from helpers import choose

    timed = []   # the architecture each budget was timed on
    monkeypatch.setattr("core.train.auto_settings.measure_speed",
                        lambda model, **k: timed.append(model if isinstance(model, str) else model["name"])
                        or Speed(256, 0.05, 0.02))
    data = tiny_data(tmp_path, n=8, size=(96, 96))
    dlg = view.dialog("teacher", data=data)
    dlg.show()
    qtbot.waitUntil(lambda: dlg.checked is not None, timeout=60000)
    assert dlg.start_box.currentText() == "base" and "class layers start afresh" in dlg.start_note.text()
    qtbot.waitUntil(lambda: "None of your 2 classes is among its own" in dlg.start_note.text(), timeout=60000)
    choose(qtbot, dlg.budget_box, "about 30 min")
    qtbot.waitUntil(lambda: "epochs" in dlg.budget_note.text() and "…" not in dlg.budget_note.text(), timeout=60000)
    s = dlg.settings()
    assert s["imgsz"] == 256 and s["freeze_epochs"] >= 1 and s["weights"] == "base"
    assert dlg.aug_box.currentText() == "strong"                           # 8 images: the preset, by name
    assert "freeze_epochs" in dlg.budget_note.text() and "s an epoch" in dlg.budget_note.text()
    dlg.basic.fields["epochs"].widget.setValue(7)                          # overridable
    assert dlg.settings()["epochs"] == 7
    choose(qtbot, dlg.start_box, rd.FROM_SCRATCH)                          # from scratch: no freezing
    qtbot.waitUntil(lambda: "freeze_epochs 0" in dlg.budget_note.text(), timeout=60000)
    assert "random weights" in dlg.start_note.text()
    choose(qtbot, dlg.basic.fields["model"].widget, "sdgasnet-t")          # timed on the model chosen ...
    qtbot.waitUntil(lambda: len(timed) == 3 and "…" not in dlg.budget_note.text(), timeout=60000)
    choose(qtbot, dlg.start_box, "fast")                                   # ... or on the starting weights'
    qtbot.waitUntil(lambda: len(timed) == 4 and "…" not in dlg.budget_note.text(), timeout=60000)
    assert "knows by the same name keeps its class layers" in dlg.start_note.text()   # a model's own classes
    qtbot.waitUntil(lambda: "It knows all 2 of your classes" in dlg.start_note.text(), timeout=60000)
    assert rd.class_note(["crazing", "patches"], ["patches", "rust"]) == "Kept: patches; afresh: rust."
    choose(qtbot, dlg.start_box, "base")                                   # the network shown is the start's
    qtbot.waitUntil(lambda: len(timed) == 5 and dlg.basic.fields["model"].value() == "sdgasnet-n", timeout=60000)
    assert timed == ["sdgasnet-n", "sdgasnet-n", "sdgasnet-t", "sdgasnet-t", "sdgasnet-n"]
    assert not dlg.basic.fields["model"].widget.isEnabled()
    dlg.close()


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="POSIX niceness")
def test_a_run_started_with_the_buttons_trains_below_the_lines_priority(qtbot, view, tmp_path):
    """A training child at normal priority slowed a live view beside it on 2 cores several-fold
    (benchmarks/train_beside_live.py); the run the Training tab starts runs at nice 19. Driven as a
    person does: New teacher run, type the dataset, Start."""
    import json

    from PySide6.QtCore import Qt

    from core.util.proc import NICENESS

    data = tiny_data(tmp_path, n=8, size=(64, 64), val_is_train=False)

    def fill_and_start(dlg):
        dlg.data_box.lineEdit().clear()
        qtbot.keyClicks(dlg.data_box.lineEdit(), str(data))
        qtbot.keyClick(dlg.data_box.lineEdit(), Qt.Key_Tab)
        qtbot.waitUntil(lambda: dlg.checked is not None and dlg.start_btn.isEnabled(), timeout=60000)
        dlg.basic.set_values(TINY)
        dlg.advanced.set_values(TINY_ADV)
        qtbot.mouseClick(dlg.start_btn, Qt.LeftButton)

    seen = []
    in_dialog(qtbot, fill_and_start, seen)
    qtbot.mouseClick(view.btn_teacher, Qt.LeftButton)
    assert view.current is not None, seen
    pid = json.loads((view.current.path / "process.json").read_text())["pid"]
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    cmdline = Path(f"/proc/{pid}/cmdline")
    qtbot.waitUntil(lambda: b"main.py" in cmdline.read_bytes(), timeout=30000)   # the trainer itself
    assert os.getpriority(os.PRIO_PROCESS, pid) == min(mine + NICENESS, 19)
