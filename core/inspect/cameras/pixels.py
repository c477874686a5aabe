"""Camera pixel formats (GenICam PFNC names) -> the BGR uint8 frame the pipeline judges.

One table for both backends: mono of any depth, Bayer mosaics (debayered), RGB/BGR with or
without alpha. A format not in the table is a ``PixelFormatError`` that names it and lists what
is known, so the operator can pick one in the camera settings; it is never guessed at.
"""
from __future__ import annotations

import cv2
import numpy as np


class PixelFormatError(ValueError):
    """The camera delivers a pixel format the pipeline does not convert."""


# OpenCV names a Bayer pattern after the second row's first two pixels, PFNC after the first:
# PFNC BayerRG (R G / G B) is OpenCV's BayerBG (checked against pylon's own converter in the tests).
_BAYER = {"RG": cv2.COLOR_BayerBG2BGR, "BG": cv2.COLOR_BayerRG2BGR,
          "GR": cv2.COLOR_BayerGB2BGR, "GB": cv2.COLOR_BayerGR2BGR}
_COLOR = {"RGB8": cv2.COLOR_RGB2BGR, "RGB8Packed": cv2.COLOR_RGB2BGR, "BGR8": None, "BGR8Packed": None,
          "RGBa8": cv2.COLOR_RGBA2BGR, "RGBA8Packed": cv2.COLOR_RGBA2BGR,
          "BGRa8": cv2.COLOR_BGRA2BGR, "BGRA8Packed": cv2.COLOR_BGRA2BGR}
_DEPTHS = (8, 10, 12, 16)


def known_formats() -> list[str]:
    """Every PFNC name ``to_bgr`` converts."""
    mono = [f"Mono{d}" for d in _DEPTHS]
    bayer = [f"Bayer{p}{d}" for p in _BAYER for d in _DEPTHS]
    return mono + bayer + list(_COLOR)


def _depth(name: str, prefix: str) -> int | None:
    rest = name[len(prefix):]
    return int(rest) if rest.isdigit() and int(rest) in _DEPTHS else None


def _to8(img: np.ndarray, bits: int) -> np.ndarray:
    """``bits`` significant bits (LSB-aligned, as GenTL delivers unpacked data) -> 8 bits."""
    if bits == 8:
        return img if img.dtype == np.uint8 else img.astype(np.uint8)
    return (img.astype(np.uint16) >> (bits - 8)).astype(np.uint8)


def to_bgr(raw: np.ndarray, pixel_format: str, width: int, height: int) -> np.ndarray:
    """A camera buffer (any shape holding ``height`` x ``width`` pixels) in ``pixel_format`` as BGR uint8."""
    name = str(pixel_format)
    if name.startswith("Mono") and (bits := _depth(name, "Mono")):
        return cv2.cvtColor(_to8(_plane(raw, bits, width, height), bits), cv2.COLOR_GRAY2BGR)
    if name.startswith("Bayer") and name[5:7] in _BAYER and (bits := _depth(name, "Bayer" + name[5:7])):
        return cv2.cvtColor(_to8(_plane(raw, bits, width, height), bits), _BAYER[name[5:7]])
    if name in _COLOR:
        ch = 4 if "a8" in name.lower() else 3
        img = np.ascontiguousarray(raw, dtype=np.uint8).reshape(height, width, ch)
        return img.copy() if _COLOR[name] is None else cv2.cvtColor(img, _COLOR[name])
    raise PixelFormatError(f"pixel format {name} is not supported: set the camera's PixelFormat to one of "
                           f"Mono8, BayerRG8 (or another Bayer pattern), RGB8 or BGR8")


def _plane(raw: np.ndarray, bits: int, width: int, height: int) -> np.ndarray:
    dtype = np.uint8 if bits == 8 else np.uint16
    a = np.asarray(raw)
    if a.dtype != dtype:
        a = np.frombuffer(np.ascontiguousarray(a).tobytes(), dtype=dtype)
    if a.size != width * height:
        raise PixelFormatError(f"buffer holds {a.size} pixels, not {width}x{height} "
                               f"(packed {bits}-bit formats are not supported; choose an unpacked one)")
    return a.reshape(height, width)
