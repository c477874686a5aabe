"""What ``--data`` accepts: a dataset path in any layout, or ``demo[:N[:SEED]]``.

``demo:N`` is the built-in synthetic line as a dataset, so ``val`` can score a model on what the
demo source shows: its val split is frames 0..N-1 of line SEED (default 0: the frames the ``demo``
source plays), its train split N frames of line SEED + 1 (disjoint). The synthetic line knows
where it drew each defect, so the labels are exact. Frames are written once to a cache folder
(SDGAS_HOME/datasets) and reused.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from core.util.paths import app_dir

from .formats import DatasetError, DatasetSpec, dataset_writer, load_dataset
from .synth import CLASSES, DEMO_SIZE, demo_frame

DEMO_DEFAULT_FRAMES = 200


def parse_demo(spec: str) -> tuple[int, int] | None:
    """``demo[:N[:SEED]]`` -> (N, SEED); None for anything else."""
    s = str(spec)
    if s != "demo" and not s.startswith("demo:"):
        return None
    parts = s.split(":")[1:]
    try:
        n = int(parts[0]) if parts and parts[0] else DEMO_DEFAULT_FRAMES
        seed = int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        bad = next((p for p in parts if p and not p.strip().lstrip('-').isdigit()), parts[-1])
        raise DatasetError(f"'{s}': expected demo, demo:N or demo:N:SEED (N frames of line SEED) with whole "
                           f"numbers, not '{bad}'") from None
    if n < 1 or seed < 0 or len(parts) > 2:
        raise DatasetError(f"'{s}': expected demo:N[:SEED] with N >= 1 and SEED >= 0")
    return n, seed


def demo_dataset(n: int, seed: int = 0, root: str | os.PathLike | None = None) -> Path:
    """The demo line as a YOLO dataset folder (written on first use); returns its data.yaml."""
    base = Path(root) if root else app_dir() / "datasets"
    h, w = DEMO_SIZE
    out = base / f"demo_n{n}_s{seed}_{w}x{h}"
    if (out / "data.yaml").is_file():
        return out / "data.yaml"
    base.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".demo-", dir=base))
    try:
        writer = dataset_writer(tmp, "yolo", CLASSES)
        for split, line in (("val", seed), ("train", seed + 1)):
            for k in range(n):
                img, boxes, labels = demo_frame(line, k)
                writer.add(split, f"line{line}_{k:05d}", img, boxes, labels, img.shape[1], img.shape[0])
        yaml_path = writer.close()
        # relative, so that the folder reads the same once it is moved into place
        yaml_path.write_text(yaml_path.read_text().replace(f"path: {tmp.resolve()}", "path: ."))
        try:
            os.replace(tmp, out)  # whole or not at all: a half-written cache is never used
        except OSError:  # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out / "data.yaml"


def open_dataset(spec: str | os.PathLike) -> DatasetSpec:
    """Any ``--data``: a path (data.yaml, VOC folder, COCO json/folder) or ``demo[:N[:SEED]]``."""
    demo = parse_demo(str(spec))
    if demo is not None and not Path(str(spec)).exists():
        return load_dataset(demo_dataset(*demo))
    return load_dataset(spec)
