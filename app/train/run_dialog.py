"""The dialog that starts a teacher run or a self-distillation (student) run.

The dataset is validated in the background as soon as it is chosen; its summary and problems are
shown, and Start stays off until the problems are confirmed. Every setting is checked on entry
(``TrainConfig``'s names and ranges); settings save and load as named presets. A student run
takes its teacher's epochs, image size, batch and augmentation (``Detector.student_settings``),
read in the background whenever the teacher changes; the dialog says so.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QFrame,
                               QGroupBox, QHBoxLayout, QInputDialog, QLabel, QLineEdit, QMessageBox,
                               QPlainTextEdit, QPushButton, QScrollArea, QToolButton, QVBoxLayout, QWidget)

from app.services.background import Background
from app.train.settings_form import SettingsForm, advanced_keys
from core.config import (AUGMENT_KEYS, AUGMENT_PRESETS, DISTILL_OPTIONS, TRAIN_BASIC, TRAINING_STARTS, TrainConfig,
                         augment_preset)
from core.train.presets import PresetStore
from core.train.runs import RunInfo, newest_teacher, next_run_dir


def check_dataset(spec: str) -> dict:
    """Open and validate every split of a dataset (worker thread): summary text and problems."""
    from core.data.catalog import open_dataset
    from core.data.validate import split_problems, validate

    ds = open_dataset(spec)
    text = [f"{ds.root}: {ds.format} dataset, {len(ds.names)} classes: {', '.join(ds.names)}"]
    problems: list[str] = []
    usable = {}
    for split, raws in ds.splits.items():
        if not raws:
            continue
        _, report = validate(ds, split)
        text.append(report.summary().split("\n  ")[0])
        usable[split] = report.n_used
        problems += [f"[{split}] {f}: {why}" for f, why in report.problems]
    if not usable.get("train"):
        raise ValueError(f"{spec}: no usable training images")
    problems += [f"{f}: {why}" for f, why in split_problems(ds)]
    return {"summary": "\n".join(text), "problems": problems, "names": ds.names}


def teacher_settings(teacher: str) -> dict:
    """The settings a student of ``teacher`` takes (worker thread: reads the checkpoint)."""
    from core.detector import Detector

    return Detector(teacher).student_settings()


def suggested_settings(data: str, budget: str, from_weights: bool, arch: str) -> dict:
    """Settings picked from the dataset and a time budget (worker thread: reads the dataset and times a
    few training steps of ``arch``, an architecture's name or weights that have one): {"settings",
    "reasons"} (``core.train.auto_settings``)."""
    from core.detector import architecture_of
    from core.model.architecture import MODEL_NAMES
    from core.train.auto_settings import suggest_for

    s = suggest_for(data, budget, from_weights, arch if arch in MODEL_NAMES else architecture_of(arch))
    return {"settings": s.settings, "reasons": s.reasons, "epoch_s": s.epoch_s}


def bundled_starts() -> list[str]:
    """The bundled models a run may start from, the pretrained base first."""
    from core.config import BUNDLED_MODELS
    from core.detector import MODELS_DIR

    names = [n for n, (f, _) in BUNDLED_MODELS.items() if n != "demo" and (MODELS_DIR / f).is_file()]
    return sorted(names, key=lambda n: n not in TRAINING_STARTS)


def start_facts(weights: str) -> tuple[str, list[str]]:
    """The architecture's name and the classes of the starting weights ``weights`` (worker thread:
    reads the file)."""
    from core.detector import start_facts as facts

    cfg, names = facts(weights)
    return str(cfg["name"]), names


def class_note(start_names: list[str], ours: list[str]) -> str:
    """Which of the dataset's classes keep the start's class layers (the trainer's rule, by name)."""
    from core.train.teacher import class_rows

    kept = {ours[i] for i in class_rows(start_names, ours)}
    if not kept:
        return f"None of your {len(ours)} classes is among its own: all start afresh."
    if len(kept) == len(ours):
        return f"It knows all {len(ours)} of your classes: each keeps its class layers."
    return (f"Kept: {', '.join(n for n in ours if n in kept)}; afresh: "
            f"{', '.join(n for n in ours if n not in kept)}.")


BUDGETS = {"(set by hand)": None, "about 30 min": "30min", "about 1 h": "1h", "overnight": "overnight"}
FROM_SCRATCH = "(from scratch)"
FROM_TEACHER = "(the teacher's weights)"  # a student that begins as its teacher


def _start_weights(text: str) -> str | None:
    """What the Start from box names, or None for a run from scratch."""
    t = text.strip()
    return None if t in ("", FROM_SCRATCH) else t


class RunDialog(QDialog):
    """``kind``: teacher or student. After ``exec()``: ``settings()`` and ``out()``."""

    def __init__(self, kind: str, runs: list[RunInfo], root: Path, registered: list | None = None,
                 parent=None, data: str = "", teacher: str = "", recent_data: list[str] | None = None):
        super().__init__(parent)
        self.kind = kind
        self.runs = runs
        self.root = Path(root)
        self.presets = PresetStore()
        self.bg = Background(self, name="dataset-check")
        self.checked: dict | None = None
        self.check_error = ""
        self._checked_spec = None     # the dataset text last checked (or being checked)
        self._checking = None
        self._teacher_reading = ""
        self._start_text = ""         # the Start from note before the dataset's classes are weighed
        self._start_names: tuple[str, list[str]] | None = None   # a start and its classes, once read
        self.setWindowTitle("New teacher run" if kind == "teacher" else "New student run (self-distillation)")
        self.resize(860, 760)

        # dataset
        self.data_box = QComboBox()
        self.data_box.setEditable(True)
        self.data_box.setObjectName("data")
        for d in (recent_data or []) + ["demo:200"]:
            if self.data_box.findText(d) < 0:
                self.data_box.addItem(d)
        self.data_box.setCurrentText(data or self.data_box.itemText(0))
        self.data_box.lineEdit().editingFinished.connect(self.check)
        self.data_box.activated.connect(lambda *_: self.check())
        b_folder, b_file = QPushButton("Folder…"), QPushButton("data.yaml / COCO json…")
        b_folder.clicked.connect(self._browse_folder)
        b_file.clicked.connect(self._browse_file)
        self.data_summary = QLabel("")
        self.data_summary.setWordWrap(True)
        self.data_summary.setStyleSheet("font-family: monospace; font-size: 11px")
        self.problems = QPlainTextEdit()
        self.problems.setReadOnly(True)
        self.problems.setMaximumHeight(110)
        self.problems.hide()
        self.confirm = QCheckBox("")
        self.confirm.setObjectName("confirm_problems")
        self.confirm.hide()
        self.confirm.toggled.connect(self._update)
        dl = QVBoxLayout()
        row = QHBoxLayout()
        row.addWidget(self.data_box, 1)
        row.addWidget(b_folder)
        row.addWidget(b_file)
        dl.addLayout(row)
        dl.addWidget(self.data_summary)
        dl.addWidget(self.problems)
        dl.addWidget(self.confirm)
        g_data = QGroupBox("Dataset (YOLO data.yaml, VOC or COCO folder, COCO json, or demo:N)")
        g_data.setLayout(dl)

        # teacher (student runs)
        self.teacher_box, g_teacher = self._weights_choice(
            "Teacher", "teacher", "the frozen teacher: a finished teacher run's best.pt, a registered or a bundled model")
        self._teachers(registered or [], teacher)
        self.teacher_box.currentTextChanged.connect(self._update)
        self.teacher_box.currentTextChanged.connect(self._teacher_changed)
        self.inherit_note = QLabel("")
        self.inherit_note.setObjectName("inherit_note")
        self.inherit_note.setWordWrap(True)
        self.inherit_note.setStyleSheet("color:#78909c; font-size:11px")
        g_teacher.layout().addWidget(self.inherit_note)
        g_teacher.setVisible(kind == "student")

        # starting weights: from scratch, or fine-tuning a model on this dataset (a student: weights
        # of its teacher's architecture, such as the teacher itself)
        self.start_box, g_start = self._weights_choice(
            "Start from", "start_from", "from scratch, or fine-tune: the bundled default, a registered model or a "
                                        "finished run's best.pt (a class it knows by name keeps its class layers; "
                                        "others start afresh)"
                                        + ("; a student's must have its teacher's architecture" if kind == "student"
                                           else ""))
        bundled = bundled_starts()
        self.start_box.addItems([FROM_SCRATCH] + ([FROM_TEACHER] if kind == "student" else [])
                                + bundled + [c.name for c in registered or []]
                                + [str(r.best_weights) for r in runs if r.kind == "teacher" and r.status == "finished"
                                   and r.best_weights.is_file()])
        # a teacher on a dataset with no run yet starts from the pretrained base when it is here
        fresh = not any(r.dataset == (data or self.data_box.currentText()) for r in runs)
        if kind == "teacher" and fresh and bundled and bundled[0] in TRAINING_STARTS:
            self.start_box.setCurrentText(bundled[0])
        self.start_note = QLabel("")
        self.start_note.setObjectName("start_note")
        self.start_note.setWordWrap(True)
        self.start_note.setStyleSheet("color:#78909c; font-size:11px")
        g_start.layout().addWidget(self.start_note)
        self.start_box.currentTextChanged.connect(self._start_changed)

        # settings
        self.basic = SettingsForm(TRAIN_BASIC, show_help=False)
        if kind == "student":
            self.basic.fields["model"].widget.setEnabled(False)
            self.basic.fields["model"].widget.setToolTip("a student has its teacher's architecture")
        else:   # a budget's settings are timed on the model chosen
            self.basic.fields["model"].widget.currentTextChanged.connect(self._model_changed)
        self.aug_box = QComboBox()
        self.aug_box.addItems(list(AUGMENT_PRESETS) + ["custom"])
        self.aug_box.setToolTip("augmentation strength; 'custom' keeps the values under Advanced")
        self.aug_box.currentTextChanged.connect(self._aug_preset)
        self.basic.layout().addRow("Augmentation", self.aug_box)
        self.budget_box = QComboBox()
        self.budget_box.setObjectName("budget")
        self.budget_box.addItems(list(BUDGETS))
        self.budget_box.setToolTip("about how long training may take: the settings are then chosen from the "
                                   "dataset (image size, epochs, freezing, augmentation); any can be changed after")
        self.budget_box.currentTextChanged.connect(lambda *_: self._suggest())
        self.basic.layout().addRow("Time budget", self.budget_box)
        self.budget_note = QLabel("")
        self.budget_note.setObjectName("budget_note")
        self.budget_note.setWordWrap(True)
        self.budget_note.setStyleSheet("color:#78909c; font-size:11px")
        self.basic.layout().addRow("", self.budget_note)
        self._suggesting = None
        self.kd = SettingsForm(DISTILL_OPTIONS)
        g_kd = QGroupBox("Distillation")
        QVBoxLayout(g_kd).addWidget(self.kd)
        g_kd.setVisible(kind == "student")
        shown = TRAIN_BASIC + DISTILL_OPTIONS
        self.advanced = SettingsForm(advanced_keys(shown))
        for f in AUGMENT_KEYS:
            self.advanced.fields[f].widget.setProperty("augment", True)
        scroll = QScrollArea()
        scroll.setWidget(self.advanced)
        scroll.setWidgetResizable(True)
        scroll.setMinimumHeight(260)
        scroll.hide()
        self.fold = QToolButton()
        self.fold.setText("▸ Advanced settings")
        self.fold.setCheckable(True)
        self.fold.setToolButtonStyle(Qt.ToolButtonTextOnly)
        self.fold.setStyleSheet("QToolButton { border: none; color: #4fc3f7 }")
        self.fold.toggled.connect(lambda on: (scroll.setVisible(on),
                                              self.fold.setText(("▾" if on else "▸") + " Advanced settings")))
        for form in (self.basic, self.kd, self.advanced):
            form.changed.connect(self._update)

        # presets and the run folder
        self.preset_box = QComboBox()
        self.preset_box.addItems(["(defaults)"] + self.presets.names())
        self.preset_box.activated.connect(lambda *_: self.load_preset(self.preset_box.currentText()))
        b_save = QPushButton("Save as preset…")
        b_save.clicked.connect(self._save_preset)
        self.out_edit = QLineEdit(str(next_run_dir(self.root, kind)))
        self.out_edit.setObjectName("out")
        self.out_edit.textChanged.connect(self._update)
        bottom = QFormLayout()
        prow = QHBoxLayout()
        prow.addWidget(self.preset_box, 1)
        prow.addWidget(b_save)
        bottom.addRow("Preset", prow)
        bottom.addRow("Run folder", self.out_edit)
        self.error = QLabel("")
        self.error.setObjectName("dialog_error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color:#ff8a65")
        self.buttons = QDialogButtonBox(QDialogButtonBox.Cancel)
        self.start_btn = self.buttons.addButton("Start training", QDialogButtonBox.AcceptRole)
        self.start_btn.setObjectName("start_training")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        top = QWidget()
        tl2 = QVBoxLayout(top)
        tl2.setContentsMargins(0, 0, 0, 0)
        settings_box = QGroupBox("Run")
        QVBoxLayout(settings_box).addWidget(self.basic)
        for w in (g_data, g_teacher, g_start, settings_box, g_kd, self.fold, scroll):
            tl2.addWidget(w)
        page = QScrollArea()    # the notes grow with the choices: they scroll, never squeeze into each other
        page.setWidget(top)
        page.setWidgetResizable(True)
        page.setFrameShape(QFrame.NoFrame)
        lay = QVBoxLayout(self)
        lay.addWidget(page, 1)
        lay.addLayout(bottom)
        lay.addWidget(self.error)
        lay.addWidget(self.buttons)
        self.basic.set_values({"epochs": 100, "imgsz": 320})  # the dialog's suggestion for small parts
        self._start_changed(self.start_box.currentText())
        self.check()
        if kind == "student":
            self._teacher_changed(self.teacher_box.currentText())

    # ------------------------------------------------------------------------------- dataset
    def _browse_folder(self):
        d = QFileDialog.getExistingDirectory(self, "Dataset folder (VOC, COCO or YOLO)")
        if d:
            self.data_box.setCurrentText(d)
            self.check(again=True)

    def _browse_file(self):
        f, _ = QFileDialog.getOpenFileName(self, "Dataset file", "", "Datasets (*.yaml *.yml *.json);;All (*)")
        if f:
            self.data_box.setCurrentText(f)
            self.check(again=True)

    def check(self, again: bool = False):
        """Validate the chosen dataset in the background (not again for the same text unless told: the
        box's editingFinished also fires when the focus moves on, e.g. to Start, which a fresh
        check would then refuse)."""
        spec = self.data_box.currentText().strip()
        if not again and spec and spec == self._checked_spec and (self._checking == spec or self.checked
                                                                  or self.check_error):
            return
        self._checked_spec = spec
        self.checked, self.check_error = None, ""
        self.confirm.setChecked(False)
        self.confirm.hide()
        self.problems.hide()
        if not spec:
            self.data_summary.setText("Choose a dataset.")
            self._update()
            return
        self.data_summary.setText(f"checking {spec} …")
        self._checking = spec
        self._update()
        self.bg.submit(lambda: check_dataset(spec), lambda r: self._checked(spec, r, None),
                       lambda e: self._checked(spec, None, e))

    def _checked(self, spec: str, res: dict | None, err):
        if spec != self._checking:
            return  # an older check
        self._checking = None
        if err is not None:
            self.check_error = f"{spec}: {err}" if spec not in str(err) else str(err)
            self.data_summary.setText(self.check_error)
            self.data_summary.setStyleSheet("color:#ff8a65; font-family: monospace; font-size: 11px")
        else:
            self.checked = res
            if _start_weights(self.start_box.currentText()) not in (None, FROM_TEACHER):
                self._class_note()
            self.data_summary.setStyleSheet("font-family: monospace; font-size: 11px")
            self.data_summary.setText(res["summary"])
            if res["problems"]:
                n = len(res["problems"])
                self.problems.setPlainText("\n".join(res["problems"][:500]))
                self.problems.show()
                self.confirm.setText(f"I have read the {n} problem(s): train without the unusable files")
                self.confirm.show()
            if self.kind == "student" and not self.teacher_box.currentText():
                t = newest_teacher(self.runs, spec)
                if t:
                    self.teacher_box.setCurrentText(str(t.best_weights))
            if BUDGETS.get(self.budget_box.currentText()):
                self._suggest()        # settings for the dataset now chosen
        self._update()

    # ------------------------------------------------------------------------------- teacher
    def _teachers(self, registered: list, teacher: str):
        data = self.data_box.currentText()
        for r in self.runs:
            if r.kind == "teacher" and r.status == "finished" and r.best_weights.is_file():
                score = f"mAP50 {r.best_map50:.3f}" if r.best_map50 is not None else ""
                self.teacher_box.addItem(str(r.best_weights))
                self.teacher_box.setItemData(self.teacher_box.count() - 1, f"{r.name}: {r.dataset} {score}",
                                             Qt.ToolTipRole)
        for c in registered:
            if getattr(c, "kind", "") == "teacher":
                self.teacher_box.addItem(c.name)
        self.teacher_box.addItem("default")
        t = newest_teacher(self.runs, data)
        self.teacher_box.setCurrentText(teacher or (str(t.best_weights) if t else ""))

    def _teacher_changed(self, teacher: str):
        """A student takes the chosen teacher's run settings (read in the background)."""
        teacher = teacher.strip()
        self._teacher_reading = teacher
        if not teacher:
            self.inherit_note.setText("")
            return
        self.inherit_note.setText(f"reading the settings of {teacher} …")
        self.bg.submit(lambda: teacher_settings(teacher), lambda d: self._inherit(teacher, d),
                       lambda e: teacher == self._teacher_reading and self.inherit_note.setText(
                           f"the teacher's settings could not be read ({e}): the run uses those below"))

    def _inherit(self, teacher: str, d: dict):
        if teacher != self._teacher_reading:
            return   # the choice moved on
        self.inherit_note.setText("")
        if not d:
            self.inherit_note.setText("the teacher's checkpoint records no run settings: the run uses those below")
            return
        for form in (self.basic, self.advanced):
            form.set_values(d)
        if any(k in AUGMENT_KEYS for k in d):
            self.aug_box.blockSignals(True)
            self.aug_box.setCurrentText("custom")
            self.aug_box.blockSignals(False)
        self.inherit_note.setText(f"As its teacher was trained: {d.get('epochs', '?')} epochs at {d.get('imgsz', '?')} "
                                  f"px, batch {d.get('batch', '?')}, the same augmentation (change them below).")
        self._update()

    def _start_changed(self, text: str):
        # a run that starts from weights has their architecture: the model choice would be ignored
        scratch = _start_weights(text) is None
        start = _start_weights(text)
        if start is None:
            self.start_note.setText("Every layer starts from random weights: expect many more epochs than from a "
                                    "pretrained start on a few hundred images.")
        elif start == FROM_TEACHER:
            self.start_note.setText("The student begins as its teacher.")
        else:
            if start in TRAINING_STARTS:
                about = ("the model pretrained on public surface-defect sets, two of them non-commercial: see "
                         "resources/models/README.md; ")
                classes = ("the class layers start afresh for your classes (its own are named after their sets, "
                           "such as neu:scratches).")
            else:
                about, classes = "", ("a class of yours that it knows by the same name keeps its class layers, and "
                                      "the class layers start afresh for the others.")
            self._start_text = (f"Starts from {start} ({about}its architecture): every layer that fits is "
                                f"loaded; {classes}")
            self._class_note()
        if self.budget_box.currentText() != "(set by hand)":
            self._suggest()
        if self.kind == "teacher":
            self.basic.fields["model"].widget.setEnabled(scratch)
            self.basic.fields["model"].widget.setToolTip("" if scratch else "the run takes the architecture of its "
                                                                            "starting weights")
            if not scratch:   # show the architecture the run will have, and its classes (read in the background)
                self.bg.submit(lambda: start_facts(start), lambda facts: self._show_start(start, *facts),
                               lambda e: None)   # unreadable weights: Start names the file and the problem
        self._update()

    def _show_start(self, start: str, name: str, classes: list[str]):
        if _start_weights(self.start_box.currentText()) == start:    # the choice has not moved on
            self.basic.fields["model"].set(name)
            self._start_names = (start, classes)
            self._class_note()

    def _class_note(self):
        """The Start from note, and which of the dataset's classes keep their class layers once both
        the start's classes and the dataset's are known."""
        start = _start_weights(self.start_box.currentText())
        text = self._start_text
        if self._start_names and self._start_names[0] == start and self.checked:
            text += " " + class_note(self._start_names[1], list(self.checked["names"]))
        self.start_note.setText(text)

    def _weights_choice(self, title: str, name: str, tip: str) -> tuple[QComboBox, QGroupBox]:
        """An editable weights box with a Weights… browser, in a group titled ``title``."""
        box = QComboBox()
        box.setEditable(True)
        box.setObjectName(name)
        box.setToolTip(tip)
        browse = QPushButton("Weights…")
        browse.clicked.connect(lambda: self._browse_into(box, f"{title} weights"))
        group = QGroupBox(title)
        row = QHBoxLayout(group)
        row.addWidget(box, 1)
        row.addWidget(browse)
        return box, group

    def _browse_into(self, box: QComboBox, title: str):
        f, _ = QFileDialog.getOpenFileName(self, title, str(self.root), "Weights (*.pt);;All (*)")
        if f:
            box.setCurrentText(f)

    # ------------------------------------------------------------------------------ settings
    def _aug_preset(self, name: str):
        if name in AUGMENT_PRESETS:
            self.advanced.set_values(augment_preset(name))

    def _suggest(self):
        """Fill the settings from the dataset and the time budget (in the background)."""
        budget = BUDGETS.get(self.budget_box.currentText())
        data = self.data_box.currentText().strip()
        if budget is None or not data:
            self.budget_note.setText("")
            if budget is None:          # set by hand: the epochs as given, no re-plan
                self.advanced.set_values({"time_budget_s": 0.0})
            return
        start = _start_weights(self.start_box.currentText())
        arch = self._architecture_source(start)
        key = (data, budget, start is not None, arch)
        self._suggesting = key
        self.budget_note.setText(f"choosing settings for {self.budget_box.currentText()} "
                                 "(reading the dataset, timing a few steps) …")
        self.bg.submit(lambda: suggested_settings(data, budget, start is not None, arch),
                       lambda r: self._suggested(key, r),
                       lambda e: key == self._suggesting and self.budget_note.setText(f"no settings chosen: {e}"))

    def _model_changed(self, *_):
        if BUDGETS.get(self.budget_box.currentText()) and _start_weights(self.start_box.currentText()) is None:
            self._suggest()

    def _architecture_source(self, start: str | None) -> str:
        """What fixes the run's architecture, for timing it: the teacher's weights (a student), the
        starting weights, or the model chosen for a run from scratch."""
        if self.kind == "student":
            return self.teacher_box.currentText().strip()
        return start or str(self.basic.fields["model"].value() or TrainConfig.model)

    def _suggested(self, key, r: dict):
        if key != self._suggesting:
            return   # the choice moved on
        for form in (self.basic, self.advanced):
            form.set_values(r["settings"])
        chosen = {k: r["settings"][k] for k in augment_preset("default") if k in r["settings"]}
        self.aug_box.blockSignals(True)     # the preset the settings are, by name; else custom
        self.aug_box.setCurrentText(next((n for n in AUGMENT_PRESETS if augment_preset(n) == chosen), "custom"))
        self.aug_box.blockSignals(False)
        shown = ("imgsz", "epochs", "time_budget_s", "val_interval", "batch", "freeze_epochs", "lr0", "mosaic", "cpu_bf16")
        self.budget_note.setText("\n".join(f"{k} {r['settings'][k]}: {r['reasons'][k]}" for k in shown
                                           if k in r["reasons"]) + f"\n(about {r['epoch_s']:.0f} s an epoch here; "
                                                                   "change any setting below)")
        self._update()

    def settings(self) -> dict:
        """The run's settings that differ from the defaults, with the basic ones (raises ValueError
        naming a bad one)."""
        d = {**self.advanced.values(), **self.basic.values()}
        start = _start_weights(self.start_box.currentText())
        if self.kind == "student":
            d.update(self.kd.values())
            d.pop("model", None)
            d["teacher"] = self.teacher_box.currentText().strip() or None
            if start == FROM_TEACHER:
                start = d["teacher"]
        if start:
            d["weights"] = start
        d["data"] = self.data_box.currentText().strip()
        TrainConfig.from_dict(d)
        base = TrainConfig()
        return {k: v for k, v in d.items() if k in TRAIN_BASIC or k in ("data", "teacher", "weights") or v != getattr(base, k)}

    def out(self) -> Path:
        return Path(self.out_edit.text().strip())

    def problem(self) -> str:
        """Why Start is off, or ''."""
        try:
            s = self.settings()
        except (TypeError, ValueError) as e:
            return str(e)
        if self.kind == "student" and not s.get("teacher"):
            return "choose a teacher"
        w = s.get("weights")
        if w and self.start_box.findText(w) < 0 and self.teacher_box.findText(w) < 0 and not Path(w).is_file():
            return f"{w}: no such weights file to start from"
        if not self.out_edit.text().strip():
            return "choose a run folder"
        if (self.out() / "weights" / "last.pt").exists():
            return f"{self.out()} already holds a run; choose another folder"
        if self.check_error:
            return self.check_error
        if self.checked is None:
            return "checking the dataset …"
        if self.checked["problems"] and not self.confirm.isChecked():
            return f"the dataset has {len(self.checked['problems'])} problem(s): read them and confirm to start"
        return ""

    def _update(self, *_):
        why = self.problem()
        self.start_btn.setEnabled(not why)
        self.error.setText("" if why.startswith("checking") else why)

    def accept(self):
        if self.problem():
            return
        super().accept()

    # ------------------------------------------------------------------------------- presets
    def load_preset(self, name: str):
        if name == "(defaults)":
            d = TrainConfig().to_dict()
        else:
            try:
                d = self.presets.load(name)
            except ValueError as e:
                QMessageBox.warning(self, "Preset", str(e))
                return
        for form in (self.basic, self.kd, self.advanced):
            form.set_values(d)
        self.aug_box.setCurrentText("custom")
        self._update()

    def _save_preset(self):
        name, ok = QInputDialog.getText(self, "Save preset", "Preset name:")
        if not ok or not name.strip():
            return
        try:
            self.presets.save(name.strip(), self.settings())
        except ValueError as e:
            QMessageBox.warning(self, "Preset", str(e))
            return
        if self.preset_box.findText(name.strip()) < 0:
            self.preset_box.addItem(name.strip())
        self.preset_box.setCurrentText(name.strip())
