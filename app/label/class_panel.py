"""The class manager: stable ids and colours; add, rename and merge classes across the dataset."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (QHBoxLayout, QInputDialog, QListWidget, QListWidgetItem, QMessageBox,
                               QProgressDialog, QPushButton, QVBoxLayout, QWidget)

from app.label.canvas import qcolor
from app.services.background import Background


def swatch(cls: int) -> QIcon:
    pm = QPixmap(14, 14)
    pm.fill(qcolor(cls))
    return QIcon(pm)


class ClassPanel(QWidget):
    chosen = Signal(int)              # the class for new boxes (and the selected one)
    edited = Signal(str)              # what changed, for the status bar
    merged = Signal()                 # labels changed on disk: the open image reloads

    def __init__(self, parent=None):
        super().__init__(parent)
        self.project = None
        self.bg = Background(self, name="class-merge")
        self.list = QListWidget()
        self.list.currentRowChanged.connect(lambda r: r >= 0 and self.chosen.emit(r))
        b_add, b_ren, b_merge = QPushButton("Add…"), QPushButton("Rename…"), QPushButton("Merge into…")
        b_add.clicked.connect(self.add)
        b_ren.clicked.connect(self.rename)
        b_merge.clicked.connect(self.merge)
        row = QHBoxLayout()
        for b in (b_add, b_ren, b_merge):
            row.addWidget(b)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.list, 1)
        lay.addLayout(row)

    def set_project(self, project):
        self.project = project
        self.refresh()

    def refresh(self, keep: int | None = None):
        row = self.list.currentRow() if keep is None else keep
        self.list.blockSignals(True)
        self.list.clear()
        for i, n in enumerate(self.project.names if self.project else []):
            key = f"{i + 1}  " if i < 9 else "    "
            self.list.addItem(QListWidgetItem(swatch(i), f"{key}{n}   (id {i})"))
        self.list.setCurrentRow(min(max(row, 0), self.list.count() - 1))
        self.list.blockSignals(False)

    def set_current(self, cls: int):
        if 0 <= cls < self.list.count():
            self.list.blockSignals(True)
            self.list.setCurrentRow(cls)
            self.list.blockSignals(False)

    def add(self):
        name, ok = QInputDialog.getText(self, "Add class", "Class name:")
        if ok and self._try(lambda: self.project.add_class(name)):
            self.refresh(len(self.project.names) - 1)
            self.chosen.emit(len(self.project.names) - 1)
            self.edited.emit(f"class '{name.strip()}' added")

    def rename(self):
        i = self.list.currentRow()
        if self.project is None or i < 0:
            return
        old = self.project.names[i]
        name, ok = QInputDialog.getText(self, "Rename class", f"New name for '{old}':", text=old)
        if ok and name.strip() != old and self._try(lambda: self.project.rename_class(i, name)):
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
                                f"from the class list? Label files are rewritten.") != QMessageBox.Yes:
            return
        wait = QProgressDialog(f"Merging '{src}' into '{dst}'…", None, 0, 0, self)
        wait.setWindowModality(Qt.WindowModal)   # no edits while files are rewritten
        wait.show()

        def done(n):
            wait.close()
            self.refresh(j - (1 if j > i else 0))
            self.edited.emit(f"'{src}' merged into '{dst}': {n} label file(s) rewritten")
            self.merged.emit()

        def failed(e):
            wait.close()
            QMessageBox.warning(self, "Classes", str(e))

        self.bg.submit(lambda: self.project.merge_class(i, j), done, failed)

    def _try(self, fn) -> bool:
        try:
            fn()
            return True
        except (ValueError, OSError) as e:
            QMessageBox.warning(self, "Classes", str(e))
            return False
