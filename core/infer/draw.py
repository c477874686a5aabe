"""Burn detections into an image (for saved prediction images; the GUI draws overlays instead)."""
from __future__ import annotations

import cv2
import numpy as np

from core.util.palette import class_color


def draw_detections(img: np.ndarray, boxes, scores, classes, names: list[str]) -> np.ndarray:
    out = img.copy()
    lw = max(1, round(sum(out.shape[:2]) / 2 * 0.003))
    for (x1, y1, x2, y2), s, c in zip(boxes, scores, classes):
        col = class_color(int(c))
        p1, p2 = (int(x1), int(y1)), (int(x2), int(y2))
        cv2.rectangle(out, p1, p2, col, lw, cv2.LINE_AA)
        label = f"{names[int(c)]} {s:.2f}"
        fs = max(0.35, lw / 3)
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, fs, 1)
        y = p1[1] - 2 if p1[1] - th - 4 >= 0 else p1[1] + th + 4
        cv2.rectangle(out, (p1[0], y - th - 2), (p1[0] + tw + 2, y + 2), col, -1)
        cv2.putText(out, label, (p1[0] + 1, y), cv2.FONT_HERSHEY_SIMPLEX, fs, (255, 255, 255), 1, cv2.LINE_AA)
    return out
