"""A synthetic steel-strip line: procedural textures with defects at known places, deterministic
by seed. It feeds the ``demo`` source (the app works with no camera and no data) and the tests
(small datasets in any format, written on the fly).

Classes follow NEU-DET: crazing, inclusion, patches, pitted_surface, rolled-in_scale, scratches.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

CLASSES = ["crazing", "inclusion", "patches", "pitted_surface", "rolled-in_scale", "scratches"]


def steel_background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Brushed-steel texture: grey level, rolling streaks along x, fine grain noise."""
    base = rng.uniform(110, 160)
    streaks = rng.normal(0, 6, (h, 1)).repeat(w, 1)
    streaks = cv2.GaussianBlur(streaks.astype(np.float32), (1, 5), 0)
    grain = rng.normal(0, 5, (h, w)).astype(np.float32)
    grain = cv2.GaussianBlur(grain, (3, 3), 0)
    shade = np.linspace(-8, 8, w, dtype=np.float32)[None, :] * rng.uniform(-1, 1)
    return base + streaks + grain + shade


def _box(x1, y1, x2, y2, w, h):
    return [float(max(0, x1)), float(max(0, y1)), float(min(w, x2)), float(min(h, y2))]


def draw_defect(img: np.ndarray, cls: int, rng: np.random.Generator, scale: float = 1.0):
    """Draw one defect of class ``cls`` in place; returns its box [x1, y1, x2, y2]."""
    h, w = img.shape
    s = scale
    if cls == 5:  # scratch: a long thin bright or dark line
        L = rng.uniform(0.3, 0.7) * max(h, w)
        ang = rng.uniform(0, np.pi)
        cx, cy = rng.uniform(0.25, 0.75) * w, rng.uniform(0.25, 0.75) * h
        dx, dy = np.cos(ang) * L / 2, np.sin(ang) * L / 2
        p1, p2 = (int(cx - dx), int(cy - dy)), (int(cx + dx), int(cy + dy))
        tone = rng.choice([-1, 1]) * rng.uniform(45, 70)
        layer = np.zeros_like(img)
        cv2.line(layer, p1, p2, float(tone), max(1, int(2 * s)), cv2.LINE_AA)
        img += cv2.GaussianBlur(layer, (3, 3), 0)
        return _box(min(p1[0], p2[0]) - 3, min(p1[1], p2[1]) - 3, max(p1[0], p2[0]) + 3, max(p1[1], p2[1]) + 3, w, h)
    if cls == 2:  # patch: a large darker blotch with soft edges
        rw, rh = rng.uniform(0.12, 0.25) * w, rng.uniform(0.12, 0.25) * h
        cx, cy = rng.uniform(rw, w - rw), rng.uniform(rh, h - rh)
        layer = np.zeros_like(img)
        cv2.ellipse(layer, (int(cx), int(cy)), (int(rw), int(rh)), rng.uniform(0, 180), 0, 360, 1.0, -1)
        layer = cv2.GaussianBlur(layer, (0, 0), max(2.0, rw / 6))
        img -= layer * rng.uniform(40, 70)
        return _box(cx - rw, cy - rh, cx + rw, cy + rh, w, h)
    if cls == 1:  # inclusion: an elongated dark streak along the rolling direction
        lw, lh = rng.uniform(0.15, 0.35) * w, rng.uniform(0.02, 0.05) * h + 2
        cx, cy = rng.uniform(lw / 2, w - lw / 2), rng.uniform(lh, h - lh)
        layer = np.zeros_like(img)
        cv2.ellipse(layer, (int(cx), int(cy)), (int(lw / 2), int(lh / 2)), 0, 0, 360, 1.0, -1)
        img -= cv2.GaussianBlur(layer, (3, 3), 0) * rng.uniform(50, 80)
        return _box(cx - lw / 2 - 2, cy - lh / 2 - 2, cx + lw / 2 + 2, cy + lh / 2 + 2, w, h)
    if cls == 3:  # pitted surface: a cluster of small dark pits
        rw, rh = rng.uniform(0.08, 0.18) * w, rng.uniform(0.08, 0.18) * h
        cx, cy = rng.uniform(rw, w - rw), rng.uniform(rh, h - rh)
        for _ in range(int(rng.integers(8, 20))):
            px, py = rng.normal(cx, rw / 2.5), rng.normal(cy, rh / 2.5)
            cv2.circle(img, (int(px), int(py)), int(rng.integers(1, 3) * s), float(rng.uniform(30, 60)), -1, cv2.LINE_AA)
        return _box(cx - rw, cy - rh, cx + rw, cy + rh, w, h)
    if cls == 4:  # rolled-in scale: flakes of bright/dark irregular texture in a band
        rw, rh = rng.uniform(0.15, 0.3) * w, rng.uniform(0.06, 0.12) * h
        cx, cy = rng.uniform(rw, w - rw), rng.uniform(rh, h - rh)
        for _ in range(int(rng.integers(10, 25))):
            px, py = rng.uniform(cx - rw, cx + rw), rng.uniform(cy - rh, cy + rh)
            axes = (int(rng.uniform(2, 6) * s), int(rng.uniform(1, 3) * s))
            cv2.ellipse(img, (int(px), int(py)), axes, rng.uniform(-20, 20), 0, 360,
                        float(rng.choice([rng.uniform(20, 50), rng.uniform(190, 230)])), -1, cv2.LINE_AA)
        return _box(cx - rw - 4, cy - rh - 3, cx + rw + 4, cy + rh + 3, w, h)
    # crazing: a network of fine dark cracks
    rw, rh = rng.uniform(0.15, 0.3) * w, rng.uniform(0.15, 0.3) * h
    cx, cy = rng.uniform(rw, w - rw), rng.uniform(rh, h - rh)
    layer = np.zeros_like(img)
    for _ in range(int(rng.integers(12, 25))):
        x, y = rng.uniform(cx - rw, cx + rw), rng.uniform(cy - rh, cy + rh)
        for _ in range(4):
            nx, ny = x + rng.normal(0, rw / 4), y + rng.normal(0, rh / 6)
            nx, ny = np.clip(nx, cx - rw, cx + rw), np.clip(ny, cy - rh, cy + rh)
            cv2.line(layer, (int(x), int(y)), (int(nx), int(ny)), 1.0, 1, cv2.LINE_AA)
            x, y = nx, ny
    img -= layer * rng.uniform(35, 55)
    return _box(cx - rw, cy - rh, cx + rw, cy + rh, w, h)


def make_image(seed: int, size: tuple[int, int] = (200, 200), n_defects: tuple[int, int] = (0, 3),
               classes: list[int] | None = None):
    """One synthetic strip image: (BGR uint8, boxes (n, 4) float32, classes (n,) int64)."""
    rng = np.random.default_rng(seed)
    h, w = size
    img = steel_background(rng, h, w)
    cls_pool = classes if classes is not None else list(range(len(CLASSES)))
    n = int(rng.integers(n_defects[0], n_defects[1] + 1))
    boxes, labels = [], []
    for _ in range(n):
        c = int(rng.choice(cls_pool))
        boxes.append(draw_defect(img, c, rng, scale=max(h, w) / 200))
        labels.append(c)
    gray = np.clip(img, 0, 255).astype(np.uint8)
    bgr = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    return bgr, np.array(boxes, np.float32).reshape(-1, 4), np.array(labels, np.int64)


DEMO_SIZE = (480, 640)      # the demo line's frames (h, w)
DEMO_DEFECT_RATE = 0.35     # share of frames with one or two defects


def demo_frame(seed: int, k: int, size: tuple[int, int] = DEMO_SIZE, defect_rate: float = DEMO_DEFECT_RATE):
    """Frame ``k`` of the demo line ``seed``: (BGR uint8, boxes (n, 4), classes (n,)), always the same."""
    rng = np.random.default_rng(seed * 7919 + k)
    n = (1, 2) if rng.random() < defect_rate else (0, 0)
    return make_image(seed * 100003 + k, size, n)


def write_dataset(root: str | Path, n_train: int, n_val: int, fmt: str = "yolo", size=(200, 200),
                  classes: list[int] | None = None, n_defects=(0, 3), seed: int = 0) -> Path:
    """Write a synthetic dataset in ``fmt`` (yolo, voc or coco); returns what ``--data`` takes."""
    from core.data.formats import dataset_writer

    names = CLASSES if classes is None else [CLASSES[c] for c in classes]
    remap = {c: i for i, c in enumerate(classes)} if classes is not None else None
    writer = dataset_writer(root, fmt, names)
    for split, idx in (("train", range(n_train)), ("val", range(n_train, n_train + n_val))):
        for k in idx:
            img, boxes, labels = make_image(seed * 100003 + k, size, n_defects, classes)
            if remap:
                labels = np.array([remap[int(c)] for c in labels], np.int64)
            writer.add(split, f"strip_{k:05d}", img, boxes, labels, img.shape[1], img.shape[0])
    return writer.close()
