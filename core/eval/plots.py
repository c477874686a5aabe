"""Evaluation plots drawn with OpenCV (no matplotlib): PR curves and the confusion matrix."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from core.util.io import atomic_write_bytes
from core.util.palette import class_color



def _save_png(path, img):
    ok, buf = cv2.imencode(".png", img)
    if ok:
        atomic_write_bytes(path, buf.tobytes())


def plot_pr_curves(curves: dict, names: list[str], ap50: np.ndarray, path: str | Path, size=(900, 640)) -> None:
    """Precision-recall at IoU 0.5 per class and their mean."""
    W, H = size
    img = np.full((H, W, 3), 255, np.uint8)
    x0, y0, x1, y1 = 70, 30, W - 260, H - 60
    cv2.rectangle(img, (x0, y0), (x1, y1), (0, 0, 0), 1)
    for v in np.linspace(0, 1, 6):
        x = int(x0 + v * (x1 - x0))
        y = int(y1 - v * (y1 - y0))
        cv2.line(img, (x, y1), (x, y1 + 5), (0, 0, 0), 1)
        cv2.putText(img, f"{v:.1f}", (x - 12, y1 + 22), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        cv2.line(img, (x0 - 5, y), (x0, y), (0, 0, 0), 1)
        cv2.putText(img, f"{v:.1f}", (x0 - 40, y + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "Recall", ((x0 + x1) // 2 - 25, H - 15), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "Precision", (5, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)

    def pts(r, p):
        return np.stack([x0 + r * (x1 - x0), y1 - p * (y1 - y0)], 1).astype(np.int32)

    allp = []
    for row, (c, (r, p)) in enumerate(sorted(curves.items())):
        allp.append(p)
        col = class_color(c)
        cv2.polylines(img, [pts(r, p)], False, col, 1, cv2.LINE_AA)
        label = f"{names[c]} {ap50[c]:.3f}"
        cv2.putText(img, label, (x1 + 15, y0 + 20 + 22 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.5, col, 1, cv2.LINE_AA)
    if allp:
        mean = np.mean(allp, 0)
        r = next(iter(curves.values()))[0]
        cv2.polylines(img, [pts(r, mean)], False, (200, 80, 0), 3, cv2.LINE_AA)
        cv2.putText(img, f"all classes {np.nanmean(ap50):.3f} mAP@0.5", (x1 + 15, y0 + 20 + 22 * len(curves)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, (200, 80, 0), 2, cv2.LINE_AA)
    _save_png(path, img)


def plot_confusion(mat: np.ndarray, names: list[str], path: str | Path, normalize: bool = True) -> None:
    """Rows: true class (last: background); columns: predicted (last: missed)."""
    n = mat.shape[0]
    labels = list(names) + ["background"]
    cell = max(40, min(80, 640 // n))
    left, top = 170, 150
    W, H = left + cell * n + 20, top + cell * n + 20
    img = np.full((H, W, 3), 255, np.uint8)
    m = mat.astype(float)
    if normalize:
        m = m / np.maximum(m.sum(1, keepdims=True), 1)
    vmax = m.max() or 1
    for i in range(n):
        for j in range(n):
            v = m[i, j] / vmax
            col = (int(255 - 180 * v), int(255 - 120 * v), int(255 - 20 * v))
            x, y = left + j * cell, top + i * cell
            cv2.rectangle(img, (x, y), (x + cell, y + cell), col, -1)
            cv2.rectangle(img, (x, y), (x + cell, y + cell), (200, 200, 200), 1)
            txt = f"{m[i, j]:.2f}" if normalize else str(int(mat[i, j]))
            if mat[i, j]:
                cv2.putText(img, txt, (x + 4, y + cell // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    for i, lab in enumerate(labels):
        cv2.putText(img, lab[:20], (5, top + i * cell + cell // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        # column labels, written vertically by rotating a small patch
        patch = np.full((cell, 140, 3), 255, np.uint8)
        cv2.putText(patch, (lab if i < n - 1 else "missed")[:18], (2, cell // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
        rot = cv2.rotate(patch, cv2.ROTATE_90_COUNTERCLOCKWISE)
        img[5:145, left + i * cell:left + (i + 1) * cell] = rot[:, :cell]
    cv2.putText(img, "true \\ predicted", (5, 140), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (90, 90, 90), 1, cv2.LINE_AA)
    _save_png(path, img)
