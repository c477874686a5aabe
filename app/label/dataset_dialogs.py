"""Dataset-wide dialogs of the labelling view: the split manager and the statistics."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QFormLayout, QGridLayout, QLabel, QMessageBox, QSpinBox,
                               QVBoxLayout)

from app.plot_labels import class_label
from core.labels.splits import stratified_split, write_splits


class SplitDialog(QDialog):
    """Train/val/test percentages and a seed; writes the split lists in the dataset's format."""

    def __init__(self, project, parent=None):
        super().__init__(parent)
        self.project = project
        self.setWindowTitle("Split the dataset")
        self.spins = {}
        form = QFormLayout()
        for s, v in (("train", 80), ("val", 20), ("test", 0)):
            sp = QSpinBox()
            sp.setRange(0, 100)
            sp.setSuffix(" %")
            sp.setValue(v)
            sp.valueChanged.connect(self._preview)
            self.spins[s] = sp
            form.addRow(s, sp)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2 ** 31 - 1)
        self.seed.valueChanged.connect(self._preview)
        form.addRow("seed", self.seed)
        self.info = QLabel("")
        self.info.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.Cancel)
        self.ok = buttons.addButton("Write splits", QDialogButtonBox.AcceptRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Stratified by class (each image by its rarest class; defect-free images as a "
                             "class of their own), reproducible by seed. Unlabelled images stay out."))
        lay.addLayout(form)
        lay.addWidget(self.info)
        lay.addWidget(buttons)
        self.result_spec = None
        self._preview()

    def fractions(self) -> dict[str, float]:
        return {s: sp.value() / 100 for s, sp in self.spins.items() if sp.value()}

    def _preview(self):
        try:
            parts = stratified_split(self.project.items, self.fractions(), self.seed.value())
        except ValueError as e:
            self.info.setText(str(e))
            self.ok.setEnabled(False)
            return
        self.ok.setEnabled(True)
        nc = len(self.project.names)
        lines = []
        for s, items in parts.items():
            per = [sum(c in it.classes for it in items) for c in range(nc)]
            ok = sum(it.state == "ok" for it in items)
            lines.append(f"<b>{s}</b>: {len(items)} image{'' if len(items) == 1 else 's'} ({ok} OK); "
                         + ", ".join(f"{n} {k}" for n, k in zip(self.project.names, per)))
        left = sum(it.state == "unlabelled" or bool(it.problem) for it in self.project.items)
        self.info.setText("<br>".join(lines) + (f"<br>{left} unlabelled or unreadable image(s) left out" if left else ""))

    def accept(self):
        try:
            parts = stratified_split(self.project.items, self.fractions(), self.seed.value())
            self.result_spec = write_splits(self.project, parts)
        except (ValueError, OSError) as e:
            QMessageBox.warning(self, "Split", str(e))
            return
        super().accept()


class StatsDialog(QDialog):
    """Boxes and images per class, the box-size histogram, the defect-free share."""

    def __init__(self, stats, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Dataset statistics")
        self.resize(900, 520)
        s = stats
        text = (f"{s.images} images: {s.labelled} labelled, {s.ok} defect-free (OK), {s.unlabelled} unlabelled"
                + (f", {s.problems} with problems" if s.problems else "")
                + f". Defect-free share of the judged images: {100 * s.ok_share:.1f}%. "
                f"{int(sum(s.boxes_per_class))} boxes.")
        head = QLabel(text)
        head.setWordWrap(True)
        bars = pg.PlotWidget(title="Boxes per class")
        x = np.arange(len(s.names))
        bars.addItem(pg.BarGraphItem(x=x, height=s.boxes_per_class, width=0.6, brush="#4fc3f7"))
        bars.getAxis("bottom").setTicks([[(i, class_label(n, 14)) for i, n in enumerate(s.names)]])
        hist = pg.PlotWidget(title="Box size (√ of box area / image area)")
        if len(s.box_sizes):
            y, edges = np.histogram(s.box_sizes, bins=20, range=(0, 1))
            hist.plot(edges, y, stepMode="center", fillLevel=0, brush="#81c784")
        hist.setLabel("bottom", "relative size")
        grid = QGridLayout()
        grid.addWidget(bars, 0, 0)
        grid.addWidget(hist, 0, 1)
        lay = QVBoxLayout(self)
        lay.addWidget(head)
        lay.addLayout(grid, 1)
        self.bars, self.hist = bars, hist
