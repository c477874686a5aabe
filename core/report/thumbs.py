"""Annotated NG thumbnails for reports: the saved image with its defect boxes, or a placeholder."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from core.util.palette import class_color

THUMB_W = 320


def thumbnail(image_path: str | None, detections: list[tuple], names: list[str]) -> tuple[bytes, bool]:
    """JPEG bytes of the annotated image scaled to THUMB_W wide, and whether the image was found."""
    img = None
    if image_path:
        try:
            data = np.fromfile(str(Path(image_path)), np.uint8)
            img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
        except OSError:
            img = None
    found = img is not None
    if img is None:
        img = np.full((180, THUMB_W, 3), 235, np.uint8)
        cv2.putText(img, "image not found", (70, 95), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (120, 120, 120), 2, cv2.LINE_AA)
    else:
        for name, _score, x1, y1, x2, y2 in detections:
            c = names.index(name) if name in names else abs(hash(name)) % 18
            t = max(2, int(round(img.shape[1] / THUMB_W * 2)))
            cv2.rectangle(img, (int(x1), int(y1)), (int(x2), int(y2)), class_color(c), t)
        s = THUMB_W / img.shape[1]
        img = cv2.resize(img, (THUMB_W, max(1, int(img.shape[0] * s))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 82])
    return buf.tobytes(), found
