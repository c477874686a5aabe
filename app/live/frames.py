"""Where the part is shown: one camera's frame, or a station's views side by side, with the overlay
the operator asked for (boxes, labels)."""
from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.live.frame_view import FrameView
from app.live.part_view import PartView


class Frames(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.view = FrameView()
        self.parts = PartView()       # a station of several cameras
        self.parts.hide()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.view)
        lay.addWidget(self.parts)

    def show_result(self, r, view_names: list[str]) -> None:
        """``r``: an ``InspectionResult``, or a station's (its ``views`` named by ``view_names``)."""
        self.parts.setVisible(bool(r.views))
        self.view.setVisible(not r.views)
        if r.views:
            self.parts.show_part(r, view_names)
        elif r.frame.image is not None:
            self.view.set_frame(r.frame.image, r.boxes, r.scores, r.classes, r.defect, r.names)

    def set_overlay(self, boxes: bool, labels: bool, r=None) -> None:
        """Boxes and labels drawn or not, from now on and on ``r``, the result in view."""
        self.view.show_boxes = self.parts.show_boxes = boxes
        self.view.show_labels = self.parts.show_labels = labels
        if r is not None and r.frame.image is not None:
            self.view.set_frame(r.frame.image, r.boxes, r.scores, r.classes, r.defect, r.names)
