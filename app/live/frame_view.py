"""The frame with detections as overlay items (never burned into the pixels); zoom and pan."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsPixmapItem, QGraphicsRectItem, QGraphicsScene, QGraphicsSimpleTextItem, QGraphicsView

from core.util.palette import class_color


def to_qimage(bgr: np.ndarray) -> QImage:
    """BGR uint8 -> QImage (one copy, so the numpy buffer may go; no channel swap needed)."""
    h, w = bgr.shape[:2]
    bgr = np.ascontiguousarray(bgr)
    return QImage(bgr.data, w, h, 3 * w, QImage.Format_BGR888).copy()


class FrameView(QGraphicsView):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.Antialiasing)
        self.setDragMode(QGraphicsView.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setBackgroundBrush(QColor(24, 26, 30))
        self.pixmap = QGraphicsPixmapItem()
        self.scene().addItem(self.pixmap)
        self.overlay: list = []
        self.show_boxes = True
        self.show_labels = True
        self.show_candidates = True  # detections that do not count under the recipe, dashed, unlabelled
        self.auto_fit = True
        self.message = QGraphicsSimpleTextItem()
        self.message.setBrush(QColor(230, 230, 230))
        f = QFont()
        f.setPointSize(16)
        self.message.setFont(f)
        self.scene().addItem(self.message)
        self._size = None

    def show_message(self, text: str):
        """A plain message in place of the frame (no model, no signal, ...)."""
        self.clear_overlay()
        self.pixmap.setPixmap(QPixmap())
        self.message.setText(text)
        self.message.setVisible(True)
        self.scene().setSceneRect(self.message.boundingRect().adjusted(-40, -40, 40, 40))
        self.fitInView(self.scene().sceneRect(), Qt.KeepAspectRatio)
        self._size = None       # the message took the scene: the next frame sets it back and fits again
        self.auto_fit = True

    def clear_overlay(self):
        for it in self.overlay:
            self.scene().removeItem(it)
        self.overlay.clear()

    def set_frame(self, bgr: np.ndarray, boxes=(), scores=(), classes=(), defect=(), names=()):
        self.message.setVisible(False)
        self.pixmap.setPixmap(QPixmap.fromImage(to_qimage(bgr)))
        size = bgr.shape[:2]
        if size != self._size:
            self._size = size
            self.scene().setSceneRect(QRectF(0, 0, size[1], size[0]))
            if self.auto_fit:
                self.fitInView(self.pixmap, Qt.KeepAspectRatio)
        self.clear_overlay()
        if not self.show_boxes:
            return
        lw = max(1.5, size[1] / 400)
        # plain Python numbers: shiboken mishandles numpy scalars (refcount crash)
        boxes = [[float(v) for v in b] for b in boxes]
        scores = [float(v) for v in scores]
        classes = [int(v) for v in classes]
        defect = [bool(v) for v in defect]
        for b, s, c, d in zip(boxes, scores, classes, defect):
            if not d and not self.show_candidates:
                continue
            b_, g_, r_ = class_color(int(c))
            col = QColor(r_, g_, b_)
            pen = QPen(col, lw if d else lw * 0.6)
            pen.setCosmetic(False)
            if not d:
                pen.setStyle(Qt.DashLine)  # below the recipe's threshold: shown, not counted
            rect = QGraphicsRectItem(QRectF(b[0], b[1], b[2] - b[0], b[3] - b[1]))
            rect.setPen(pen)
            self.scene().addItem(rect)
            self.overlay.append(rect)
            if self.show_labels and d:
                label = QGraphicsSimpleTextItem(f"{names[int(c)]} {s:.2f}")
                font = QFont()
                font.setPixelSize(max(10, int(size[1] / 45)))
                label.setFont(font)
                label.setBrush(QColor(255, 255, 255))
                br = label.boundingRect()
                y = b[1] - br.height() if b[1] - br.height() > 0 else b[1]
                bg = QGraphicsRectItem(QRectF(b[0], y, br.width() + 4, br.height()))
                bg.setBrush(QBrush(col))
                bg.setPen(QPen(Qt.NoPen))
                label.setPos(b[0] + 2, y)
                self.scene().addItem(bg)
                self.scene().addItem(label)
                self.overlay += [bg, label]

    def render_frame(self) -> QImage:
        """The frame with its overlay at the frame's own size, whatever the zoom and the window."""
        if self.pixmap.pixmap().isNull():
            return QImage()
        rect = self.pixmap.boundingRect()
        img = QImage(int(rect.width()), int(rect.height()), QImage.Format_RGB888)
        img.fill(QColor(0, 0, 0))
        p = QPainter(img)
        p.setRenderHint(QPainter.Antialiasing)
        self.message.setVisible(False)
        self.scene().render(p, QRectF(img.rect()), rect)
        p.end()
        return img

    def wheelEvent(self, e):
        self.auto_fit = False
        factor = 1.25 if e.angleDelta().y() > 0 else 0.8
        self.scale(factor, factor)

    def mouseDoubleClickEvent(self, e):
        self.auto_fit = True
        if not self.pixmap.pixmap().isNull():
            self.fitInView(self.pixmap, Qt.KeepAspectRatio)

    def resizeEvent(self, e):
        super().resizeEvent(e)
        if self.auto_fit and not self.pixmap.pixmap().isNull():
            self.fitInView(self.pixmap, Qt.KeepAspectRatio)
        elif self.message.isVisible():
            self.fitInView(self.scene().sceneRect(), Qt.KeepAspectRatio)
