"""Robust image loading: any common kind (8/16-bit, grayscale, RGB, RGBA, EXIF-rotated) -> BGR uint8."""
from __future__ import annotations

import io
import os
import re
import warnings
from pathlib import Path

import cv2
import numpy as np

from core.util.io import NotRegularFile, read_regular

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".m4v", ".wmv", ".mpg", ".mpeg"}
MAX_PIXELS = 400_000_000  # refuse to decode absurd images (decompression bombs)


class ImageError(ValueError):
    """An image that cannot be used; the message names the file and the reason."""


def to_bgr8(img: np.ndarray) -> np.ndarray:
    """Convert a decoded array of any depth/channel count to 3-channel BGR uint8."""
    if img.dtype == np.uint16:   # full 16-bit range -> 8-bit, rounded, with no float copy of a large image
        img = cv2.convertScaleAbs(img, alpha=1 / 257.0)
    elif img.dtype in (np.float32, np.float64):
        hi = 1.0 if float(np.nanmax(img)) <= 1.0 else 255.0
        img = np.clip(np.nan_to_num(img) / hi * 255.0, 0, 255).astype(np.uint8)
    elif img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.ndim == 3 and img.shape[2] == 1:
        return cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2BGR)
    if img.ndim == 3 and img.shape[2] == 4:
        # composite on black, as an operator would see a transparent image on a dark background
        a = img[:, :, 3:4].astype(np.float32) / 255.0
        return (img[:, :, :3].astype(np.float32) * a).round().astype(np.uint8)
    if img.ndim == 3 and img.shape[2] == 3:
        return np.ascontiguousarray(img)
    raise ImageError(f"unsupported image layout {img.shape}")


def frame_image(img) -> np.ndarray:
    """A frame as a camera or source delivered it -> BGR uint8; ImageError says what is wrong with it
    (not an array, empty, an odd layout, non-finite values, absurd size), so garbage is never judged."""
    if not isinstance(img, np.ndarray):
        raise ImageError(f"not an image array ({type(img).__name__})")
    if img.ndim not in (2, 3) or img.size == 0 or min(img.shape[:2]) < 1:
        raise ImageError(f"empty or odd image array (shape {img.shape})")
    if img.shape[0] * img.shape[1] > MAX_PIXELS:
        raise ImageError(f"image too large ({img.shape[1]}x{img.shape[0]})")
    if img.dtype.kind == "f" and not np.isfinite(img).all():
        raise ImageError("the image holds non-finite values (NaN or infinity)")
    if img.dtype.kind not in "uif" or img.dtype.kind == "b":
        raise ImageError(f"unsupported pixel type {img.dtype}")
    return to_bgr8(img)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as BGR uint8 (H, W, 3). Raises ImageError naming the file and problem."""
    p = Path(path)
    return decode_image(np.frombuffer(read_file(p), np.uint8), p)


def read_file(p: Path) -> bytes:
    """The bytes of image file ``p``, read only when it is a regular file (a FIFO named like an image
    would block the reader forever); ImageError names the file and the reason."""
    try:
        return read_regular(p)
    except FileNotFoundError:
        raise ImageError(f"{p}: file not found") from None
    except NotRegularFile as e:
        raise ImageError(f"{p}: {e.strerror}") from None
    except OSError as e:
        raise ImageError(f"{p}: cannot read ({e.strerror or e})") from None


def written_whole(path: str | os.PathLike) -> bool | None:
    """Whether an image file another program writes is complete, by its format's end mark: a JPEG
    ends with EOI (FFD9), a PNG with its IEND chunk, a BMP at the size its header gives. None for
    a format without one (TIFF, WebP): the caller waits until the file stops changing."""
    p = Path(path)
    try:
        with open(p, "rb") as f:
            head = f.read(6)
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 12))
            tail = f.read(12)
    except OSError:
        return None
    if head[:2] == b"\xff\xd8":
        return tail.rstrip(b"\0").endswith(b"\xff\xd9")    # some cameras pad after EOI
    if head[:4] == b"\x89PNG":
        return tail[-8:-4] == b"IEND"
    if head[:2] == b"BM" and len(head) == 6:
        return size >= int.from_bytes(head[2:6], "little") > 0
    return None


def declared_size(data: bytes) -> tuple[int, str] | None:
    """(pixels, "WxH") as an image file's header declares them, before anything is decoded; None when
    the size cannot be read from the header.

    Pillow reads the header, all of it and only it, of every format it knows (a JPEG's frame header
    wherever it lies after other segments, PNG, BMP, GIF, WebP, PPM, TIFF's first directory, ...); a
    TIFF whose pixel layout Pillow's images do not take still gives its size from its directory."""
    from PIL import Image, TiffImagePlugin

    buf = io.BytesIO(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)   # the limit here is MAX_PIXELS
        try:
            with Image.open(buf) as im:
                w, h = im.size
                return w * h, f"{w}x{h}"
        except Image.DecompressionBombError as e:
            # beyond Pillow's own limit (2 x Image.MAX_IMAGE_PIXELS, below ours): its message says how many
            m = re.search(r"\((\d+) pixels\)", str(e))
            n = int(m.group(1)) if m else MAX_PIXELS + 1
            return n, f"{n:,} pixels"
        except Exception:  # noqa: BLE001 - not a format Pillow knows, or a damaged header
            pass
    if data[:4] in (b"II*\0", b"MM\0*"):
        try:
            ifd = TiffImagePlugin.ImageFileDirectory_v2(data[:8])
            buf.seek(ifd.next)
            ifd.load(buf)
            w, h = int(ifd[256]), int(ifd[257])    # ImageWidth, ImageLength
            return w * h, f"{w}x{h}"
        except Exception:  # noqa: BLE001 - a damaged directory
            return None
    return None


def decode_image(data: np.ndarray, p: Path) -> np.ndarray:
    """Decode the bytes of image file ``p`` (uint8 array) to BGR uint8; errors name ``p``. The pixel
    limit is checked on the size the header declares, before anything is decoded; a file whose
    header gives no size is not decoded."""
    if data.size == 0:
        raise ImageError(f"{p}: empty file (0 bytes)")
    size = declared_size(data.tobytes())
    if size is None:
        raise ImageError(f"{p}: not a decodable image (its size cannot be read from its header: damaged, or not "
                         "JPEG, PNG, BMP, TIFF, WebP, GIF or PPM)")
    if size[0] > MAX_PIXELS:
        raise ImageError(f"{p}: image too large ({size[1]}, more than {MAX_PIXELS:,} pixels); not decoded")
    # IMREAD_COLOR|ANYDEPTH applies the EXIF orientation and keeps 16-bit depth; alpha needs UNCHANGED.
    img = cv2.imdecode(data, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR)
    if img is None:
        raise ImageError(f"{p}: not a decodable image (corrupt or unsupported format)")
    if img.shape[0] * img.shape[1] > MAX_PIXELS:   # pixels, whatever the channels
        raise ImageError(f"{p}: image too large ({img.shape[1]}x{img.shape[0]})")
    if img.ndim == 3 and img.shape[2] == 3 or img.ndim == 2:
        # ANYCOLOR drops alpha; re-decode only when the file may carry it (PNG/TIFF/WebP)
        if p.suffix.lower() in {".png", ".tif", ".tiff", ".webp"}:
            full = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
            if full is not None and full.ndim == 3 and full.shape[2] == 4:
                img = full
    try:
        return to_bgr8(img)
    except ImageError as e:
        raise ImageError(f"{p}: {e}") from None
