"""Training curves: loss terms, distillation terms and weight, validation mAP; a teacher overlaid dashed."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QWidget

from core.train.runs import RunHistory

COLORS = {"cls": "#4fc3f7", "iou": "#ffb74d", "dfl": "#81c784", "kd_cls": "#ba68c8", "kd_dfl": "#f06292",
          "kd_feat": "#fff176", "lambda": "#90a4ae", "map50": "#4fc3f7", "map50_95": "#81c784"}
LABELS = {"cls": "class", "iou": "box (GIoU)", "dfl": "DFL", "kd_cls": "KD class", "kd_dfl": "KD box",
          "kd_feat": "KD feature", "lambda": "KD weight λ", "map50": "mAP50", "map50_95": "mAP50-95"}


def _plot(title: str, left: str) -> pg.PlotWidget:
    w = pg.PlotWidget(title=title)
    w.setLabel("bottom", "epoch")
    w.setLabel("left", left)
    w.showGrid(x=True, y=True, alpha=0.2)
    w.addLegend(offset=(-10, 10), labelTextSize="8pt")
    w.setMinimumHeight(170)
    return w


class CurvesPanel(QWidget):
    """``show(history, teacher=None)``: draws a run's curves, and its teacher's dashed beside them."""

    def __init__(self, parent=None):
        super().__init__(parent)
        pg.setConfigOptions(antialias=True, background="#1e2125", foreground="#cfd8dc")
        self.loss = _plot("Detection loss (train, per epoch)", "loss")
        self.kd = _plot("Distillation terms (students)", "loss")
        self.val = _plot("Validation (and the distillation weight λ)", "mAP / λ")
        self.val.setYRange(0, 1)
        lay = QGridLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.val, 0, 0, 1, 2)
        lay.addWidget(self.loss, 1, 0)
        lay.addWidget(self.kd, 1, 1)
        self.curves: dict[str, pg.PlotDataItem] = {}

    def _curve(self, plot: pg.PlotWidget, key: str, name: str, dashed: bool) -> pg.PlotDataItem:
        if key not in self.curves:
            pen = pg.mkPen(COLORS.get(name, "#cfd8dc"), width=1 if dashed else 2,
                           style=Qt.DashLine if dashed else Qt.SolidLine)
            label = LABELS.get(name, name) + (" (teacher)" if dashed else "")
            self.curves[key] = plot.plot(pen=pen, name=label, symbol=None if dashed else "o", symbolSize=4,
                                         symbolBrush=COLORS.get(name), symbolPen=None)
        return self.curves[key]

    def clear(self):
        for p in (self.loss, self.kd, self.val):
            p.clear()
            if p.plotItem.legend is not None:
                p.plotItem.legend.clear()
        self.curves = {}

    def show(self, h: RunHistory, teacher: RunHistory | None = None):
        runs = [(h, False)] + ([(teacher, True)] if teacher is not None else [])
        for hist, dashed in runs:
            tag = "t:" if dashed else ""
            for k in ("cls", "iou", "dfl"):
                if hist.terms.get(k):
                    self._curve(self.loss, tag + k, k, dashed).setData(hist.epochs[:len(hist.terms[k])], hist.terms[k])
            if not dashed:
                for k in ("kd_cls", "kd_dfl", "kd_feat"):
                    if hist.terms.get(k):
                        self._curve(self.kd, k, k, False).setData(hist.epochs[:len(hist.terms[k])], hist.terms[k])
                if hist.kd_lambda:  # on the 0..1 axis of the validation plot, beside the mAP it buys
                    self._curve(self.val, "lambda", "lambda", False).setData(hist.epochs[:len(hist.kd_lambda)],
                                                                             hist.kd_lambda)
            if hist.val_epochs:
                self._curve(self.val, tag + "map50", "map50", dashed).setData(hist.val_epochs, hist.map50)
                self._curve(self.val, tag + "map50_95", "map50_95", dashed).setData(hist.val_epochs, hist.map50_95)

    def n_points(self) -> int:
        """Points drawn in all curves (tests read it)."""
        return sum(len(c.xData) for c in self.curves.values() if c.xData is not None)
