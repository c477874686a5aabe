"""Convert a dataset to another layout (YOLO, VOC, COCO): every usable image and box; the rest, and
duplicates (kept), reported."""
from __future__ import annotations

import os
from pathlib import Path

from .formats import DatasetError, DatasetWriter, load_dataset
from .validate import validate


def convert_dataset(src: str | os.PathLike, fmt: str, out: str | os.PathLike):
    """Convert any readable dataset to ``fmt``; broken samples are skipped and reported."""
    spec = load_dataset(src)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise DatasetError(f"{out}: the output folder is not empty")
    writer = DatasetWriter(out, fmt, spec.names)
    reports = []
    for split, raws in spec.splits.items():
        if not raws:
            continue
        samples, rep = validate(spec, split, keep_duplicates=True)
        reports.append(rep)
        used = set()
        for smp in samples:
            stem = smp.image.stem
            while stem in used:  # VOC and COCO share one image folder across splits
                stem += "_"
            used.add(stem)
            writer.add(split, stem, smp.image, smp.boxes, smp.classes, smp.width, smp.height)
    return writer.close(), reports
