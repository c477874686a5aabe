"""Annotated NG thumbnails for reports: the saved image with its defect boxes, or a placeholder."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from core.data.imageio import ImageError, read_image
from core.util.palette import class_color

THUMB_W, THUMB_H = 320, 240
PAD = (245, 245, 245)


def thumbnail(image_path: str | None, detections: list[tuple], names: list[str]) -> tuple[bytes, str | None]:
    """JPEG bytes of the annotated image, scaled whole into THUMB_W × THUMB_H and centred on a plain
    background (every thumbnail has one shape: a tall or wide image cannot outgrow a table row or a
    page), and why the image is not shown (None when it is). The image is read as every image is
    (``read_image``): a regular file only (a FIFO would hang the report), its size checked on its
    header before anything is decoded; else a placeholder, and the reason ("file not found", "not a
    regular file (a FIFO)", "image too large (...)")."""
    img, problem = None, "not saved"
    if image_path:
        try:
            img, problem = read_image(image_path), None
        except ImageError as e:
            problem = str(e).removeprefix(f"{Path(image_path)}: ")
    out = np.full((THUMB_H, THUMB_W, 3), PAD, np.uint8)
    if img is None:
        cv2.putText(out, "image not shown", (70, THUMB_H // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (120, 120, 120), 2,
                    cv2.LINE_AA)
    else:
        s = min(THUMB_W / img.shape[1], THUMB_H / img.shape[0])
        for name, _score, x1, y1, x2, y2 in detections:
            c = names.index(name) if name in names else abs(hash(name)) % 18
            t = max(2, int(round(2 / s)))      # about 2 px wide once scaled
            cv2.rectangle(img, (int(x1), int(y1)), (int(x2), int(y2)), class_color(c), t)
        w, h = max(1, int(round(img.shape[1] * s))), max(1, int(round(img.shape[0] * s)))
        x0, y0 = (THUMB_W - w) // 2, (THUMB_H - h) // 2
        out[y0:y0 + h, x0:x0 + w] = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, 82])
    return buf.tobytes(), problem
