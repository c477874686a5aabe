"""The runs list: every run with its kind, status (and why it failed), dataset, model, best mAP50, start."""
from __future__ import annotations

import datetime as dt
from pathlib import PurePath

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from core.train.runs import RunInfo

STATUS_COLOR = {"running": "#4fc3f7", "starting": "#4fc3f7", "finished": "#81c784", "stopped": "#ffb74d",
                "failed": "#ff8a65", "unknown": "#90a4ae"}
COLUMNS = ("Run", "Kind", "Status", "Dataset", "Model", "Epoch", "Best mAP50", "Started")


def short_dataset(spec: str) -> str:
    """A dataset as a person names it: demo:N as it is, a folder by its name, data.yaml by its folder."""
    if not spec or spec.startswith("demo"):
        return spec
    p = PurePath(spec)
    return p.parent.name if p.suffix in (".yaml", ".yml", ".json") else p.name


class RunsTable(QTableWidget):
    selected = Signal(object)    # RunInfo or None

    def __init__(self, parent=None):
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        h = self.horizontalHeader()
        h.setSectionResizeMode(QHeaderView.ResizeToContents)
        h.setStretchLastSection(True)
        self.infos: list[RunInfo] = []
        self.itemSelectionChanged.connect(lambda: self.selected.emit(self.current()))

    def current(self) -> RunInfo | None:
        rows = self.selectionModel().selectedRows()
        return self.infos[rows[0].row()] if rows and rows[0].row() < len(self.infos) else None

    def set_runs(self, infos: list[RunInfo], keep: str | None = None):
        """Show ``infos``, keeping the run folder ``keep`` selected."""
        self.blockSignals(True)
        self.infos = list(infos)
        self.setRowCount(len(infos))
        select = -1
        for i, r in enumerate(infos):
            started = dt.datetime.fromtimestamp(r.started).strftime("%Y-%m-%d %H:%M") if r.started else ""
            best = f"{r.best_map50:.3f}" if isinstance(r.best_map50, (int, float)) else "—"
            epoch = f"{r.epoch}/{r.epochs}" if r.epochs else str(r.epoch)
            status = r.status + (f": {r.reason}" if r.reason else "")
            short = status if len(status) <= 60 else status[:57] + "…"
            for j, v in enumerate((r.name, r.kind, short, short_dataset(r.dataset), r.model, epoch, best, started)):
                item = QTableWidgetItem(v)
                if j == 2:
                    item.setForeground(QColor(STATUS_COLOR.get(r.status, "#cfd8dc")))
                    item.setToolTip(status)
                elif j == 0:
                    item.setToolTip(str(r.path))
                elif j == 3:
                    item.setToolTip(r.dataset)
                if j in (5, 6):
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.setItem(i, j, item)
            if keep and str(r.path) == keep:
                select = i
        if select >= 0:
            self.selectRow(select)
        self.blockSignals(False)
        if keep and select < 0:
            self.selected.emit(None)

    def update_run(self, info: RunInfo):
        """Show a fresher state of one listed run (or list it first)."""
        keep = self.current()
        infos = [info if str(r.path) == str(info.path) else r for r in self.infos]
        if str(info.path) not in {str(r.path) for r in infos}:
            infos.insert(0, info)
        self.set_runs(infos, str(keep.path) if keep else None)

    def row_of(self, path: str) -> int:
        for i, r in enumerate(self.infos):
            if str(r.path) == path:
                return i
        return -1
