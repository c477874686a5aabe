"""The engineer's training view: start teacher and student runs, watch them, compare, register.

Runs are child processes (``TrainingService``); this view only draws what their events say, so
it never freezes and a crash in training leaves it standing.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import (QHBoxLayout, QInputDialog, QLabel, QMessageBox, QPlainTextEdit, QProgressBar,
                               QPushButton, QSplitter, QTabWidget, QVBoxLayout, QWidget)

from app.services.background import Background
from app.services.model_service import ModelService
from app.services.training_service import TrainingService, runs_dir
from app.train.curves import CurvesPanel
from app.train.results_panel import ResultsPanel, read_results
from app.train.run_dialog import RunDialog
from app.train.runs_table import RunsTable
from core.registry import ModelRegistry, check_name
from core.settings import Settings
from core.train.runs import RunHistory, RunInfo, run_info
from core.train.runs import delete as delete_run

EMPTY = ("No training runs yet.\n\nStart a teacher run on your dataset ('New teacher run…'), then a "
         "self-distilled student of it ('New student run…').")


def teacher_run_dir(teacher: str) -> Path | None:
    """The run folder a teacher's weights came from (``RUN/weights/best.pt``), if it is one."""
    if not teacher:
        return None
    p = Path(teacher)
    if not p.is_file():
        reg = ModelRegistry()
        if teacher in reg:
            try:
                p = Path(reg.card(teacher).source)
            except KeyError:
                return None
    run = p.parent.parent
    return run if (run / "events.jsonl").is_file() else None


def _duration(s: float | None) -> str:
    if s is None:
        return "—"
    s = int(s)
    return f"{s // 3600} h {s % 3600 // 60:02d} min" if s >= 3600 else f"{s // 60} min {s % 60:02d} s"


class TrainView(QWidget):
    status = Signal(str)
    use_model = Signal(str)      # a registered model's name: the live view loads it

    def __init__(self, settings: Settings, parent=None, root: str | Path | None = None, session=None):
        super().__init__(parent)
        self.settings = settings
        self.session = session          # app.services.user_session.UserSession; None: no station users
        self.use_signature = None       # the signed approval of the model ``use_model`` last handed over
        self.root = Path(root) if root else runs_dir(settings["runs_dir"])
        self.service = TrainingService(self.root, self)
        self.bg = Background(self, name="train-view")
        self.models = ModelService(self)
        self.histories: dict[str, RunHistory] = {}
        self.outputs: dict[str, str] = {}
        self.current: RunInfo | None = None
        self.teacher_key: str | None = None

        bar = QHBoxLayout()
        self.btn_teacher = QPushButton("New teacher run…")
        self.btn_student = QPushButton("New student run…")
        self.btn_stop = QPushButton("Stop")
        self.btn_resume = QPushButton("Resume")
        self.btn_distill = QPushButton("Train a student from this teacher")
        self.btn_use = QPushButton("Use for inspection")
        self.btn_open = QPushButton("Open folder")
        self.btn_delete = QPushButton("Delete")
        for b in (self.btn_teacher, self.btn_student, None, self.btn_stop, self.btn_resume, None, self.btn_distill,
                  self.btn_use, None, self.btn_open, self.btn_delete):
            bar.addSpacing(12) if b is None else bar.addWidget(b)
        bar.addStretch(1)

        self.table = RunsTable()
        self.title = QLabel(EMPTY)
        self.title.setWordWrap(True)
        self.title.setStyleSheet("font-size:15px; font-weight:600")
        self.reason = QLabel("")
        self.reason.setWordWrap(True)
        self.reason.setObjectName("run_reason")
        self.reason.setStyleSheet("color:#ff8a65")
        self.epoch_bar = QProgressBar()
        self.epoch_bar.setFormat("epoch %v / %m")
        self.step_bar = QProgressBar()
        self.step_bar.setFormat("batch %v / %m")
        self.pace = QLabel("")
        self.pace.setObjectName("pace")
        prog = QHBoxLayout()
        prog.addWidget(self.epoch_bar, 2)
        prog.addWidget(self.step_bar, 2)
        prog.addWidget(self.pace, 3)
        self.curves = CurvesPanel()
        self.results = ResultsPanel()
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        self.log.setStyleSheet("font-family: monospace; font-size: 11px")
        self.tabs = QTabWidget()
        self.tabs.addTab(self.curves, "Curves")
        self.tabs.addTab(self.results, "Results")
        self.tabs.addTab(self.log, "Output")
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.addWidget(self.title)
        rl.addWidget(self.reason)
        rl.addLayout(prog)
        rl.addWidget(self.tabs, 1)
        split = QSplitter()
        split.addWidget(self.table)
        split.addWidget(right)
        split.setSizes([640, 800])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(bar)
        lay.addWidget(split, 1)

        self.btn_teacher.clicked.connect(lambda: self.new_run("teacher"))
        self.btn_student.clicked.connect(lambda: self.new_run("student"))
        self.btn_distill.clicked.connect(self.student_from_current)
        self.btn_stop.clicked.connect(self.stop_current)
        self.btn_resume.clicked.connect(self.resume_current)
        self.btn_use.clicked.connect(lambda: self.use_current())   # not clicked(bool) as the name
        self.btn_open.clicked.connect(lambda: self.current and QDesktopServices.openUrl(
            QUrl.fromLocalFile(str(self.current.path))))
        self.btn_delete.clicked.connect(self.delete_current)
        self.table.selected.connect(self.select)
        self.service.runs.connect(self._runs)
        self.service.events.connect(self._events)
        self.service.output.connect(self._output)
        self.service.ended.connect(self._ended)
        self.service.failed.connect(lambda m: self.status.emit(m))
        self.clock = QTimer(self)  # the ETA and the "last heard" age move between events too
        self.clock.timeout.connect(self._show_progress)
        self.clock.start(1000)
        self._buttons()
        self.service.refresh()

    # --------------------------------------------------------------------------------- runs
    def _runs(self, infos: list):
        keep = str(self.current.path) if self.current else None
        self.table.set_runs(infos, keep)
        if self.current is not None:
            fresh = next((r for r in infos if str(r.path) == keep), None)
            if fresh is not None:
                self.current = fresh
                self._header()
        elif infos:
            self.table.selectRow(0)
        self._buttons()

    def select(self, info: RunInfo | None):
        self.current = info
        self.curves.clear()
        self.log.setPlainText("")
        self.teacher_key = None
        if info is None:
            self.title.setText(EMPTY)
            self.reason.setText("")
            self.results.show_results(None, None)
            self._buttons()
            return
        key = str(info.path)
        self.histories.setdefault(key, RunHistory())
        self.log.setPlainText(self.outputs.get(key, ""))
        self.service.follow(info.path)
        self._find_teacher()
        self._header()
        self._redraw()
        self._load_results()
        self._buttons()

    def _find_teacher(self) -> bool:
        """A student's teacher run, followed for the side-by-side curves and results. A run started
        here names its teacher only once its child process has written args.yaml, so this is asked
        again as the run's state comes in. True when it was found just now."""
        r = self.current
        if r is None or r.kind != "student" or self.teacher_key is not None:
            return False
        t = teacher_run_dir(r.teacher)
        if t is None:
            return False
        self.teacher_key = str(t)
        self.histories.setdefault(self.teacher_key, RunHistory())
        self.service.follow(t)
        return True

    def _header(self):
        r = self.current
        if r is None:
            return
        if self._find_teacher():
            self._redraw()
            self._load_results()
        self.table.update_run(r)
        what = "Teacher" if r.kind == "teacher" else "Student"
        data = f" on {r.dataset}" if r.dataset else ""
        best = f" · best mAP50 {r.best_map50:.3f} / mAP50-95 {r.best_map50_95:.3f}" \
            if isinstance(r.best_map50, (int, float)) and isinstance(r.best_map50_95, (int, float)) else ""
        self.title.setText(f"{what} run {r.name}{data}: {r.status}{best}")
        self.reason.setText(r.reason)
        self._show_progress()

    def _load_results(self):
        r = self.current
        if r is None:
            return
        teacher = Path(self.teacher_key) if self.teacher_key else None

        def work():
            return read_results(r.path), (read_results(teacher) if teacher else None)

        self.bg.submit(work, lambda res: self.current is r and self.results.show_results(r.path, *res),
                       lambda e: self.status.emit(str(e)))

    # ------------------------------------------------------------------------------- events
    def _events(self, key: str, recs: list):
        h = self.histories.setdefault(key, RunHistory())
        for rec in recs:
            h.feed(rec)
        ends = [rec for rec in recs if rec.get("event") in ("end", "error", "checkpoint")]
        if self.current is not None and key in (str(self.current.path), self.teacher_key):
            self._redraw()
            if ends:
                self.current = run_info(self.current.path) if key == str(self.current.path) else self.current
                self._header()
                self._load_results()
                self._buttons()
        if any(rec.get("event") in ("end", "error", "start") for rec in recs):
            self.service.refresh()

    def _output(self, key: str, text: str):
        self.outputs[key] = (self.outputs.get(key, "") + text + "\n")[-200_000:]
        if self.current is not None and key == str(self.current.path):
            self.log.appendPlainText(text)

    def _ended(self, key: str, code: int):
        name = Path(key).name
        info = run_info(key)
        self.status.emit(f"run {name}: {info.status}" + (f" ({info.reason})" if info.reason else ""))
        if self.current is not None and key == str(self.current.path):
            self.current = info
            self._header()
            self._load_results()
            self._buttons()

    def _redraw(self):
        if self.current is None:
            return
        h = self.histories.get(str(self.current.path))
        t = self.histories.get(self.teacher_key) if self.teacher_key else None
        if h is not None:
            self.curves.show(h, t)
        self._show_progress()

    def _show_progress(self):
        r = self.current
        h = self.histories.get(str(r.path)) if r else None
        if r is None or h is None:
            for b in (self.epoch_bar, self.step_bar):
                b.setMaximum(1)
                b.setValue(0)
            self.pace.setText("")
            return
        total = h.total_epochs or r.epochs or 1
        done = max(h.epochs) if h.epochs else r.epoch
        self.epoch_bar.setMaximum(total)
        self.epoch_bar.setValue(min(done, total))
        p = h.progress
        running = r.alive
        if p and running:
            self.step_bar.setFormat("batch %v / %m")
            self.step_bar.setMaximum(max(int(p.get("batches", 1)), 1))
            self.step_bar.setValue(int(p.get("done", 0)))
        else:
            self.step_bar.setFormat("batch —" if r.status != "finished" else "done")
            self.step_bar.setMaximum(1)
            self.step_bar.setValue(1 if r.status == "finished" else 0)
        parts = []
        if running:
            eta = h.eta_s()
            if eta is not None and h.last_time:
                eta = max(eta - (time.time() - h.last_time), 0)
            parts.append(f"ETA {_duration(eta)}")
            if h.last_time:
                parts.append(f"last update {int(time.time() - h.last_time)} s ago")
        if h.images_per_s:
            parts.append(f"{h.images_per_s:.1f} images/s")
        if r.started:
            parts.append("started " + dt.datetime.fromtimestamp(r.started).strftime("%d %b %H:%M"))
        self.pace.setText(" · ".join(parts))

    # ------------------------------------------------------------------------------ actions
    def _buttons(self):
        r = self.current
        self.btn_stop.setEnabled(bool(r and r.alive))
        self.btn_resume.setEnabled(bool(r and r.resumable))
        ok_teacher = bool(r and r.kind == "teacher" and r.status == "finished" and r.best_weights.is_file())
        self.btn_distill.setEnabled(ok_teacher)
        self.btn_use.setEnabled(bool(r and r.best_weights.is_file()))
        self.btn_open.setEnabled(r is not None)
        self.btn_delete.setEnabled(bool(r and not r.alive))

    def dialog(self, kind: str, data: str = "", teacher: str = "") -> RunDialog:
        recent = list(dict.fromkeys(r.dataset for r in self.service.last_runs if r.dataset))[:8]
        return RunDialog(kind, self.service.last_runs, self.root, ModelRegistry().list(), self, data=data,
                         teacher=teacher, recent_data=recent)

    def new_run(self, kind: str, data: str = "", teacher: str = ""):
        dlg = self.dialog(kind, data, teacher)
        if dlg.exec():
            self.start(dlg.kind, dlg.settings(), dlg.out())

    def start(self, kind: str, settings: dict, out: Path | None = None) -> Path | None:
        try:
            out = self.service.start(kind, settings, out)
        except (ValueError, OSError) as e:
            QMessageBox.warning(self, "Training", f"Cannot start the run: {e}")
            return None
        self.status.emit(f"started {kind} run {out.name}")
        self.current = run_info(out)
        self.table.set_runs([self.current] + [r for r in self.service.last_runs if r.path != out], str(out))
        self.select(self.current)
        return out

    def student_from_current(self):
        r = self.current
        if r is not None and r.kind == "teacher":
            self.new_run("student", data=r.dataset, teacher=str(r.best_weights))

    def stop_current(self):
        if self.current and self.service.stop(self.current.path):
            self.status.emit(f"stopping {self.current.name} after the current step (a resumable last.pt is kept)")

    def resume_current(self):
        r = self.current
        if r is None or not r.resumable:
            return
        try:
            self.service.resume(r)
        except (ValueError, OSError) as e:
            QMessageBox.warning(self, "Training", f"Cannot resume {r.name}: {e}")
            return
        self.status.emit(f"resuming {r.name}")
        self.current = run_info(r.path)
        self._header()
        self._buttons()

    def use_current(self, name: str | None = None) -> None:
        """Put the run's best.pt on the line: ask for a name, compare it with the model there, confirm,
        register it, and hand it to the live view (``use_model``). The work runs off the GUI thread."""
        r = self.current
        if r is None or not r.best_weights.is_file():
            return
        if name is None:
            name, ok = QInputDialog.getText(self, "Use for inspection", "Register the best model as:", text=r.name)
            if not ok:
                return
        try:
            check_name(name)
        except ValueError as e:
            QMessageBox.warning(self, "Use for inspection", f"Cannot register {r.best_weights}: {e}")
            return
        self.btn_use.setEnabled(False)
        self.status.emit(f"comparing '{name}' with the model on the line…")
        self.models.compare(str(r.best_weights), name, r.best_map50, r.dataset, self.settings["weights"] or None,
                            lambda cmp: self._confirm_use(r, name, cmp), lambda e: self._use_failed(r, e))

    def _confirm_use(self, r: RunInfo, name: str, cmp):
        if self.session is not None and self.session.enabled:
            self._approve_and_use(r, name, cmp)
            return
        box = QMessageBox(QMessageBox.Warning if cmp.warnings else QMessageBox.Question, "Use for inspection",
                          f"Put this model on the line?\n\n{cmp.text()}", parent=self)
        box.setObjectName("confirm_use")
        yes = box.addButton("Use for inspection", QMessageBox.AcceptRole)
        no = box.addButton(QMessageBox.Cancel)
        box.setDefaultButton(no if cmp.warnings else yes)   # Enter never puts a weak model on the line
        box.exec()
        if box.clickedButton() is not yes:
            self._buttons()
            self.status.emit("not put on the line")
            return
        self.models.register(str(r.best_weights), name, lambda card: self._registered(r, card, cmp),
                             lambda e: self._use_failed(r, e))

    def _approve_and_use(self, r: RunInfo, name: str, cmp):
        """Station users: the engineer approves the model, its figures shown, with a signed change (password
        again and a reason); it is registered, approved, and put on the line under that signature."""
        from html import escape

        from app.security.sign_dialog import SignDialog

        what = escape(f"Approve '{name}' and put it on the line\n\n{cmp.text()}").replace("\n", "<br>")
        dlg = SignDialog(self.session, "model.approve", what, self)
        dlg.setObjectName("confirm_use")
        if not dlg.exec():
            self._buttons()
            self.status.emit("not put on the line")
            return
        sig = dlg.signature

        def work():
            reg = ModelRegistry()
            reg.register(str(r.best_weights), name, replace=True)
            return reg.approve(name, sig)

        def done(card):
            self.use_signature = replace(sig, action="model.choose")   # the same person, reason and moment
            self._registered(r, card, cmp)

        self.bg.submit(work, done, lambda e: self._use_failed(r, e))

    def _registered(self, r: RunInfo, card, cmp):
        self._buttons()
        was = f", replacing '{cmp.current}'" if cmp.current and cmp.current != card.name else ""
        self.status.emit(f"registered '{card.name}' ({r.best_weights}); the live view judges with it now{was}")
        self.use_model.emit(card.name)
        self.use_signature = None

    def _use_failed(self, r: RunInfo, e: Exception):
        self._buttons()
        QMessageBox.warning(self, "Use for inspection", f"Cannot register {r.best_weights}: {e}")

    def delete_current(self, confirm: bool = True):
        r = self.current
        if r is None or r.alive:
            return
        if confirm and QMessageBox.question(self, "Delete run", f"Delete {r.path} and everything in it?") \
                != QMessageBox.Yes:
            return
        self.service.unfollow(r.path)
        try:
            delete_run(r.path)   # refuses a run whose process still goes
        except (OSError, RuntimeError) as e:
            QMessageBox.warning(self, "Delete run", f"{r.path}: {e}")
        self.current = None
        self.select(None)
        self.service.refresh()

    # ------------------------------------------------------------------------- the window
    def menus(self) -> dict[str, list]:
        def act(text, slot):
            a = QAction(text, self)
            a.triggered.connect(slot)
            return a

        return {"&Training": [act("New teacher run…", lambda: self.new_run("teacher")),
                              act("New student run…", lambda: self.new_run("student")), None,
                              act("Stop the selected run", self.stop_current),
                              act("Resume the selected run", self.resume_current)]}

    def confirm_close(self) -> bool:
        """Asked before the window closes: stop the runs this window started, leave them, or cancel."""
        going = self.service.running_here()
        if not going:
            return True
        box = QMessageBox(QMessageBox.Question, "Training is running",
                          f"{len(going)} training run(s) are going. Stop them (each keeps a resumable last.pt), "
                          "or leave them running? A run left running is found again on the next start.", parent=self)
        stop = box.addButton("Stop them", QMessageBox.DestructiveRole)
        leave = box.addButton("Leave running", QMessageBox.AcceptRole)
        box.addButton(QMessageBox.Cancel)
        box.exec()
        if box.clickedButton() is stop:
            for k in going:
                self.service.stop(k)
            return True
        return box.clickedButton() is leave

    def shutdown(self):
        self.clock.stop()
        self.service.shutdown()
        self.bg.shutdown()
        self.models.shutdown()

