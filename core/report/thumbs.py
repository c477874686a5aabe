"""Annotated NG thumbnails for reports: the saved image with its defect boxes, or a placeholder."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from core.util.palette import class_color

THUMB_W, THUMB_H = 320, 240
PAD = (245, 245, 245)


def thumbnail(image_path: str | None, detections: list[tuple], names: list[str]) -> tuple[bytes, bool]:
    """JPEG bytes of the annotated image, scaled whole into THUMB_W × THUMB_H and centred on a plain
    background (every thumbnail has one shape: a tall or wide image cannot outgrow a table row or a
    page), and whether the image was found."""
    img = None
    if image_path:
        try:
            data = np.fromfile(str(Path(image_path)), np.uint8)
            img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
        except OSError:
            img = None
    found = img is not None
    out = np.full((THUMB_H, THUMB_W, 3), PAD, np.uint8)
    if img is None:
        cv2.putText(out, "image not found", (70, THUMB_H // 2 + 5), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (120, 120, 120), 2,
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
    return buf.tobytes(), found
