"""Dataset statistics for the labelling view: boxes per class, box sizes, the defect-free share."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class DatasetStats:
    names: list[str]
    images: int = 0
    labelled: int = 0
    ok: int = 0
    unlabelled: int = 0
    problems: int = 0
    boxes_per_class: list[int] = field(default_factory=list)
    images_per_class: list[int] = field(default_factory=list)
    box_sizes: np.ndarray = field(default_factory=lambda: np.zeros(0))   # sqrt(box area / image area)

    @property
    def ok_share(self) -> float:
        judged = self.labelled + self.ok
        return self.ok / judged if judged else 0.0


def dataset_stats(project, sizes: bool = True) -> DatasetStats:
    """Counts from the file list; box sizes from the labels (reads every labelled image's file)."""
    from .project import _image_size

    nc = len(project.names)
    st = DatasetStats(list(project.names), images=len(project.items), boxes_per_class=[0] * nc,
                      images_per_class=[0] * nc)
    rel = []
    for it in project.items:
        if it.problem:
            st.problems += 1
        st.labelled += it.state == "labelled"
        st.ok += it.state == "ok"
        st.unlabelled += it.state == "unlabelled" and not it.problem
        for c in it.classes:
            if c < nc:
                st.images_per_class[c] += 1
        if it.state != "labelled":
            continue
        try:
            w, h = _image_size(it) if sizes or project.format == "yolo" else (1, 1)
            ann = project.editor.load(it, w, h)
        except (OSError, ValueError):
            continue
        for b in ann.boxes:
            if b.cls < nc:
                st.boxes_per_class[b.cls] += 1
            if sizes:
                rel.append(np.sqrt(max(b.x2 - b.x1, 0) * max(b.y2 - b.y1, 0) / max(w * h, 1)))
    st.box_sizes = np.array(rel, float)
    return st
