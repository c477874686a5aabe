"""Tiled inference for large images: small defects in 2-8k images are not lost to resizing.

The image is cut into ``tile`` x ``tile`` windows overlapping by ``overlap`` (the last window of a
row or column is moved in to end at the edge, so every window has the same size, as an exported
model's fixed input wants); each window goes through the predictor at the model's size, and the
whole image once more (defects larger than a tile). Boxes are merged class by class by NMS on
intersection over the smaller box, so a defect cut by a window edge is one detection.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from core.config import TILE_OVERLAP

from .postprocess import batched_nms
from .predictor import Detections

MERGE_OVERLAP = 0.6   # intersection over the smaller box above which two boxes are one defect


def window_starts(n: int, tile: int, overlap: float) -> list[int]:
    if n <= tile:
        return [0]
    step = max(1, int(round(tile * (1 - overlap))))
    s = list(range(0, n - tile + 1, step))
    if s[-1] != n - tile:
        s.append(n - tile)
    return s


def windows(width: int, height: int, tile: int, overlap: float = TILE_OVERLAP) -> list[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) of the tiles covering a ``width`` x ``height`` image."""
    if tile < 32:
        raise ValueError(f"tile size must be at least 32 pixels, got {tile}")
    if not 0 <= overlap < 1:
        raise ValueError(f"tile overlap must be in [0, 1), got {overlap}")
    return [(x, y, min(x + tile, width), min(y + tile, height))
            for y in window_starts(height, tile, overlap) for x in window_starts(width, tile, overlap)]


class TiledPredictor:
    """Wraps a ``Predictor``: same call, same attributes, detections from tiles plus the whole image."""

    def __init__(self, predictor, tile: int, overlap: float = TILE_OVERLAP, whole: bool = True):
        windows(tile, tile, tile, overlap)   # checks the settings now, not at the first image
        self.inner, self.tile, self.overlap, self.whole = predictor, int(tile), float(overlap), whole

    def __getattr__(self, name):   # names, imgsz, model_id, device, runtime, checkpoint_meta, ...
        return getattr(self.inner, name)

    @property
    def conf(self):
        return self.inner.conf

    @conf.setter
    def conf(self, v):
        self.inner.conf = v

    def __call__(self, img: np.ndarray, conf: float | None = None) -> Detections:
        h, w = img.shape[:2]
        parts, timings = [], {"preprocess": 0.0, "inference": 0.0, "postprocess": 0.0}
        wins = windows(w, h, self.tile, self.overlap)
        if self.whole and len(wins) > 1:
            wins = [(0, 0, w, h)] + wins
        for x0, y0, x1, y1 in wins:
            d = self.inner(np.ascontiguousarray(img[y0:y1, x0:x1]), conf)
            for k in timings:
                timings[k] += d.timings.get(k, 0.0)
            if len(d):
                b = d.boxes.copy()
                b[:, [0, 2]] += x0
                b[:, [1, 3]] += y0
                parts.append((b, d.scores, d.classes))
        t1 = time.perf_counter()
        if parts:
            boxes = torch.from_numpy(np.concatenate([p[0] for p in parts]).astype(np.float32))
            scores = torch.from_numpy(np.concatenate([p[1] for p in parts]).astype(np.float32))
            classes = torch.from_numpy(np.concatenate([p[2] for p in parts]).astype(np.int64))
            keep = batched_nms(boxes, scores, classes, MERGE_OVERLAP, self.inner.max_det, over_smaller=True).numpy()
            boxes, scores, classes = boxes.numpy()[keep], scores.numpy()[keep], classes.numpy()[keep]
        else:
            boxes, scores, classes = np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, int)
        timings["postprocess"] += (time.perf_counter() - t1) * 1e3
        return Detections(boxes, scores, classes.astype(int), self.inner.names, w, h, timings)
