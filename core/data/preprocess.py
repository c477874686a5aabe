"""The one preprocessing used everywhere: training validation, live inspection, CLI predict, export.

``letterbox`` resizes keeping the aspect ratio and pads to the target with grey (114), centred;
``to_tensor`` turns the BGR uint8 result into the model's RGB float input in [0, 1];
``scale_boxes`` maps boxes back to the original image's pixels.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

PAD_VALUE = 114


@dataclass(frozen=True)
class LetterboxInfo:
    """How an original image maps into the letterboxed input."""
    ratio: float      # scale applied to the original
    pad_x: float      # left padding in input pixels
    pad_y: float      # top padding
    orig_w: int
    orig_h: int


def letterbox(img: np.ndarray, size: int | tuple[int, int], scaleup: bool = True,
              pad_value: int = PAD_VALUE) -> tuple[np.ndarray, LetterboxInfo]:
    """Resize ``img`` (H, W, 3) into ``size`` (int or (h, w)) keeping aspect ratio; pad centred."""
    th, tw = (size, size) if isinstance(size, int) else size
    h, w = img.shape[:2]
    r = min(th / h, tw / w)
    if not scaleup:
        r = min(r, 1.0)
    nw, nh = int(round(w * r)), int(round(h * r))
    if (nw, nh) != (w, h):
        interp = cv2.INTER_LINEAR if r > 1 else cv2.INTER_AREA
        img = cv2.resize(img, (nw, nh), interpolation=interp)
    dw, dh = (tw - nw) / 2, (th - nh) / 2
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    if top or bottom or left or right:
        img = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(pad_value,) * 3)
    return img, LetterboxInfo(r, left, top, w, h)


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """BGR uint8 (H, W, 3) -> RGB float (3, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(img[:, :, ::-1].transpose(2, 0, 1))).float().div_(255.0)


def preprocess(img: np.ndarray, size: int | tuple[int, int]) -> tuple[torch.Tensor, LetterboxInfo]:
    """Letterbox and convert: the model input (3, H, W) and how to map boxes back."""
    lb, info = letterbox(img, size)
    return to_tensor(lb), info


def scale_boxes(boxes: np.ndarray | torch.Tensor, info: LetterboxInfo):
    """Boxes in letterboxed-input pixels -> original image pixels, clipped to the image."""
    b = boxes.clone() if isinstance(boxes, torch.Tensor) else boxes.astype(np.float32).copy()
    b[:, [0, 2]] = (b[:, [0, 2]] - info.pad_x) / info.ratio
    b[:, [1, 3]] = (b[:, [1, 3]] - info.pad_y) / info.ratio
    if isinstance(b, torch.Tensor):
        b[:, [0, 2]] = b[:, [0, 2]].clamp(0, info.orig_w)
        b[:, [1, 3]] = b[:, [1, 3]].clamp(0, info.orig_h)
    else:
        b[:, [0, 2]] = b[:, [0, 2]].clip(0, info.orig_w)
        b[:, [1, 3]] = b[:, [1, 3]].clip(0, info.orig_h)
    return b
