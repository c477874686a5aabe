"""A finished run's results: per-class AP (teacher and student side by side), OK/NG rates, PR curve
and confusion matrix; the numbers are ``val_best.json``'s, the same as ``val --json``."""
from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (QHBoxLayout, QHeaderView, QLabel, QSizePolicy, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)


def read_results(run: str | Path) -> dict | None:
    """``val_best.json`` of a run folder, or None (not finished, or unreadable)."""
    try:
        d = json.loads((Path(run) / "val_best.json").read_text())
        return d if isinstance(d, dict) and "per_class" in d else None
    except (OSError, ValueError):
        return None


def _fmt(v) -> str:
    return "—" if v is None else f"{v:.3f}"


def _rate(v) -> str:
    return "—" if v is None else f"{100 * v:.1f}%"


class FitImage(QLabel):
    """An image scaled to the space it has (whole, aspect kept), never cropped."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.source = QPixmap()
        self.setAlignment(Qt.AlignCenter)
        self.setMinimumSize(160, 120)
        self.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Ignored)   # the layout sizes it, not the picture

    def set_image(self, pm: QPixmap):
        self.source = pm
        self._fit()

    def clear(self):
        self.source = QPixmap()
        super().clear()

    def resizeEvent(self, e):
        super().resizeEvent(e)
        self._fit()

    def _fit(self):
        if not self.source.isNull():
            self.setPixmap(self.source.scaled(self.size(), Qt.KeepAspectRatio, Qt.SmoothTransformation))


class ResultsPanel(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.RichText)
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.setMinimumHeight(180)
        self.pr = FitImage()
        self.cm = FitImage()
        pics = QHBoxLayout()
        pics.addWidget(self.pr, 1)
        pics.addWidget(self.cm, 1)
        lay = QVBoxLayout(self)
        lay.addWidget(self.summary)
        lay.addWidget(self.table)
        lay.addLayout(pics, 1)
        self.show_results(None, None)

    def show_results(self, run: Path | None, res: dict | None, teacher: dict | None = None):
        """``res``: the run's val_best.json; ``teacher``: its teacher's, for a student."""
        self.pr.clear()
        self.cm.clear()
        if res is None:
            self.summary.setText("Results appear here when the run finishes: its best checkpoint is scored on "
                                 "the validation split (per-class AP, PR curve, confusion matrix, OK/NG rates).")
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            return
        both = teacher is not None
        cols = ["class", "boxes"] + (["teacher AP50", "teacher AP50-95"] if both else []) + ["AP50", "AP50-95"]
        if both:
            cols += ["Δ AP50"]
        names = list(res["per_class"])
        self.table.setColumnCount(len(cols))
        self.table.setHorizontalHeaderLabels(cols)
        self.table.setRowCount(len(names) + 1)
        rows = [(n, res["per_class"][n], (teacher or {}).get("per_class", {}).get(n, {})) for n in names]
        rows.append(("all", {"ap50": res.get("map50"), "ap50_95": res.get("map50_95"),
                             "n_gt": sum(c.get("n_gt", 0) for c in res["per_class"].values())},
                     {"ap50": (teacher or {}).get("map50"), "ap50_95": (teacher or {}).get("map50_95")}))
        for i, (n, c, t) in enumerate(rows):
            vals = [n, str(c.get("n_gt", ""))]
            if both:
                vals += [_fmt(t.get("ap50")), _fmt(t.get("ap50_95"))]
            vals += [_fmt(c.get("ap50")), _fmt(c.get("ap50_95"))]
            if both:
                d = None if c.get("ap50") is None or t.get("ap50") is None else c["ap50"] - t["ap50"]
                vals.append("—" if d is None else f"{d:+.3f}")
            for j, v in enumerate(vals):
                item = QTableWidgetItem(v)
                if j:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if n == "all":
                    f = item.font()
                    f.setBold(True)
                    item.setFont(f)
                self.table.setItem(i, j, item)
        ins = res.get("inspection") or {}
        line = (f"<b>mAP50 {res['map50']:.3f}</b> · mAP50-95 {res['map50_95']:.3f} · precision "
                f"{res.get('precision', 0):.3f} · recall {res.get('recall', 0):.3f} on {res.get('n_images', '?')} "
                f"validation images")
        if ins:
            line += (f"<br>OK/NG at conf {ins.get('conf', '')}: escape rate <b>{_rate(ins.get('escape_rate'))}</b> "
                     f"(defective judged OK), overkill rate <b>{_rate(ins.get('overkill_rate'))}</b> "
                     f"(defect-free judged NG)")
        if both:
            line += (f"<br>teacher: mAP50 {teacher['map50']:.3f} · mAP50-95 {teacher['map50_95']:.3f}; "
                     f"the student {'gains' if res['map50'] >= teacher['map50'] else 'loses'} "
                     f"{abs(res['map50'] - teacher['map50']):.3f} mAP50")
        self.summary.setText(line)
        rows_h = sum(self.table.rowHeight(i) for i in range(self.table.rowCount()))
        self.table.setFixedHeight(min(rows_h, 14 * 26) + self.table.horizontalHeader().height() + 6)
        for label, name in ((self.pr, "PR_curve.png"), (self.cm, "confusion_matrix.png")):
            pm = QPixmap(str(Path(run) / name)) if run else QPixmap()
            if not pm.isNull():
                label.set_image(pm)
            else:
                label.setText(f"({name} not written)")
