"""The class manager: stable ids and colours; add, rename and merge classes across the dataset.

Every class edit leaves a backup of the files it rewrites (``core.labels.backup``): *Undo class
edit* puts the newest back. After a merge no class is selected, so a second click on *Merge into…*
cannot merge the target away too; new boxes take the class the merged boxes became.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (QHBoxLayout, QInputDialog, QListWidget, QListWidgetItem, QMessageBox,
                               QProgressDialog, QPushButton, QVBoxLayout, QWidget)

from app.label.canvas import qcolor
from app.label.conflict import ask_reload
from app.services.background import Background
from core.data.formats import SaveConflict


def swatch(cls: int) -> QIcon:
    pm = QPixmap(14, 14)
    pm.fill(qcolor(cls))
    return QIcon(pm)


class ClassPanel(QWidget):
    chosen = Signal(int)              # the class for new boxes (and the selected one)
    added = Signal(int)               # a class was added: the class for new boxes (the selected box keeps its own)
    edited = Signal(str)              # what changed, for the status bar
    merged = Signal(int, int, str)    # (src, dst, what): labels changed on disk, the open image reloads
    restored = Signal()               # a class edit was undone: the dataset reopens

    def __init__(self, parent=None):
        super().__init__(parent)
        self.project = None
        self.before_edit = lambda: True   # the view saves the open image first (False: it could not)
        self.bg = Background(self, name="class-merge")
        self.list = QListWidget()
        self.list.currentRowChanged.connect(lambda r: r >= 0 and self.chosen.emit(r))
        self.b_add, self.b_rename, self.b_merge = QPushButton("Add…"), QPushButton("Rename…"), QPushButton("Merge into…")
        self.b_undo = QPushButton("Undo class edit")
        self.b_add.clicked.connect(self.add)
        self.b_rename.clicked.connect(self.rename)
        self.b_merge.clicked.connect(self.merge)
        self.b_undo.clicked.connect(self.undo)
        row = QHBoxLayout()
        for b in (self.b_add, self.b_rename, self.b_merge):
            row.addWidget(b)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.list, 1)
        lay.addLayout(row)
        lay.addWidget(self.b_undo)
        self._undo_state()

    def set_project(self, project):
        self.project = project
        self.refresh()

    def refresh(self, keep: int | None = None):
        """Redraw the list; ``keep``: the row to select (-1: none), else the current one."""
        row = self.list.currentRow() if keep is None else keep
        self.list.blockSignals(True)
        self.list.clear()
        for i, n in enumerate(self.project.names if self.project else []):
            key = f"{i + 1}  " if i < 9 else "    "
            self.list.addItem(QListWidgetItem(swatch(i), f"{key}{n}   (id {i})"))
        self.list.setCurrentRow(-1 if keep == -1 else min(max(row, 0), self.list.count() - 1))
        self.list.blockSignals(False)
        self._undo_state()

    def _undo_state(self):
        last = self.project.backups.latest() if self.project else None
        self.b_undo.setEnabled(last is not None)
        self.b_undo.setToolTip(f"undo: {last['what']} (the files as they were are in {last['path']})" if last
                               else "class edits (add, rename, merge) can be undone here")

    def set_current(self, cls: int):
        if 0 <= cls < self.list.count():
            self.list.blockSignals(True)
            self.list.setCurrentRow(cls)
            self.list.blockSignals(False)

    def add(self):
        if self.project is None:
            return
        name, ok = QInputDialog.getText(self, "Add class", "Class name:")
        if ok and self.add_named(name):
            self.added.emit(len(self.project.names) - 1)

    def add_named(self, name: str) -> bool:
        """Add class ``name`` and select it (a message says why not)."""
        if self._try(lambda: self.project.add_class(name)):
            self.refresh(len(self.project.names) - 1)
            self.edited.emit(f"class '{name.strip()}' added")
            return True
        return False

    def rename(self):
        i = self.list.currentRow()
        if self.project is None or i < 0:
            return
        old = self.project.names[i]
        name, ok = QInputDialog.getText(self, "Rename class", f"New name for '{old}':", text=old)
        if ok and name.strip() != old and self.before_edit() and self._try(lambda: self.project.rename_class(i, name)):
            self.refresh(i)
            self.edited.emit(f"class '{old}' renamed to '{name.strip()}' across the dataset")

    def merge(self):
        i = self.list.currentRow()
        if self.project is None or i < 0 or len(self.project.names) < 2:
            return
        others = [n for k, n in enumerate(self.project.names) if k != i]
        src = self.project.names[i]
        dst, ok = QInputDialog.getItem(self, "Merge class", f"Every '{src}' box becomes:", others, 0, False)
        if not ok:
            return
        j = self.project.names.index(dst)
        if QMessageBox.question(self, "Merge class", f"Relabel every '{src}' box as '{dst}' and remove '{src}' "
                                f"from the class list? Label files are rewritten (a backup is kept: "
                                f"Undo class edit restores them).", defaultButton=QMessageBox.No) \
                != QMessageBox.Yes or not self.before_edit():
            return
        wait = QProgressDialog(f"Merging '{src}' into '{dst}'…", None, 0, 0, self)
        wait.setWindowModality(Qt.WindowModal)   # no edits while files are rewritten
        wait.show()

        def done(n):
            wait.close()
            self.refresh(-1)    # no class selected: a second Merge click cannot merge the target away
            self.merged.emit(i, j, f"'{src}' merged into '{dst}': {n} label file(s) rewritten "
                                   "(Undo class edit restores them)")

        def failed(e):
            wait.close()
            self._failed(e)

        self.bg.submit(lambda: self.project.merge_class(i, j), done, failed)

    def undo(self):
        """Put back the files of the newest class edit, after saying what it was and what else it undoes."""
        last = self.project.backups.latest() if self.project else None
        if last is None or not self.before_edit():
            return
        since = self.project.backups.changed_since(last)
        more = (f"\n\n{len(since)} of those files were saved again since: those later edits are undone too."
                if since else "")
        if QMessageBox.question(self, "Undo class edit", f"Undo \"{last['what']}\"? The class list and "
                                f"{len(last['files'])} file(s) go back to how they were before it.{more}") \
                != QMessageBox.Yes:
            return
        project = self.project

        def done(what):
            self.edited.emit(f"undone: {what}")
            self.restored.emit()

        self.bg.submit(project.undo_class_edit, done, lambda e: QMessageBox.warning(self, "Classes", str(e)))

    def _try(self, fn) -> bool:
        try:
            fn()
            return True
        except (ValueError, OSError) as e:
            self._failed(e)
            return False

    def _failed(self, e: Exception) -> None:
        """The reason, by name; a class list another hand changed can be reloaded."""
        if not isinstance(e, SaveConflict):
            QMessageBox.warning(self, "Classes", str(e))
        elif ask_reload(self, "Classes", e):
            self.restored.emit()
