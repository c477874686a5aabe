"""Convert a dataset to another format (``core.data.formats``): every usable image and box; the rest,
and duplicates (kept), reported. The files are those the labelling view writes for the same labels."""
from __future__ import annotations

import os
from pathlib import Path

from .formats import DatasetError, dataset_writer, load_dataset
from .validate import validate


def convert_dataset(src: str | os.PathLike, fmt: str, out: str | os.PathLike):
    """Convert any readable dataset to ``fmt``; broken samples are skipped and reported."""
    spec = load_dataset(src)
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise DatasetError(f"{out}: the output folder is not empty")
    for n in spec.names:
        if any(ch in n for ch in "\n\r\t") or not n.strip():
            raise DatasetError(f"{src}: class name {n!r} is empty or holds a line break or tab; rename it first")
    twice = sorted({n for n in spec.names if spec.names.count(n) > 1})
    if twice:
        raise DatasetError(f"{src}: class name(s) {', '.join(map(repr, twice))} used by more than one class id; "
                           "rename them first (VOC and COCO would merge them)")
    writer = dataset_writer(out, fmt, spec.names)
    reports = []
    used = set()      # stems taken, across splits where the format shares one image folder
    written = {}      # image -> its stem there: an image listed in two splits is copied once
    for split, raws in spec.splits.items():
        if not raws and not spec.problems.get(split):
            continue
        samples, rep = validate(spec, split, keep_duplicates=True)
        reports.append(rep)
        for smp in samples:
            if not writer.images_per_split and smp.image in written:
                writer.add(split, written[smp.image], None, smp.boxes, smp.classes, smp.width, smp.height)
                continue
            stem = smp.image.stem
            folder = split if writer.images_per_split else ""
            while (folder, stem) in used:  # train/0001.jpg and val/0001.jpg both keep their labels
                stem += "_"
            used.add((folder, stem))
            written[smp.image] = stem
            writer.add(split, stem, smp.image, smp.boxes, smp.classes, smp.width, smp.height)
    return writer.close(), reports
