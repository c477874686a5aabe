"""Training augmentation (architecture.md §6): mosaic, random affine, HSV, flips.

Boxes travel as (n, 4) float32 x1 y1 x2 y2 pixels with their classes beside them.
"""
from __future__ import annotations

import math
import random

import cv2
import numpy as np

from .preprocess import PAD_VALUE


def augment_hsv(img: np.ndarray, hgain=0.015, sgain=0.7, vgain=0.4, rng=random) -> None:
    """Random hue/saturation/value gains, in place (BGR uint8)."""
    if not (hgain or sgain or vgain):
        return
    r = np.array([rng.uniform(-1, 1) * hgain, rng.uniform(-1, 1) * sgain, rng.uniform(-1, 1) * vgain]) + 1
    hue, sat, val = cv2.split(cv2.cvtColor(img, cv2.COLOR_BGR2HSV))
    x = np.arange(0, 256, dtype=r.dtype)
    lut_hue = ((x * r[0]) % 180).astype(np.uint8)
    lut_sat = np.clip(x * r[1], 0, 255).astype(np.uint8)
    lut_val = np.clip(x * r[2], 0, 255).astype(np.uint8)
    hsv = cv2.merge((cv2.LUT(hue, lut_hue), cv2.LUT(sat, lut_sat), cv2.LUT(val, lut_val)))
    cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR, dst=img)


def box_candidates(b1: np.ndarray, b2: np.ndarray, wh_thr=2, ar_thr=100, area_thr=0.1, eps=1e-16):
    """Keep boxes still meaningful after a transform: b1 before (n,4), b2 after (n,4)."""
    w1, h1 = b1[:, 2] - b1[:, 0], b1[:, 3] - b1[:, 1]
    w2, h2 = b2[:, 2] - b2[:, 0], b2[:, 3] - b2[:, 1]
    ar = np.maximum(w2 / (h2 + eps), h2 / (w2 + eps))
    return (w2 > wh_thr) & (h2 > wh_thr) & (w2 * h2 / (w1 * h1 + eps) > area_thr) & (ar < ar_thr)


def random_affine(img, boxes, classes, degrees=0.0, translate=0.1, scale=0.5, shear=0.0,
                  border=(0, 0), out_size=None, rng=random):
    """Random rotation/scale/shear/translation. ``border`` < 0 crops a mosaic canvas back."""
    h = img.shape[0] + border[0] * 2 if out_size is None else out_size[0]
    w = img.shape[1] + border[1] * 2 if out_size is None else out_size[1]
    C = np.eye(3)
    C[0, 2] = -img.shape[1] / 2
    C[1, 2] = -img.shape[0] / 2
    R = np.eye(3)
    a = rng.uniform(-degrees, degrees)
    s = rng.uniform(1 - scale, 1 + scale)
    R[:2] = cv2.getRotationMatrix2D(angle=a, center=(0, 0), scale=s)
    S = np.eye(3)
    S[0, 1] = math.tan(rng.uniform(-shear, shear) * math.pi / 180)
    S[1, 0] = math.tan(rng.uniform(-shear, shear) * math.pi / 180)
    T = np.eye(3)
    T[0, 2] = rng.uniform(0.5 - translate, 0.5 + translate) * w
    T[1, 2] = rng.uniform(0.5 - translate, 0.5 + translate) * h
    M = T @ S @ R @ C
    img = cv2.warpAffine(img, M[:2], dsize=(w, h), borderValue=(PAD_VALUE,) * 3)
    n = len(boxes)
    if n:
        xy = np.ones((n * 4, 3))
        xy[:, :2] = boxes[:, [0, 1, 2, 3, 0, 3, 2, 1]].reshape(n * 4, 2)
        xy = (xy @ M.T)[:, :2].reshape(n, 8)
        x, y = xy[:, [0, 2, 4, 6]], xy[:, [1, 3, 5, 7]]
        new = np.stack([x.min(1), y.min(1), x.max(1), y.max(1)], 1)
        new[:, [0, 2]] = new[:, [0, 2]].clip(0, w)
        new[:, [1, 3]] = new[:, [1, 3]].clip(0, h)
        keep = box_candidates(boxes * s, new)
        boxes, classes = new[keep].astype(np.float32), classes[keep]
    return img, boxes, classes


def flip_lr(img, boxes):
    img = np.ascontiguousarray(img[:, ::-1])
    if len(boxes):
        w = img.shape[1]
        boxes = boxes.copy()
        boxes[:, [0, 2]] = w - boxes[:, [2, 0]]
    return img, boxes


def flip_ud(img, boxes):
    img = np.ascontiguousarray(img[::-1])
    if len(boxes):
        h = img.shape[0]
        boxes = boxes.copy()
        boxes[:, [1, 3]] = h - boxes[:, [3, 1]]
    return img, boxes


def mosaic4(items, size: int, rng=random):
    """Four (img, boxes, classes) -> one 2s x 2s canvas with boxes, before the cropping affine."""
    s = size
    yc, xc = (int(rng.uniform(s // 2, 3 * s // 2)) for _ in range(2))
    canvas = np.full((2 * s, 2 * s, 3), PAD_VALUE, dtype=np.uint8)
    all_boxes, all_cls = [], []
    for i, (img, boxes, classes) in enumerate(items):
        h, w = img.shape[:2]
        if i == 0:
            x1a, y1a, x2a, y2a = max(xc - w, 0), max(yc - h, 0), xc, yc
            x1b, y1b, x2b, y2b = w - (x2a - x1a), h - (y2a - y1a), w, h
        elif i == 1:
            x1a, y1a, x2a, y2a = xc, max(yc - h, 0), min(xc + w, 2 * s), yc
            x1b, y1b, x2b, y2b = 0, h - (y2a - y1a), min(w, x2a - x1a), h
        elif i == 2:
            x1a, y1a, x2a, y2a = max(xc - w, 0), yc, xc, min(2 * s, yc + h)
            x1b, y1b, x2b, y2b = w - (x2a - x1a), 0, w, min(y2a - y1a, h)
        else:
            x1a, y1a, x2a, y2a = xc, yc, min(xc + w, 2 * s), min(2 * s, yc + h)
            x1b, y1b, x2b, y2b = 0, 0, min(w, x2a - x1a), min(y2a - y1a, h)
        canvas[y1a:y2a, x1a:x2a] = img[y1b:y2b, x1b:x2b]
        if len(boxes):
            b = boxes.copy()
            b[:, [0, 2]] += x1a - x1b
            b[:, [1, 3]] += y1a - y1b
            all_boxes.append(b)
            all_cls.append(classes)
    boxes = np.concatenate(all_boxes) if all_boxes else np.zeros((0, 4), np.float32)
    classes = np.concatenate(all_cls) if all_cls else np.zeros((0,), np.int64)
    boxes = boxes.clip(0, 2 * s)
    return canvas, boxes.astype(np.float32), classes
