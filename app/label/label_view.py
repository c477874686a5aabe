"""The labelling view: a dataset's images, the canvas, the classes, pre-labelling and the review loop.

Datasets open and images load in the background; labels save atomically when the user moves on
(or presses Ctrl+S anywhere in the window), and the header says when there are unsaved changes
(undoing back to what is on disk clears it).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QInputDialog, QLabel, QListView,
                               QMessageBox, QPushButton, QSplitter, QToolBar, QVBoxLayout, QWidget)

from app.label.canvas import LabelCanvas
from app.label.class_map_dialog import ClassMapDialog, match_by_name
from app.label.class_panel import ClassPanel
from app.label.conflict import ask_reload
from app.label.dataset_dialogs import SplitDialog, StatsDialog
from app.label.file_list import FileListModel
from app.label.shortcuts import ShortcutsDialog, keymap
from app.services.background import Background
from core.config import PREDICT_CONF
from core.data.annotation import Annotation, Box
from core.data.formats import SaveConflict
from core.labels.project import FILTERS, LabelProject
from core.settings import Settings

KEYS_HINT = ("Drag to draw a box (or click two corners) · digits pick the class · A / D previous / next · "
             "O defect-free · Enter accepts a proposal · Delete removes · wheel zooms, right-drag pans · "
             "Labelling → Shortcuts… to change keys")


def _load_image(path: Path):
    from core.data.imageio import read_image

    return read_image(path)


class LabelView(QWidget):
    status = Signal(str)
    train_requested = Signal(str)     # a dataset spec for the training view's teacher dialog

    def __init__(self, settings: Settings, parent=None):
        super().__init__(parent)
        self.settings = settings
        self.project: LabelProject | None = None
        self.item = None
        self.ann: Annotation | None = None
        self.state = "unlabelled"
        self.dirty = False
        self._saved = None              # the canvas content and state as on disk
        self._reselect = None           # the image to show again once the dataset is reopened
        self.prev_boxes: list[Box] = []
        self._path = ""                 # what was opened (reopened after a class edit is undone)
        self._class_maps: dict[tuple[str, str], dict] = {}   # (dataset, model) -> {model class: class}
        self.bg = Background(self, name="labelling")
        self.pre_bg = Background(self, name="prelabel")
        self._loading = None
        self._predictors: dict[str, object] = {}

        self.model = FileListModel(self)
        self.list = QListView()
        self.list.setModel(self.model)
        self.list.setUniformItemSizes(True)       # virtualised: 10,000+ rows stay instant
        self.list.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.list.selectionModel().currentRowChanged.connect(lambda cur, _: self._row_chosen(cur.row()))
        self.filter_box = QComboBox()
        self.filter_box.addItems(FILTERS)
        self.class_filter = QComboBox()
        self.class_filter.addItem("any class")
        self.filter_box.currentTextChanged.connect(self._filter)
        self.class_filter.currentIndexChanged.connect(self._filter)
        self.counts = QLabel("")
        self.counts.setWordWrap(True)
        self.counts.setStyleSheet("color:#90a4ae; font-size:11px")
        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.filter_box)
        ll.addWidget(self.class_filter)
        ll.addWidget(self.list, 1)
        ll.addWidget(self.counts)

        self.canvas = LabelCanvas()
        self.canvas.changed.connect(self._changed)
        self.canvas.needs_class.connect(self._first_class)
        self.header = QLabel("")
        self.header.setObjectName("label_header")
        self.header.setWordWrap(True)
        self.hint = QLabel(KEYS_HINT)
        self.hint.setStyleSheet("color:#90a4ae; font-size:11px")
        self.hint.setWordWrap(True)
        mid = QWidget()
        ml = QVBoxLayout(mid)
        ml.setContentsMargins(0, 0, 0, 0)
        ml.addWidget(self.header)
        ml.addWidget(self.canvas, 1)
        ml.addWidget(self.hint)

        self.classes = ClassPanel()
        self.classes.chosen.connect(self._class_chosen)
        self.classes.added.connect(lambda c: setattr(self.canvas, "current_class", c))
        self.classes.edited.connect(self._classes_edited)
        self.classes.merged.connect(self._merged)
        self.classes.before_edit = self._leave
        self.classes.restored.connect(self.reload)

        self.toolbar = QToolBar("Labelling")
        self.models_box = QComboBox()
        self.models_box.setToolTip("the model that pre-labels (bundled or registered)")
        self.models_box.setMinimumWidth(130)
        for text, slot in (("Open dataset…", self.open_dataset_dialog), ("Open image folder…", self.open_folder_dialog)):
            b = QPushButton(text)
            b.clicked.connect(slot)
            self.toolbar.addWidget(b)
        self.toolbar.addSeparator()
        self.btn_ok = QPushButton("Defect-free (OK)")
        self.btn_ok.clicked.connect(self.toggle_ok)
        self.btn_save = QPushButton("Save")
        self.btn_save.clicked.connect(self.save)
        self.toolbar.addWidget(self.btn_ok)
        self.toolbar.addWidget(self.btn_save)
        self.toolbar.addSeparator()
        self.toolbar.addWidget(QLabel(" Pre-label with "))
        self.toolbar.addWidget(self.models_box)
        for text, slot in (("This image", self.prelabel_current), ("Selected images", self.prelabel_selected)):
            b = QPushButton(text)
            b.clicked.connect(slot)
            self.toolbar.addWidget(b)
        self.toolbar.addSeparator()
        for text, slot in (("Split…", self.split_dialog), ("Statistics…", self.stats_dialog),
                           ("Train on this dataset", self.train_on_this)):
            b = QPushButton(text)
            b.clicked.connect(slot)
            self.toolbar.addWidget(b)

        split = QSplitter(Qt.Horizontal)
        split.addWidget(left)
        split.addWidget(mid)
        split.addWidget(self.classes)
        split.setSizes([320, 900, 240])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.toolbar)
        lay.addWidget(split, 1)

        self.shortcuts: list[QShortcut] = []
        self.apply_shortcuts()
        for d in range(1, 10):
            QShortcut(QKeySequence(str(d)), self, lambda d=d: self._digit(d), context=Qt.WidgetWithChildrenShortcut)
        self.canvas.set_image(None, [], [], [], "")
        self._header()
        self.refresh_models()

    # ----------------------------------------------------------------------------- opening
    def open_dataset_dialog(self):
        f, _ = QFileDialog.getOpenFileName(self, "Open dataset", "", "Datasets (*.yaml *.yml *.json *.xml);;All (*)")
        if not f:
            f = QFileDialog.getExistingDirectory(self, "…or a dataset folder (VOC, COCO, CVAT)")
        if f:
            self.open_path(f)

    def open_folder_dialog(self):
        d = QFileDialog.getExistingDirectory(self, "Folder of images (a new dataset)")
        if d:
            self.open_path(d)

    def open_path(self, path: str, flt: str = "all", save: bool = True):
        """Open a dataset or an image folder in the background, then show it filtered by ``flt``."""
        if save and not self._leave():
            return
        self._path = str(path)
        self.dirty = False
        self.status.emit(f"opening {path} …")
        self.header.setText(f"opening {path} …")
        self.bg.submit(lambda: LabelProject.open(path), lambda p: self._opened(p, flt),
                       lambda e: self._open_failed(path, e))

    def _open_failed(self, path, e):
        msg = str(e) if str(path) in str(e) else f"{path}: {e}"
        self.header.setText(msg)
        self.status.emit(msg)

    def _opened(self, project: LabelProject, flt: str):
        self.project = project
        self.item = None
        self.settings["label_last"] = str(project.root)
        self.classes.set_project(project)
        self.class_filter.blockSignals(True)
        self.class_filter.clear()
        self.class_filter.addItems(["any class"] + project.names)
        self.class_filter.blockSignals(False)
        self.filter_box.blockSignals(True)
        self.filter_box.setCurrentText(flt)
        self.filter_box.blockSignals(False)
        self.model.set_project(project)
        self.model.set_filter(flt, None)
        self._counts()
        self.status.emit(f"{project.root}: {project.format} dataset, {len(project.items)} images, "
                         f"{len(project.names)} classes")
        again = next((r for r in range(self.model.rowCount()) if self.model.item(r).key == self._reselect), 0)
        self._reselect = None
        if self.model.rowCount():
            self.list.setCurrentIndex(self.model.index(again))
        else:
            self.canvas.set_image(None, [], [], [], "No image matches the filter.")
            self._header()

    def _filter(self, *_):
        if self.project is None:
            return
        self._leave()
        c = self.class_filter.currentIndex() - 1
        self.model.set_filter(self.filter_box.currentText(), c if c >= 0 else None)
        row = self.model.row_of(self.item)
        if row >= 0:
            self.list.setCurrentIndex(self.model.index(row))
        elif self.model.rowCount():
            self.list.setCurrentIndex(self.model.index(0))

    def _counts(self):
        if self.project is None:
            return
        c = self.project.counts()
        self.counts.setText(f"{c['all']} images · {c['labelled']} labelled · {c['defect-free (OK)']} OK · "
                            f"{c['unlabelled']} unlabelled · {c['unreviewed']} unreviewed · "
                            f"{c['from the line']} from the line" + (f" · {c['with problems']} with problems"
                                                                     if c['with problems'] else ""))

    # --------------------------------------------------------------------------- navigation
    def _row_chosen(self, row: int):
        it = self.model.item(row)
        if it is None or it is self.item:
            return
        if not self._leave():
            return
        self.item = it
        self.ann = None           # nothing to save until the image and its labels are in
        self._loading = it
        project = self.project

        def work():
            img = _load_image(it.image)
            h, w = img.shape[:2]
            ann, props = project.load(it, w, h)
            return img, ann, props

        self.bg.submit(work, lambda r: self._shown(it, *r), lambda e: self._show_failed(it, e))

    def _shown(self, it, img, ann: Annotation, props):
        if it is not self._loading:
            return   # the user moved on meanwhile
        self.ann = ann
        self.state = ann.state
        self.canvas.set_image(img, ann.boxes, props, self.project.shown_names, n_classes=len(self.project.names))
        self._mark_saved()
        self.canvas.setFocus()
        self._header()

    def _mark_saved(self):
        """What is on the canvas now is what is on disk."""
        self._saved = (self.canvas.content(), self._state())
        self.dirty = False

    def _state(self) -> str:
        return "labelled" if self.canvas.boxes else ("ok" if self.state == "ok" else "unlabelled")

    def _show_failed(self, it, e):
        if it is not self._loading:
            return
        self.ann = None
        self.dirty = False
        msg = f"{e}" if str(it.image) in str(e) else f"{it.image}: {e}"
        self.canvas.set_image(None, [], [], [], msg)
        self._header(error=msg)

    def go(self, step: int, needs_work: bool = False):
        if self.project is None or not self.model.rowCount():
            return
        row = self.list.currentIndex().row()
        n = self.model.rowCount()
        r = row
        for _ in range(n):
            r = min(max(r + step, 0), n - 1)
            it = self.model.item(r)
            if not needs_work or it.state == "unlabelled" or it.unreviewed or r in (0, n - 1):
                break
        if r != row:
            self.list.setCurrentIndex(self.model.index(r))

    def _leave(self) -> bool:
        """Save what changed before the image goes away; False if it could not be saved."""
        if self.dirty and self.item is not None:
            return self.save()
        return True

    # -------------------------------------------------------------------------------- edits
    def _changed(self):
        if self.canvas.boxes and self.state == "ok":
            self.state = "labelled"
        self.dirty = self.ann is not None and (self.canvas.content(), self._state()) != self._saved
        self._header()

    def _first_class(self, x1, y1, x2, y2):
        """A box drawn before the dataset has a class: name the first class, then the box is added."""
        if self.project is None:
            return
        name, ok = QInputDialog.getText(self, "Name the first class",
                                        "This dataset has no classes yet. What is this box (e.g. scratch)?\n"
                                        "More classes: Add… in the class panel.")
        if not ok or not name.strip():
            self.status.emit("no class named: the box was not added")
            return
        if not self.classes.add_named(name):
            return
        self.canvas.set_class(len(self.project.names) - 1)
        self.canvas.add_box(x1, y1, x2, y2)

    def _digit(self, d: int):
        if self.project is None:
            return
        if d > len(self.project.names):
            self.status.emit(f"there is no class {d} (the dataset has {len(self.project.names)})")
            return
        self.canvas.set_class(d - 1)
        self.classes.set_current(d - 1)

    def _class_chosen(self, cls: int):
        self.canvas.set_class(cls)

    def toggle_ok(self):
        if self.ann is None:
            return
        if self.canvas.boxes:
            self.status.emit("an image with boxes cannot be defect-free: delete its boxes first")
            return
        self.state = "unlabelled" if self.state == "ok" else "ok"
        self._changed()

    def copy_previous(self):
        self.canvas.paste(self.prev_boxes)

    def save(self) -> bool:
        if self.project is None or self.item is None or self.ann is None:
            return True
        try:   # an accepted proposal of a class the dataset lacks: the class joins the list now
            self.project.accept_classes(b.cls for b in self.canvas.boxes)
            if len(self.project.names) != self.canvas.n_classes:
                self._classes_edited(f"class list: {', '.join(self.project.names)}")
                self.classes.refresh()
            boxes = list(self.canvas.boxes)
            ann = Annotation(self.ann.width, self.ann.height, boxes, self._state())
            self.project.save(self.item, ann, self.canvas.proposals)
        except SaveConflict as e:   # another hand saved it: nothing written, reload on request
            if ask_reload(self, "Save", e):
                self.reload()
            return False
        except (OSError, ValueError) as e:
            QMessageBox.warning(self, "Save", f"Cannot save the labels of {self.item.image}: {e}\n"
                                "Your edits are still on the canvas.")
            return False
        self.prev_boxes = [b.copy(raw=None, orig=None) for b in boxes]
        self.ann = ann
        self._mark_saved()
        self.model.changed(self.item)
        self._counts()
        self._header()
        return True

    def reload(self):
        """The dataset as it is on disk now, on the same image; edits not saved are dropped."""
        self._reselect = self.item.key if self.item is not None else None
        self.open_path(self._path, self.filter_box.currentText(), save=False)

    def _reload_current(self):
        it, self.item = self.item, None
        self.dirty = False
        self.class_filter.blockSignals(True)
        self.class_filter.clear()
        self.class_filter.addItems(["any class"] + self.project.names)
        self.class_filter.blockSignals(False)
        self.model.refilter()
        if it is not None and self.model.row_of(it) >= 0:
            self.list.setCurrentIndex(self.model.index(self.model.row_of(it)))
            self._row_chosen(self.model.row_of(it))

    def _merged(self, src: int, dst: int, what: str):
        """New boxes take the class the merged boxes became; the open image reloads (its file may have moved)."""
        self.status.emit(what)
        c = self.canvas.current_class
        c = dst if c == src else c
        self.canvas.set_names(self.project.shown_names, len(self.project.names))
        self.canvas.current_class = c - 1 if c > src else c
        self._reload_current()

    def _classes_edited(self, msg: str):
        """The class list changed (added, renamed, or a proposed class accepted): the canvas follows by name."""
        self.status.emit(msg)
        old, new = self.canvas.names, self.project.shown_names
        self.canvas.remap_classes({i: new.index(n) for i, n in enumerate(old) if n in new and new.index(n) != i})
        self.canvas.set_names(new, len(self.project.names))
        self.canvas._draw()
        self.class_filter.blockSignals(True)
        self.class_filter.clear()
        self.class_filter.addItems(["any class"] + self.project.names)
        self.class_filter.blockSignals(False)

    def _header(self, error: str = ""):
        if self.project is None:
            self.header.setText("No dataset open: open a dataset (data.yaml, VOC or COCO) or a folder of images.")
            return
        if self.item is None:
            self.header.setText(f"{self.project.root} ({self.project.format})")
            return
        it = self.item
        state = "labelled" if self.canvas.boxes else self.state
        bits = [f"<b>{it.key}</b>", {"ok": "defect-free (OK)"}.get(state, state),
                f"{len(self.canvas.boxes)} box(es)"]
        if self.canvas.proposals:
            bits.append(f"<span style='color:#ffb74d'>{len(self.canvas.proposals)} proposal(s) to review</span>")
        if it.from_line:
            bits.append("from the line")
        if self.dirty:
            bits.append("<span style='color:#ffb74d'>● unsaved changes</span>")
        if error or it.problem:
            bits.append(f"<span style='color:#ff8a65'>{error or it.problem}</span>")
        self.header.setText(" · ".join(bits))

    # ---------------------------------------------------------------------------- pre-label
    def refresh_models(self):
        from core.detector import model_names

        self.bg.submit(model_names, self._models, lambda e: self.status.emit(f"model list: {e}"))

    def _models(self, names):
        keep = self.models_box.currentText()
        self.models_box.clear()
        self.models_box.addItems(names)
        if keep:
            self.models_box.setCurrentText(keep)

    def _proposals_for(self, name: str, items):
        """Worker: detections of model ``name`` for ``items`` -> [(item, [(class name, x1, y1, x2, y2, score)])]."""
        from core.detector import Detector

        pred = self._predictors.get(name)
        if pred is None:
            pred = self._predictors[name] = Detector(name).predictor(conf=PREDICT_CONF)
        out = []
        for it in items:
            det = pred(_load_image(it.image))
            out.append((it, [(pred.names[int(c)], *map(float, b), float(s))
                             for b, s, c in zip(det.boxes, det.scores, det.classes)]))
        return out

    def _apply_proposals(self, model: str, results):
        """Proposals onto the images, each model class mapped to the dataset's (by name, else asked once
        per model); a class the dataset lacks waits as pending until a proposal of it is accepted."""
        p = self.project
        if p is None:
            return
        cmap = self._class_maps.setdefault((str(p.root), model), {})
        seen = sorted({d[0] for _, dets in results for d in dets})
        for n in seen:
            if n not in cmap and match_by_name(n, p.names):
                cmap[n] = match_by_name(n, p.names)
        ask = [n for n in seen if n not in cmap]
        if ask:
            dlg = ClassMapDialog(model, ask, p.names, self)
            if not dlg.exec():
                self.status.emit("pre-labelling cancelled: no proposals added")
                return
            cmap.update(dlg.mapping())
        n = 0
        for it, dets in results:
            boxes = [Box(p.shown_id(cmap[c]), x1, y1, x2, y2, score=sc)
                     for c, x1, y1, x2, y2, sc in dets if cmap.get(c)]
            n += len(boxes)
            p.propose(it, boxes)   # stored beside the dataset at once
            self.model.changed(it)
            if it is self.item:
                clean = not self.dirty
                self.canvas.set_names(p.shown_names, len(p.names))
                self.canvas._snapshot()
                self.canvas.proposals = boxes
                self.canvas._draw()
                self._mark_saved() if clean else self._changed()
        self._counts()
        self._header()
        self.status.emit(f"pre-labelled {len(results)} image(s) with {model}: {n} proposal(s) to review")

    def _prelabel(self, items):
        name = self.models_box.currentText()
        if self.project is None or not items or not name:
            return
        self.status.emit(f"pre-labelling {len(items)} image(s) with {name} …")
        self.pre_bg.submit(lambda: self._proposals_for(name, items), lambda r: self._apply_proposals(name, r),
                           lambda e: self.status.emit(f"pre-labelling failed: {e}"))

    def prelabel_current(self):
        if self.item is not None:
            self._prelabel([self.item])

    def prelabel_selected(self):
        rows = sorted(i.row() for i in self.list.selectionModel().selectedIndexes())
        self._prelabel([self.model.item(r) for r in rows if self.model.item(r) is not None])

    # ----------------------------------------------------------------------------- dataset
    def split_dialog(self) -> str | None:
        if self.project is None or not self._leave():
            return None
        dlg = SplitDialog(self.project, self)
        if dlg.exec():
            self.model.refilter()
            self.status.emit(f"splits written: use --data {dlg.result_spec}")
            return dlg.result_spec
        return None

    def stats_dialog(self):
        if self.project is None or not self._leave():
            return
        from core.labels.stats import dataset_stats

        project = self.project
        self.status.emit("counting …")
        self.bg.submit(lambda: dataset_stats(project), lambda s: StatsDialog(s, self).exec(),
                       lambda e: self.status.emit(f"statistics: {e}"))

    def train_on_this(self):
        """The teacher-run dialog on this dataset; a new image folder gets its splits first."""
        if self.project is None or not self._leave():
            return
        p = self.project
        unsplit = sum(it.state in ("labelled", "ok") and not it.split and not it.problem for it in p.items)
        new = p.format == "yolo" and p.editor.yaml_path is None
        if p.editor.splits_here and (new or unsplit):
            why = ("This folder has no train/val split yet" if new
                   else f"{unsplit} labelled or defect-free image(s) are in no split yet")
            QMessageBox.information(self, "Train on this dataset",
                                    f"{why}: choose one. Only images you labelled or marked defect-free are "
                                    "trained on; unlabelled images stay out.")
            if self.split_dialog() is None:
                return
        self.train_requested.emit(p.data_spec())

    # ---------------------------------------------------------------------------- the window
    def apply_shortcuts(self):
        for s in self.shortcuts:
            s.setParent(None)
        keys = keymap(self.settings["label_shortcuts"])
        slots = {"prev": lambda: self.go(-1), "next": lambda: self.go(1),
                 "next_unlabelled": lambda: self.go(1, needs_work=True), "save": self.save,
                 "undo": self.canvas.undo, "redo": self.canvas.redo, "delete": self.canvas.delete_selected,
                 "accept": self.canvas.accept, "accept_all": lambda: self.canvas.accept(all_=True),
                 "reject_all": self.canvas.reject_all, "mark_ok": self.toggle_ok, "copy_previous": self.copy_previous,
                 "select_next_box": self.canvas.select_next, "fit": self.canvas.fit, "prelabel": self.prelabel_current}
        # Ctrl+S saves wherever the focus is in the window (the tab bar, the menus); the rest act
        # within this view, so that they never fire while another tab is in front
        self.shortcuts = [QShortcut(QKeySequence(keys[k]), self, slot,
                                    context=Qt.WindowShortcut if k == "save" else Qt.WidgetWithChildrenShortcut)
                          for k, slot in slots.items()]
        self.keys = keys

    def edit_shortcuts(self):
        dlg = ShortcutsDialog(self.keys, self)
        if dlg.exec():
            self.settings["label_shortcuts"] = dlg.values()
            self.settings.save()
            self.apply_shortcuts()

    def menus(self) -> dict[str, list]:
        def act(text, slot):
            a = QAction(text, self)
            a.triggered.connect(slot)
            return a

        return {"&Labelling": [act("Open dataset…", self.open_dataset_dialog),
                               act("Open image folder…", self.open_folder_dialog), None,
                               act("Split…", self.split_dialog), act("Statistics…", self.stats_dialog),
                               act("Train on this dataset", self.train_on_this), None,
                               act("Shortcuts…", self.edit_shortcuts)]}

    def confirm_close(self) -> bool:
        return self._leave()

    def shutdown(self):
        self.bg.shutdown()
        self.pre_bg.shutdown()
        self.classes.bg.shutdown()
