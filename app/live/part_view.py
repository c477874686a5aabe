"""A station of several cameras: each view's frame side by side, with its own verdict."""
from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from app.live.frame_view import FrameView

_COLOURS = {"OK": "#2e7d32", "NG": "#c62828", "ERROR": "#ef6c00"}


class PartView(QWidget):
    """One ``FrameView`` per view (two per row), named, coloured by its verdict."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.frames: list[FrameView] = []
        self.labels: list[QLabel] = []
        self.show_boxes = self.show_labels = True

    def _ensure(self, n: int):
        while len(self.frames) < n:
            k = len(self.frames)
            box = QWidget()
            lay = QVBoxLayout(box)
            lay.setContentsMargins(2, 2, 2, 2)
            label = QLabel("")
            label.setObjectName(f"view_label_{k}")
            fv = FrameView()
            lay.addWidget(label)
            lay.addWidget(fv, 1)
            self.grid.addWidget(box, k // 2, k % 2)
            self.frames.append(fv)
            self.labels.append(label)

    def show_part(self, part, names: list[str]):
        """``part``: a station's result (its ``views`` are the per-view results); ``names``: the views'."""
        self._ensure(len(part.views))
        for fv, label, name, r in zip(self.frames, self.labels, names, part.views):
            fv.show_boxes, fv.show_labels = self.show_boxes, self.show_labels
            label.setText(f"{name}: {r.verdict}  {r.frame.source}" + (f" — {r.error}" if r.error else ""))
            label.setStyleSheet(f"color:white; background:{_COLOURS.get(r.verdict, '#455a64')}; padding:2px")
            if r.frame.image is not None:
                fv.set_frame(r.frame.image, r.boxes, r.scores, r.classes, r.defect, r.names)
            else:
                fv.show_message(f"{r.verdict}\n\n{r.error or ''}")
