"""A dataset opened for labelling: its images, classes, labels and review state.

    p = LabelProject.open("data/line7")          # data.yaml, VOC, COCO, or a plain image folder
    ann = p.load(p.items[0], width, height)      # the image's boxes (pixels) and state
    p.save(p.items[0], ann)                      # atomic, in the dataset's own format
    p.add_class("scratch"); p.rename_class(0, "crack"); p.merge_class(3, 1)

``FILTERS`` name the file list's filters; ``matches`` applies one.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from core.util.palette import class_color

from .annotation import Annotation, Box, Item
from .backends import CocoBackend, open_backend
from .review import ReviewStore

FILTERS = ("all", "unlabelled", "labelled", "defect-free (OK)", "unreviewed", "from the line", "with problems")


class LabelProject:
    def __init__(self, backend, items: list[Item]):
        self.backend = backend
        self.items = items
        self.review = ReviewStore(backend.root)
        for it in items:
            it.from_line = self.review.from_line(it.key)
            it.unreviewed = self.review.unreviewed(it.key)

    @classmethod
    def open(cls, path: str | os.PathLike) -> "LabelProject":
        backend, items = open_backend(path)
        return cls(backend, items)

    # -------------------------------------------------------------------------------- facts
    @property
    def root(self) -> Path:
        return self.backend.root

    @property
    def format(self) -> str:
        return self.backend.format

    @property
    def names(self) -> list[str]:
        return self.backend.names

    def color(self, cls: int) -> tuple[int, int, int]:
        return class_color(cls)

    def data_spec(self) -> str:
        """What ``--data`` takes for this dataset."""
        return self.backend.data_spec()

    def matches(self, item: Item, flt: str, cls: int | None = None) -> bool:
        if cls is not None and cls not in item.classes:
            return False
        return {"all": True, "unlabelled": item.state == "unlabelled" and not item.problem,
                "labelled": item.state == "labelled", "defect-free (OK)": item.state == "ok",
                "unreviewed": item.unreviewed, "from the line": item.from_line,
                "with problems": bool(item.problem)}.get(flt, True)

    def counts(self) -> dict[str, int]:
        return {f: sum(self.matches(it, f) for it in self.items) for f in FILTERS}

    # ------------------------------------------------------------------------------- labels
    def load(self, item: Item, width: int, height: int) -> tuple[Annotation, list[Box]]:
        """The image's labels and its pending proposals."""
        return self.backend.load(item, width, height), self.review.proposals(item.key)

    def save(self, item: Item, ann: Annotation, proposals: list[Box] | None = None) -> None:
        """Write the labels (atomically) and what is left of the proposals; refresh the list entry."""
        for b in ann.boxes:
            if not 0 <= b.cls < len(self.names):
                raise ValueError(f"{item.image}: class id {b.cls} is not in the class list")
        ann = Annotation(ann.width, ann.height, [b.normalized() for b in ann.boxes], ann.state)
        self.backend.save(item, ann)
        if self.review.entry(item.key) or proposals:
            self.review.mark_reviewed(item.key, proposals or [])
        item.state = ann.effective_state()
        item.classes = frozenset(b.cls for b in ann.boxes)
        item.n_boxes = len(ann.boxes)
        item.problem = ""
        item.unreviewed = self.review.unreviewed(item.key)

    def propose(self, item: Item, boxes: list[Box]) -> None:
        """Model proposals for an image: unreviewed until accepted, edited or rejected."""
        self.review.set_proposals(item.key, boxes, reviewed=False)
        item.unreviewed = bool(boxes) or self.review.unreviewed(item.key)

    # ------------------------------------------------------------------------------ classes
    def add_class(self, name: str) -> int:
        name = _check_class_name(name, self.names)
        self.backend.write_names([*self.names, name])
        return len(self.names) - 1

    def rename_class(self, index: int, name: str) -> None:
        name = _check_class_name(name, [n for i, n in enumerate(self.names) if i != index])
        names = list(self.names)
        names[index] = name
        if self.format == "voc":  # names live in each XML: rewrite the files that use it
            self.backend.names = names
            self._rewrite(lambda c: c, lambda it: index in it.classes, force_name=index)
        self.backend.write_names(names)

    def merge_class(self, src: int, dst: int, progress: Callable[[int, int], None] | None = None) -> int:
        """Every box of class ``src`` becomes ``dst``; ``src`` leaves the list (ids above it move
        down by one in YOLO, whose ids are positions). Returns the number of files rewritten."""
        if src == dst or not (0 <= src < len(self.names) and 0 <= dst < len(self.names)):
            raise ValueError("choose two different classes")

        def remap(c: int) -> int:
            c = dst if c == src else c
            return c - 1 if c > src else c

        if self.format == "voc":
            touched = lambda it: src in it.classes  # noqa: E731 - names, not ids, are stored
        else:
            touched = lambda it: any(c >= src for c in it.classes)  # noqa: E731
        n = self._rewrite(remap, touched, progress=progress)
        names = [nm for i, nm in enumerate(self.names) if i != src]
        if isinstance(self.backend, CocoBackend):
            self.backend.remove_category(src)
        self.review.remap_classes({c: remap(c) for c in range(len(self.names))})
        self.backend.write_names(names)
        for it in self.items:
            it.classes = frozenset(remap(c) for c in it.classes)
        return n

    def _rewrite(self, remap, touched, progress=None, force_name: int | None = None) -> int:
        todo = [it for it in self.items if touched(it)]
        for i, it in enumerate(todo):
            w, h = _image_size(it)
            ann = self.backend.load(it, w, h)
            for b in ann.boxes:
                if force_name is not None and b.cls == force_name:
                    b.orig = (-1, *b.orig[1:]) if b.orig else None  # the name changes though the id does not
                b.cls = remap(b.cls)
            self.backend.save(it, ann)
            if progress:
                progress(i + 1, len(todo))
        return len(todo)


def _check_class_name(name: str, others: list[str]) -> str:
    name = (name or "").strip()
    if not name or any(ch in name for ch in "\n\r\t"):
        raise ValueError("a class name must not be empty")
    if name in others:
        raise ValueError(f"a class named '{name}' exists already")
    return name


def _image_size(item: Item) -> tuple[int, int]:
    """Width and height from the image file (the header where OpenCV can; else a decode)."""
    import cv2

    img = cv2.imread(str(item.image), cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    if img is None:
        raise ValueError(f"{item.image}: cannot read the image")
    return img.shape[1], img.shape[0]
