"""A dataset opened for labelling: its images, classes, labels and review state.

    p = LabelProject.open("data/line7")          # data.yaml, VOC, COCO, or a plain image folder
    ann = p.load(p.items[0], width, height)      # the image's boxes (pixels) and state
    p.save(p.items[0], ann)                      # atomic, in the dataset's own format
    p.add_class("scratch"); p.rename_class(0, "crack"); p.merge_class(3, 1)
    p.undo_class_edit()                          # renames and merges leave a backup to restore

A model's proposal may name a class the dataset lacks: the name waits in ``pending`` (proposals
use ids past the class list, ``shown_names`` names them) and joins the list only when a proposal
of it is accepted (``accept_classes``). ``FILTERS`` name the file list's filters; ``matches``
applies one.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from core.util.palette import class_color

from core.data.annotation import Annotation, Box, Item
from core.data.formats import open_editor

from .backup import Backups
from .review import REVIEW_FILE, ReviewStore

FILTERS = ("all", "unlabelled", "labelled", "defect-free (OK)", "unreviewed", "from the line", "with problems")


class LabelProject:
    def __init__(self, editor, items: list[Item]):
        self.editor = editor            # the format's editor (core.data.formats): one image's labels on disk
        self.items = items
        self.review = ReviewStore(editor.root)
        self.backups = Backups(editor.root)
        self.pending: list[str] = []   # classes of proposals, not in the class list yet
        for it in items:
            it.from_line = self.review.from_line(it.key)
            it.unreviewed = self.review.unreviewed(it.key)

    @classmethod
    def open(cls, path: str | os.PathLike) -> "LabelProject":
        return cls(*open_editor(path))

    # -------------------------------------------------------------------------------- facts
    @property
    def root(self) -> Path:
        return self.editor.root

    @property
    def format(self) -> str:
        return self.editor.format

    @property
    def names(self) -> list[str]:
        return self.editor.names

    @property
    def shown_names(self) -> list[str]:
        """The class list, then the pending classes of proposals (their ids follow the list's)."""
        return self.names + self.pending

    def shown_id(self, name: str) -> int:
        """The id of class ``name`` in ``shown_names``; a name the list lacks becomes pending."""
        if name in self.names:
            return self.names.index(name)
        if name not in self.pending:
            self.pending.append(name)
        return len(self.names) + self.pending.index(name)

    def color(self, cls: int) -> tuple[int, int, int]:
        return class_color(cls)

    def data_spec(self) -> str:
        """What ``--data`` takes for this dataset."""
        return self.editor.data_spec()

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
        """The image's labels and its pending proposals (class ids of ``shown_names``)."""
        props = [b.copy(cls=self.shown_id(b.cls)) if isinstance(b.cls, str) else b
                 for b in self.review.proposals(item.key)]
        return self.editor.load(item, width, height), props

    def _stored(self, boxes: list[Box]) -> list[Box]:
        """Proposals as the review store keeps them: a pending class by its name (ids move)."""
        n = len(self.names)
        return [b.copy(cls=self.shown_names[b.cls]) if b.cls >= n else b for b in boxes]

    def accept_classes(self, ids) -> dict[int, int]:
        """Pending classes among ``ids`` join the class list (a proposal of each was accepted).
        Returns how shown ids move ({old: new}, only those that change)."""
        before = self.shown_names
        new = [before[c] for c in sorted(set(ids)) if len(self.names) <= c < len(before)]
        if not new:
            return {}
        self._backup(f"add {', '.join(repr(n) for n in new)} (a proposal accepted)", [], added=new)
        self.editor.write_names([*self.names, *new])
        self.backups.seal()
        self.pending = [n for n in self.pending if n not in new]
        after = self.shown_names
        return {i: after.index(n) for i, n in enumerate(before) if after.index(n) != i}

    def save(self, item: Item, ann: Annotation, proposals: list[Box] | None = None) -> None:
        """Write the labels (atomically) and what is left of the proposals; refresh the list entry."""
        for b in ann.boxes:
            if not 0 <= b.cls < len(self.names):
                raise ValueError(f"{item.image}: class id {b.cls} is not in the class list")
        ann = Annotation(ann.width, ann.height, [b.normalized() for b in ann.boxes], ann.state)
        self.editor.save(item, ann)
        if self.review.entry(item.key) or proposals:
            self.review.mark_reviewed(item.key, self._stored(proposals or []))
        item.state = ann.effective_state()
        item.classes = frozenset(b.cls for b in ann.boxes)
        item.n_boxes = len(ann.boxes)
        item.problem = ""
        item.unreviewed = self.review.unreviewed(item.key)

    def propose(self, item: Item, boxes: list[Box]) -> None:
        """Model proposals for an image (ids of ``shown_names``): unreviewed until accepted, edited or rejected."""
        self.review.set_proposals(item.key, self._stored(boxes), reviewed=False)
        item.unreviewed = bool(boxes) or self.review.unreviewed(item.key)

    # ------------------------------------------------------------------------------ classes
    def add_class(self, name: str) -> int:
        name = _check_class_name(name, self.names)
        self._backup(f"add '{name}'", [], added=[name])
        self.editor.write_names([*self.names, name])
        self.pending = [n for n in self.pending if n != name]
        self.backups.seal()
        return len(self.names) - 1

    def rename_class(self, index: int, name: str) -> None:
        name = _check_class_name(name, [n for i, n in enumerate(self.names) if i != index])
        old = self.names[index]
        names = list(self.names)
        names[index] = name
        in_labels = self.editor.names_in_labels   # rewrite the files whose boxes name it
        self._backup(f"rename '{old}' to '{name}'", [it for it in self.items if index in it.classes] if in_labels else [])
        if in_labels:
            self._rewrite(lambda c: c, lambda it: index in it.classes, names, force_name=index)
        self.editor.write_names(names)
        self.backups.seal()

    def merge_class(self, src: int, dst: int, progress: Callable[[int, int], None] | None = None) -> int:
        """Every box of class ``src`` becomes ``dst``; ``src`` leaves the list (ids above it move
        down by one in YOLO, whose ids are positions). Returns the number of files rewritten."""
        if src == dst or not (0 <= src < len(self.names) and 0 <= dst < len(self.names)):
            raise ValueError("choose two different classes")

        def remap(c: int) -> int:
            c = dst if c == src else c
            return c - 1 if c > src else c

        if self.editor.names_in_labels:
            touched = lambda it: src in it.classes  # noqa: E731 - names, not ids, are stored
        else:
            touched = lambda it: any(c >= src for c in it.classes)  # noqa: E731
        self._backup(f"merge '{self.names[src]}' into '{self.names[dst]}'", [it for it in self.items if touched(it)])
        names = [nm for i, nm in enumerate(self.names) if i != src]
        n = self._rewrite(remap, touched, names, removed=src, progress=progress)
        self.review.remap_classes({c: remap(c) for c in range(len(self.names))})
        self.editor.write_names(names)
        for it in self.items:
            it.classes = frozenset(remap(c) for c in it.classes)
        self.backups.seal()
        return n

    def _backup(self, what: str, items: list[Item], **meta) -> None:
        """Before a class edit: the class list, and copies of the review file and the label files of
        ``items`` (with the files that hold many images' labels and the classes: COCO JSON, CVAT XML)."""
        files = []
        if items:
            files = [self.root / REVIEW_FILE, *self.editor.shared_files()]
            files += [f for f in map(self.editor.label_file, items) if f is not None]
        self.backups.take(what, files, names=list(self.names), **meta)

    def undo_class_edit(self) -> str:
        """Undo the newest class edit: the class list as it was (in each file's own layout) and the
        label files it rewrote; returns what it was. Refused while boxes use a class it added.
        The caller reopens the project (items and proposals moved on disk)."""
        m = self.backups.latest()
        if m is None:
            raise ValueError("there is no class edit to undo")
        used = [n for n in m.get("added", []) if n in self.names
                and any(self.names.index(n) in it.classes for it in self.items)]
        if used:
            raise ValueError(f"boxes of {', '.join(repr(n) for n in used)} exist: delete them, or merge the class "
                             "into another, before its adding can be undone")
        self.backups.restore(m, skip={str(f) for f in self.editor.name_files()})
        shared = {str(f) for f in self.editor.shared_files()}
        if not shared & {f for f, _ in m["files"]}:   # (COCO JSON, CVAT XML copied back hold their classes)
            self.editor.write_names(m["names"])
        self.backups.drop(m)
        return m["what"]

    def _rewrite(self, remap, touched, names: list[str], removed: int | None = None, progress=None,
                 force_name: int | None = None) -> int:
        """The files of the ``touched`` items with each box's class ``remap``ped: all read under the
        class list as it is, then written under ``names`` (without class ``removed``)."""
        todo = [it for it in self.items if touched(it)]
        anns = []
        for it in todo:
            w, h = _image_size(it)
            ann = self.editor.load(it, w, h)
            for b in ann.boxes:
                if force_name is not None and b.cls == force_name:
                    b.orig = (-1, *b.orig[1:]) if b.orig else None  # the name changes though the id does not
                b.cls = remap(b.cls)
            anns.append(ann)
        self.editor.use_classes(names, removed)
        for i, (it, ann) in enumerate(zip(todo, anns)):
            self.editor.save(it, ann)
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
    """Width and height from the image file, as stored (a regular file only: ImageError otherwise)."""
    import cv2
    import numpy as np

    from core.data.imageio import read_file

    data = np.frombuffer(read_file(item.image), np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    if img is None:
        raise ValueError(f"{item.image}: cannot read the image")
    return img.shape[1], img.shape[0]
