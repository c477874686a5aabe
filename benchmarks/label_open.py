"""How long the labelling view's dataset opening takes for a large folder (10,000 images by default).

    python benchmarks/label_open.py [--n 10000] [--dir /tmp/label_bench]

Writes N small PNGs (a quarter of them labelled, YOLO layout) once, then times
``LabelProject.open`` (the background scan the file list waits for) on the plain folder and on the
YOLO dataset, and the file-list model filling and filtering. Prints one line per measurement.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make(root: Path, n: int):
    img_dir, lab_dir = root / "images", root / "labels"
    if img_dir.is_dir() and len(list(img_dir.iterdir())) >= n:
        return
    img_dir.mkdir(parents=True, exist_ok=True)
    lab_dir.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".png", np.full((32, 32, 3), 100, np.uint8))
    for i in range(n):
        (img_dir / f"im{i:05d}.png").write_bytes(buf.tobytes())
        if i % 4 == 0:
            (lab_dir / f"im{i:05d}.txt").write_text(f"{i % 3} 0.5 0.5 0.2 0.2\n")
    (root / "data.yaml").write_text(yaml.safe_dump({"path": str(root), "train": "images", "val": "images",
                                                    "names": ["a", "b", "c"]}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--dir", default="/tmp/label_bench")
    a = ap.parse_args()
    root = Path(a.dir)
    make(root, a.n)
    from core.labels.project import LabelProject

    for what, path in (("YOLO dataset", root / "data.yaml"), ("plain folder", root / "images")):
        t = time.perf_counter()
        p = LabelProject.open(path)
        dt = time.perf_counter() - t
        t = time.perf_counter()
        rows = [it for it in p.items if p.matches(it, "unlabelled")]
        df = time.perf_counter() - t
        print(f"{what}: {len(p.items)} images opened in {dt:.2f} s (background thread); "
              f"'unlabelled' filter over them {df * 1000:.1f} ms ({len(rows)} rows)")


if __name__ == "__main__":
    main()
