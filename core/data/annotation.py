"""What the labelling view edits: an image's boxes and its state, and one entry of the file list.

An image is *unlabelled* (no label yet), *labelled* (boxes), or *ok* (looked at: no defect). Those
are distinct: an unlabelled image is never trained on as a defect-free one. Each box read from a
file keeps what the file held (``raw``) and its values as read (``orig``), so an unchanged box is
written back exactly as it was.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

STATES = ("unlabelled", "labelled", "ok")


@dataclass
class Box:
    cls: int
    x1: float
    y1: float
    x2: float
    y2: float
    score: float | None = None       # a model's proposal
    raw: Any = None                  # YOLO line, VOC <object> element or COCO annotation dict, as read
    orig: tuple | None = None        # (cls, x1, y1, x2, y2) as read

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)

    def coords_changed(self) -> bool:
        return self.orig is None or tuple(self.orig[1:]) != self.xyxy

    def changed(self) -> bool:
        return self.coords_changed() or self.orig[0] != self.cls

    def copy(self, **kw) -> "Box":
        return replace(self, **kw)

    def normalized(self) -> "Box":
        """x1 <= x2 and y1 <= y2."""
        x1, x2 = sorted((self.x1, self.x2))
        y1, y2 = sorted((self.y1, self.y2))
        return self.copy(x1=x1, y1=y1, x2=x2, y2=y2)


@dataclass
class Annotation:
    width: int
    height: int
    boxes: list[Box] = field(default_factory=list)
    state: str = "unlabelled"

    def copy(self) -> "Annotation":
        return Annotation(self.width, self.height, [b.copy() for b in self.boxes], self.state)

    def effective_state(self) -> str:
        """Boxes make an image labelled; with none it is ok only when marked so (else unlabelled:
        an image whose boxes were all deleted is not trained on as defect-free by accident)."""
        if self.boxes:
            return "labelled"
        return "ok" if self.state == "ok" else "unlabelled"


@dataclass
class Item:
    """One image of the file list, as the last scan or save saw it."""
    image: Path
    key: str                          # the image's path relative to the project root
    split: str = ""
    state: str = "unlabelled"         # unlabelled | labelled | ok
    classes: frozenset = frozenset()  # class ids present
    n_boxes: int = 0
    problem: str = ""                 # why its label could not be read
    from_line: bool = False           # collected from the inspection line
    unreviewed: bool = False          # model proposals wait for a decision
    ref: Any = None                   # the backend's handle (label file, COCO image entry)
