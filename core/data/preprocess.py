"""The one preprocessing used everywhere: training validation, live inspection, predict, export.

``Preprocess`` describes it (image size, stride, pad value, colour order, scale); every checkpoint
saves that description and inference reads it back. ``letterbox`` resizes keeping the aspect ratio
and pads centred with grey; ``to_input`` is the single uint8 -> float step (batches of the dataset
and single images alike); ``scale_boxes`` maps boxes back to the original image's pixels.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np
import torch

PAD_VALUE = 114
STRIDE = 32  # the largest stride of the network: input sides are multiples of it


@dataclass(frozen=True)
class LetterboxInfo:
    """How an original image maps into the letterboxed input."""
    ratio: float      # scale applied to the original
    pad_x: float      # left padding in input pixels
    pad_y: float      # top padding
    orig_w: int
    orig_h: int


def letterbox_geometry(w: int, h: int, size: int | tuple[int, int], scaleup: bool = True):
    """-> (new_w, new_h, (top, bottom, left, right), LetterboxInfo) for an image of ``w`` x ``h``."""
    th, tw = (size, size) if isinstance(size, int) else size
    r = min(th / h, tw / w)
    if not scaleup:
        r = min(r, 1.0)
    nw, nh = int(round(w * r)), int(round(h * r))
    dw, dh = (tw - nw) / 2, (th - nh) / 2
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    return nw, nh, (top, bottom, left, right), LetterboxInfo(r, left, top, w, h)


def letterbox(img: np.ndarray, size: int | tuple[int, int], scaleup: bool = True,
              pad_value: int = PAD_VALUE) -> tuple[np.ndarray, LetterboxInfo]:
    """Resize ``img`` (H, W, 3) into ``size`` (int or (h, w)) keeping aspect ratio; pad centred."""
    h, w = img.shape[:2]
    nw, nh, (top, bottom, left, right), info = letterbox_geometry(w, h, size, scaleup)
    if (nw, nh) != (w, h):
        interp = cv2.INTER_LINEAR if info.ratio > 1 else cv2.INTER_AREA
        img = cv2.resize(img, (nw, nh), interpolation=interp)
    if top or bottom or left or right:
        img = cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(pad_value,) * 3)
    return img, info


def to_chw(img: np.ndarray, channel_order: str = "RGB") -> np.ndarray:
    """BGR uint8 (H, W, 3) -> uint8 (3, H, W) in the model's channel order."""
    x = img[:, :, ::-1] if channel_order == "RGB" else img
    return np.ascontiguousarray(x.transpose(2, 0, 1))


@dataclass(frozen=True)
class Preprocess:
    """What an image goes through before the model; saved with every checkpoint."""
    imgsz: int = 640
    stride: int = STRIDE
    pad_value: int = PAD_VALUE
    channel_order: str = "RGB"          # of the model input; images are read BGR (OpenCV)
    scale: float = 1 / 255              # uint8 -> float factor
    center: bool = True                 # letterbox padding split evenly on both sides

    def __post_init__(self):
        if self.imgsz < self.stride or self.imgsz % self.stride:
            raise ValueError(f"image size must be a positive multiple of {self.stride}, got {self.imgsz}")
        if self.channel_order not in ("RGB", "BGR"):
            raise ValueError(f"channel order must be RGB or BGR, got {self.channel_order}")
        if not self.center:
            raise ValueError("only centred letterbox padding is implemented")

    def letterbox(self, img: np.ndarray) -> tuple[np.ndarray, LetterboxInfo]:
        return letterbox(img, self.imgsz, pad_value=self.pad_value)

    def geometry(self, width: int, height: int) -> LetterboxInfo:
        """The letterbox geometry of an image of this size, without the image."""
        return letterbox_geometry(width, height, self.imgsz)[3]

    def to_input(self, x: torch.Tensor, device=None, dtype=torch.float32) -> torch.Tensor:
        """uint8 (B, 3, H, W) or (3, H, W) in channel order -> the model's float input."""
        if device is not None:
            x = x.to(device, non_blocking=True)
        x = x.to(dtype)
        # dividing by 255 (not multiplying by 1/255) keeps inputs bit-identical to earlier versions
        return x / 255.0 if self.scale == 1 / 255 else x * self.scale

    def __call__(self, img: np.ndarray) -> tuple[torch.Tensor, LetterboxInfo]:
        """BGR uint8 image -> model input (3, S, S) and how to map boxes back."""
        lb, info = self.letterbox(img)
        return self.to_input(torch.from_numpy(to_chw(lb, self.channel_order))), info

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_checkpoint(cls, ckpt: dict, imgsz: int | None = None) -> "Preprocess":
        """The checkpoint's description; older checkpoints (no ``imgsz`` in it) used these defaults."""
        d = ckpt.get("preprocess")
        d = dict(d) if isinstance(d, dict) and "imgsz" in d else {}
        d["imgsz"] = int(imgsz or d.get("imgsz") or ckpt.get("imgsz", 640))
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})


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
