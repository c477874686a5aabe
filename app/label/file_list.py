"""The labelling file list: a virtualised model over the project's items, filtered by state and class."""
from __future__ import annotations

from PySide6.QtCore import QAbstractListModel, QModelIndex, Qt
from PySide6.QtGui import QColor

GLYPH = {"unlabelled": "○", "labelled": "●", "ok": "✓"}
COLOR = {"unlabelled": "#90a4ae", "labelled": "#81c784", "ok": "#4fc3f7"}


class FileListModel(QAbstractListModel):
    """Rows are the items that pass the filter; ``item(row)`` and ``row_of(item)`` map both ways."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.project = None
        self.rows: list = []
        self.flt, self.cls = "all", None

    def set_project(self, project):
        self.project = project
        self.refilter()

    def set_filter(self, flt: str, cls: int | None):
        self.flt, self.cls = flt, cls
        self.refilter()

    def refilter(self):
        self.beginResetModel()
        p = self.project
        self.rows = [] if p is None else [it for it in p.items if p.matches(it, self.flt, self.cls)]
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index, role=Qt.DisplayRole):
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        it = self.rows[index.row()]
        if role == Qt.DisplayRole:
            mark = "⚠" if it.problem else ("◆" if it.unreviewed else GLYPH.get(it.state, "?"))
            extra = f"  ({it.n_boxes})" if it.n_boxes else ""
            return f"{mark} {it.key}{extra}"
        if role == Qt.ForegroundRole:
            return QColor("#ff8a65" if it.problem else ("#ffb74d" if it.unreviewed else COLOR.get(it.state, "#cfd8dc")))
        if role == Qt.ToolTipRole:
            bits = [str(it.image), it.state + (f", split {it.split}" if it.split else "")]
            if it.unreviewed:
                bits.append("model proposals to review")
            if it.from_line:
                bits.append("collected from the line")
            if it.problem:
                bits.append(it.problem)
            return "\n".join(bits)
        return None

    def item(self, row: int):
        return self.rows[row] if 0 <= row < len(self.rows) else None

    def row_of(self, item) -> int:
        try:
            return self.rows.index(item)
        except ValueError:
            return -1

    def changed(self, item):
        r = self.row_of(item)
        if r >= 0:
            self.dataChanged.emit(self.index(r), self.index(r))
