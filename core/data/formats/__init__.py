"""Dataset formats, one module each (reader, writer and labelling editor): ``yolo``, ``voc``, ``coco``,
``cvat``. ``base`` says what a format module holds; this table is where a new one is added.

    spec = load_dataset("data/line7")                 # any format, detected from what the path is
    w = dataset_writer("out", "voc", names); w.add(...); w.close()
    editor, items = open_editor("data/line7")        # the labelling view's access to one image's labels
"""
from __future__ import annotations

import os
from pathlib import Path

from . import coco, cvat, voc, yolo
from .base import SPLITS, UNLABELLED, DatasetError, DatasetSpec, RawBox, RawSample, SaveConflict

# name -> module, in the order a folder is tried
FORMATS = {m.NAME: m for m in (yolo, voc, coco, cvat)}

__all__ = ["FORMATS", "SPLITS", "UNLABELLED", "DatasetError", "DatasetSpec", "RawBox", "RawSample", "SaveConflict",
           "dataset_writer", "detect", "load_dataset", "open_editor"]


def detect(path: str | os.PathLike):
    """(format module, the file or folder that anchors the dataset) for ``path``, or None."""
    p = Path(path)
    for m in FORMATS.values():
        anchor = m.detect(p)
        if anchor is not None:
            return m, anchor
    return None


def _expected() -> str:
    return ", ".join(m.LOOKS_LIKE for m in FORMATS.values())


def load_dataset(path: str | os.PathLike) -> DatasetSpec:
    """Read a dataset in any supported format, detected from what ``path`` is."""
    p = Path(path)
    if not p.exists():
        raise DatasetError(f"{p}: no such file or folder")
    found = detect(p)
    if found is None:
        what = "not a dataset" if p.is_file() else "no dataset found"
        raise DatasetError(f"{p}: {what} (expected {_expected()})")
    m, anchor = found
    return m.read(anchor)


def dataset_writer(out: str | os.PathLike, fmt: str, names: list[str]):
    """A new dataset in format ``fmt`` (``add`` images with their boxes, then ``close``)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format '{fmt}' ({', '.join(FORMATS)})")
    return FORMATS[fmt].Writer(out, names)


def open_editor(path: str | os.PathLike):
    """(editor, items) for a dataset in any format, or a plain folder of images (a new YOLO dataset)."""
    p = Path(path)
    if p.is_dir() and detect(p) is None:
        return yolo.Editor.open_folder(p)
    if not p.exists():
        raise DatasetError(f"{p}: no such file or folder")
    found = detect(p)
    if found is None:
        raise DatasetError(f"{p}: not a dataset (expected {_expected()}, or a folder of images)")
    m, anchor = found
    return m.Editor.open(anchor, m.read(anchor))
