"""Frame iterators for ``predict``: an image, a folder, a video file, a camera index or a URL.

Unreadable files are yielded as errors (never skipped silently, never judged).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from core.data.imageio import IMAGE_EXTS, VIDEO_EXTS, ImageError, read_image


def is_stream(source: str) -> bool:
    return source.isdigit() or source.lower().startswith(("rtsp://", "rtmp://", "http://", "https://"))


def iter_frames(source: str, max_frames: int = 0) -> Iterator[tuple[str, np.ndarray | None, str | None]]:
    """Yield (name, BGR image or None, error or None) for each frame of ``source``."""
    n = 0
    if is_stream(source):
        cap = cv2.VideoCapture(int(source) if source.isdigit() else source)
        if not cap.isOpened():
            raise ValueError(f"cannot open camera or stream '{source}'")
        try:
            while not max_frames or n < max_frames:
                ok, frame = cap.read()
                if not ok:
                    yield f"{source}#{n}", None, "no frame (signal lost)"
                    break
                yield f"frame_{n:06d}", frame, None
                n += 1
        finally:
            cap.release()
        return
    p = Path(source)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file or folder")
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.suffix.lower() in IMAGE_EXTS | VIDEO_EXTS)
        if not files:
            raise ValueError(f"{p}: no images or videos in this folder")
    else:
        files = [p]
    for f in files:
        if f.suffix.lower() in VIDEO_EXTS:
            cap = cv2.VideoCapture(str(f))
            if not cap.isOpened():
                yield str(f), None, "cannot open video"
                continue
            k = 0
            try:
                while True:
                    ok, frame = cap.read()
                    if not ok:
                        break
                    yield f"{f}#{k:06d}", frame, None
                    k += 1
                    n += 1
                    if max_frames and n >= max_frames:
                        return
            finally:
                cap.release()
        else:
            try:
                yield str(f), read_image(f), None
            except ImageError as e:
                yield str(f), None, str(e).split(": ", 1)[-1]
            n += 1
            if max_frames and n >= max_frames:
                return
