"""The labelling canvas: an image with its boxes and the model's proposals, edited with the mouse.

Drawing is sticky: a drag draws a box (over other boxes too: dense defects overlap), or click once
on empty space and click again (trackpads). A click on a box selects it; drag the selected box to
move it, or a corner or edge of it to resize.
The wheel zooms at the cursor; the right or middle button (or Space held) pans. Proposals are
dashed until accepted; moving or resizing one accepts it, and so does Enter, which leaves the
accepted box selected for its class key. Every change is undoable. A box drawn while the dataset
has no class yet is not added: ``needs_class`` asks the view for the first class.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QImage, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsScene, QGraphicsView

from core.data.annotation import Box
from core.util.palette import class_color

HANDLE_PX = 7          # how near (screen pixels) a corner or edge grabs for resizing
MIN_BOX_PX = 2         # smaller drags are clicks


def qcolor(cls: int) -> QColor:
    b, g, r = class_color(cls)
    return QColor(r, g, b)


class LabelCanvas(QGraphicsView):
    changed = Signal()            # boxes or proposals edited (the image is dirty)
    selection = Signal(object)    # ("box"|"proposal", index) or None
    needs_class = Signal(float, float, float, float)   # a box drawn before any class exists

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHint(QPainter.Antialiasing, False)
        self.setTransformationAnchor(QGraphicsView.AnchorUnderMouse)
        self.setDragMode(QGraphicsView.NoDrag)
        self.setMouseTracking(True)
        self.setBackgroundBrush(QColor("#1e2125"))
        self.setFocusPolicy(Qt.StrongFocus)
        self.names: list[str] = []     # the class list, then the classes only proposals have
        self.n_classes = 0             # how many of ``names`` are the dataset's own
        self.boxes: list[Box] = []
        self.proposals: list[Box] = []
        self.selected: tuple[str, int] | None = None
        self.current_class = 0
        self.width_px = self.height_px = 0
        self._pix = None
        self._items = []
        self._undo: list[tuple] = []
        self._redo: list[tuple] = []
        self._drag = None        # ("draw", start) | ("move", kind, i, start, orig) | ("resize", kind, i, edges, orig)
        self._click_start: QPointF | None = None   # click-click drawing
        self._pan = None
        self._space = False
        self._fresh = False
        self.message = ""

    # ----------------------------------------------------------------------------- content
    def set_image(self, bgr: np.ndarray | None, boxes: list[Box], proposals: list[Box], names: list[str],
                  message: str = "", n_classes: int | None = None):
        self.scene().clear()
        self._items = []
        self._pix = None
        self.set_names(names, n_classes)
        self.boxes = [b.copy() for b in boxes]
        self.proposals = [b.copy() for b in proposals]
        self.selected = None
        self._undo.clear()
        self._redo.clear()
        self._drag = self._click_start = None
        self.message = message
        if bgr is None:
            self.width_px = self.height_px = 0
            t = self.scene().addText(message or "No image")
            t.setDefaultTextColor(QColor("#cfd8dc"))
            return
        h, w = bgr.shape[:2]
        self.width_px, self.height_px = w, h
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        img = QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888).copy()
        self._pix = self.scene().addPixmap(QPixmap.fromImage(img))
        self._pix.setZValue(-1)
        self.scene().setSceneRect(QRectF(0, 0, w, h))
        self.fit()
        self._draw()

    def set_names(self, names: list[str], n_classes: int | None = None):
        """The class names (``n_classes`` of them the dataset's own; the rest only proposals have)."""
        self.names = list(names)
        self.n_classes = len(names) if n_classes is None else n_classes
        if not 0 <= self.current_class < max(self.n_classes, 1):
            self.current_class = 0   # a class of the dataset before, not of this one

    def content(self) -> tuple:
        """What a save writes, comparable: the boxes and proposals as they stand."""
        key = lambda b: (b.cls, *(round(v, 3) for v in b.xyxy), b.score)  # noqa: E731
        return tuple(map(key, self.boxes)), tuple(map(key, self.proposals))

    def remap_classes(self, mapping: dict[int, int]):
        """Class ids move (a proposed class joined the list): boxes, proposals and the undo history follow."""
        if not mapping:
            return
        def move(boxes):
            return [b.copy(cls=mapping.get(b.cls, b.cls)) for b in boxes]
        self.boxes, self.proposals = move(self.boxes), move(self.proposals)
        self._undo = [(move(b), move(p)) for b, p in self._undo]
        self._redo = [(move(b), move(p)) for b, p in self._redo]
        self.current_class = mapping.get(self.current_class, self.current_class)
        self._draw()

    def fit(self):
        if self.width_px:
            self.resetTransform()
            self.fitInView(QRectF(0, 0, self.width_px, self.height_px), Qt.KeepAspectRatio)

    def _draw(self):
        for it in self._items:
            self.scene().removeItem(it)
        self._items = []
        scale = max(self.transform().m11(), 1e-6)
        font = QFont()
        font.setPointSizeF(max(7.0, 9.0 / scale) if scale < 1 else 9.0 / scale)
        for kind, boxes in (("box", self.boxes), ("proposal", self.proposals)):
            for i, b in enumerate(boxes):
                col = qcolor(b.cls)
                sel = self.selected == (kind, i)
                pen = QPen(col, (3 if sel else 2) / scale)
                pen.setCosmetic(False)
                if kind == "proposal":
                    pen.setStyle(Qt.DashLine)
                r = QRectF(QPointF(b.x1, b.y1), QPointF(b.x2, b.y2)).normalized()
                fill = QColor(col)
                fill.setAlpha(50 if sel else 0)
                self._items.append(self.scene().addRect(r, pen, QBrush(fill)))
                name = self.names[b.cls] if 0 <= b.cls < len(self.names) else f"class {b.cls}"
                label = name + (f" {b.score:.2f}?" if kind == "proposal" and b.score is not None else "")
                t = self.scene().addSimpleText(label, font)
                t.setBrush(QBrush(col))
                t.setPos(r.left(), r.top() - font.pointSizeF() * 1.6)
                self._items.append(t)

    # ------------------------------------------------------------------------------- edits
    def _snapshot(self):
        self._undo.append(([b.copy() for b in self.boxes], [b.copy() for b in self.proposals]))
        self._undo = self._undo[-200:]
        self._redo.clear()

    def _edited(self):
        self._draw()
        self.changed.emit()

    def undo(self):
        if self._undo:
            self._redo.append((self.boxes, self.proposals))
            self.boxes, self.proposals = self._undo.pop()
            self.selected = None
            self._edited()

    def redo(self):
        if self._redo:
            self._undo.append((self.boxes, self.proposals))
            self.boxes, self.proposals = self._redo.pop()
            self.selected = None
            self._edited()

    def add_box(self, x1, y1, x2, y2, cls: int | None = None) -> int:
        if cls is None and not self.n_classes:
            self.needs_class.emit(x1, y1, x2, y2)
            return -1
        self._snapshot()
        b = Box(self.current_class if cls is None else cls, *self._clip(x1, y1, x2, y2)).normalized()
        self.boxes.append(b)
        self.select(("box", len(self.boxes) - 1))
        self._fresh = True   # selected for its class key, not grabbed by the next press
        self._edited()
        return len(self.boxes) - 1

    def set_class(self, cls: int):
        """The selected box takes ``cls``; with none selected, ``cls`` is the class of the next box."""
        self.current_class = cls
        if self.selected:
            kind, i = self.selected
            self._snapshot()
            if kind == "proposal":   # a proposal given a class is accepted with it
                b = self.proposals.pop(i)
                self.boxes.append(b.copy(cls=cls, score=None))
                self.selected = ("box", len(self.boxes) - 1)
            else:
                self.boxes[i] = self.boxes[i].copy(cls=cls)
            self._edited()

    def delete_selected(self):
        if not self.selected:
            return
        kind, i = self.selected
        self._snapshot()
        (self.boxes if kind == "box" else self.proposals).pop(i)
        self.selected = None
        self._edited()

    def accept(self, all_: bool = False):
        """Accept the selected proposal (or every proposal) as a label."""
        if all_:
            if not self.proposals:
                return
            self._snapshot()
            self.boxes += [p.copy(score=None) for p in self.proposals]
            self.proposals = []
        else:
            if not self.selected or self.selected[0] != "proposal":
                return
            self._snapshot()
            self.boxes.append(self.proposals.pop(self.selected[1]).copy(score=None))
            self.selected = ("box", len(self.boxes) - 1)   # a digit now re-classes it
            self._fresh = True
            self._edited()
            self.selection.emit(self.selected)
            return
        self.selected = None
        self._edited()

    def reject_all(self):
        if self.proposals:
            self._snapshot()
            self.proposals = []
            self.selected = None
            self._edited()

    def paste(self, boxes: list[Box]):
        if boxes:
            self._snapshot()
            self.boxes += [Box(b.cls, *self._clip(*b.xyxy)) for b in boxes]
            self._edited()

    def select(self, sel):
        self.selected = sel
        self._fresh = False
        self._draw()
        self.selection.emit(sel)

    def select_next(self):
        """Tab: the proposals first (they wait for a decision), then the boxes."""
        allsel = [("proposal", i) for i in range(len(self.proposals))] + [("box", i) for i in range(len(self.boxes))]
        if not allsel:
            return
        k = (allsel.index(self.selected) + 1) % len(allsel) if self.selected in allsel else 0
        self.select(allsel[k])

    def _clip(self, x1, y1, x2, y2):
        W, H = self.width_px, self.height_px
        return (min(max(x1, 0), W), min(max(y1, 0), H), min(max(x2, 0), W), min(max(y2, 0), H))

    # ------------------------------------------------------------------------------- mouse
    def _hit(self, p: QPointF):
        """(kind, i, edges) under the point: edges is a set of 'l','r','t','b' near the selected box's border."""
        tol = HANDLE_PX / max(self.transform().m11(), 1e-6)
        if self.selected:
            kind, i = self.selected
            b = (self.boxes if kind == "box" else self.proposals)[i]
            edges = set()
            inside_y = b.y1 - tol <= p.y() <= b.y2 + tol
            inside_x = b.x1 - tol <= p.x() <= b.x2 + tol
            if abs(p.x() - b.x1) <= tol and inside_y:
                edges.add("l")
            if abs(p.x() - b.x2) <= tol and inside_y:
                edges.add("r")
            if abs(p.y() - b.y1) <= tol and inside_x:
                edges.add("t")
            if abs(p.y() - b.y2) <= tol and inside_x:
                edges.add("b")
            if edges:
                return kind, i, edges
        # the smallest box under the point wins (a small box inside a big one stays reachable)
        hits = []
        for kind, boxes in (("proposal", self.proposals), ("box", self.boxes)):
            for i, b in enumerate(boxes):
                if b.x1 <= p.x() <= b.x2 and b.y1 <= p.y() <= b.y2:
                    hits.append(((b.x2 - b.x1) * (b.y2 - b.y1), kind, i))
        if hits:
            _, kind, i = min(hits)
            return kind, i, set()
        return None

    def mousePressEvent(self, e):
        p = self.mapToScene(e.position().toPoint())
        if e.button() in (Qt.RightButton, Qt.MiddleButton) or (self._space and e.button() == Qt.LeftButton):
            self._pan = e.position()
            self.setCursor(Qt.ClosedHandCursor)
            return
        if e.button() != Qt.LeftButton or not self.width_px:
            return
        if self._click_start is not None:   # the second click of click-click drawing
            s = self._click_start
            self.cancel_drawing()
            if abs(p.x() - s.x()) >= MIN_BOX_PX and abs(p.y() - s.y()) >= MIN_BOX_PX:
                self.add_box(s.x(), s.y(), p.x(), p.y())
            self._draw()
            return
        hit = self._hit(p)
        # the box the user selected (not one just drawn: the next box often starts inside it): move or resize
        if hit and (hit[0], hit[1]) == self.selected and not self._fresh:
            kind, i, edges = hit
            b = (self.boxes if kind == "box" else self.proposals)[i]
            self._drag = ("resize" if edges else "move", kind, i, edges, p, b.copy())
        else:  # anywhere else a drag draws (dense defects overlap); a click selects what it is on
            self._drag = ("draw", p, hit)
            self._rubber = self.scene().addRect(QRectF(p, p), QPen(qcolor(self.current_class), 0, Qt.DashLine))

    def mouseMoveEvent(self, e):
        p = self.mapToScene(e.position().toPoint())
        if self._pan is not None:
            d = e.position() - self._pan
            self._pan = e.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(d.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(d.y()))
            return
        if self._drag is None:
            if self._click_start is not None:
                self._show_rubber(self._click_start, p)
            else:
                hit = self._hit(p) if self.width_px else None
                self._cursor_for(hit)
            return
        if self._drag[0] == "draw":
            self._rubber.setRect(QRectF(self._drag[1], p).normalized())
            return
        mode, kind, i, edges, start, orig = self._drag
        boxes = self.boxes if kind == "box" else self.proposals
        dx, dy = p.x() - start.x(), p.y() - start.y()
        if mode == "move":
            W, H = self.width_px, self.height_px
            dx = min(max(dx, -orig.x1), W - orig.x2)
            dy = min(max(dy, -orig.y1), H - orig.y2)
            nb = orig.copy(x1=orig.x1 + dx, y1=orig.y1 + dy, x2=orig.x2 + dx, y2=orig.y2 + dy)
        else:
            x1, y1, x2, y2 = orig.xyxy
            x1 += dx if "l" in edges else 0
            x2 += dx if "r" in edges else 0
            y1 += dy if "t" in edges else 0
            y2 += dy if "b" in edges else 0
            nb = orig.copy(**dict(zip(("x1", "y1", "x2", "y2"), self._clip(x1, y1, x2, y2))))
        boxes[i] = nb
        self._draw()

    def mouseReleaseEvent(self, e):
        p = self.mapToScene(e.position().toPoint())
        if self._pan is not None:
            self._pan = None
            self.setCursor(Qt.ArrowCursor)
            return
        if self._drag is None:
            return
        d, self._drag = self._drag, None
        if d[0] == "draw":
            self.scene().removeItem(self._rubber)
            s = d[1]
            if abs(p.x() - s.x()) >= MIN_BOX_PX and abs(p.y() - s.y()) >= MIN_BOX_PX:
                self.add_box(s.x(), s.y(), p.x(), p.y())
            elif d[2]:  # a click on a box selects it
                self.select((d[2][0], d[2][1]))
            else:  # a click on empty space: the first corner of click-click drawing
                self.select(None)
                self._click_start = s
            return
        mode, kind, i, edges, start, orig = d
        boxes = self.boxes if kind == "box" else self.proposals
        moved = boxes[i]
        if moved.xyxy == orig.xyxy:
            return
        boxes[i] = orig   # the snapshot holds the state before the drag
        self._snapshot()
        moved = moved.normalized()
        if kind == "proposal":    # editing a proposal accepts it
            self.proposals.pop(i)
            self.boxes.append(moved.copy(score=None))
            self.selected = ("box", len(self.boxes) - 1)
        else:
            boxes[i] = moved
        self._edited()

    def _show_rubber(self, s, p):
        if getattr(self, "_click_rubber", None) is None or self._click_rubber.scene() is None:
            self._click_rubber = self.scene().addRect(QRectF(s, p), QPen(qcolor(self.current_class), 0, Qt.DashLine))
        self._click_rubber.setRect(QRectF(s, p).normalized())

    def _cursor_for(self, hit):
        if not hit:
            self.setCursor(Qt.CrossCursor)
            return
        edges = hit[2]
        if edges in ({"l", "t"}, {"r", "b"}):
            self.setCursor(Qt.SizeFDiagCursor)
        elif edges in ({"r", "t"}, {"l", "b"}):
            self.setCursor(Qt.SizeBDiagCursor)
        elif edges & {"l", "r"}:
            self.setCursor(Qt.SizeHorCursor)
        elif edges & {"t", "b"}:
            self.setCursor(Qt.SizeVerCursor)
        else:
            self.setCursor(Qt.SizeAllCursor)

    def cancel_drawing(self):
        self._click_start = None
        if getattr(self, "_click_rubber", None) is not None and self._click_rubber.scene() is not None:
            self.scene().removeItem(self._click_rubber)
        self._click_rubber = None

    def wheelEvent(self, e):
        f = 1.25 if e.angleDelta().y() > 0 else 0.8
        self.scale(f, f)
        self._draw()

    def keyPressEvent(self, e):
        if e.key() == Qt.Key_Space and not e.isAutoRepeat():
            self._space = True
            self.setCursor(Qt.OpenHandCursor)
            return
        if e.key() == Qt.Key_Escape:
            self.cancel_drawing()
            self.select(None)
            return
        super().keyPressEvent(e)

    def keyReleaseEvent(self, e):
        if e.key() == Qt.Key_Space and not e.isAutoRepeat():
            self._space = False
            self.setCursor(Qt.CrossCursor)
            return
        super().keyReleaseEvent(e)

    def resizeEvent(self, e):
        super().resizeEvent(e)
        if self.width_px and not self._undo and self.transform().m11() <= 1.01:
            self.fit()
            self._draw()
