"""Box operations and non-maximum suppression in plain torch (no torchvision)."""
from __future__ import annotations

import numpy as np
import torch

from core.config import MAX_DET, NMS_IOU, PREDICT_CONF


def box_area(b: torch.Tensor) -> torch.Tensor:
    return (b[..., 2] - b[..., 0]).clamp(min=0) * (b[..., 3] - b[..., 1]).clamp(min=0)


def box_iou(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-9) -> torch.Tensor:
    """Pairwise IoU of (N, 4) and (M, 4) xyxy boxes -> (N, M)."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    return inter / (box_area(a)[:, None] + box_area(b)[None, :] - inter + eps)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_thres: float, max_keep: int = 0,
        over_smaller: bool = False) -> torch.Tensor:
    """Greedy NMS; returns kept indices sorted by descending score. ``over_smaller``: overlap is
    intersection over the smaller box (merging tiles, where a defect cut by a tile edge leaves a
    part-box inside the whole one) instead of IoU.

    Each kept box suppresses the later ones it overlaps, computed row by row in numpy, and the
    pass stops once ``max_keep`` boxes are kept: O(kept x candidates), a few milliseconds for
    thousands of low-confidence candidates (an N x N IoU matrix took ~0.5 s per image).
    """
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = scores.argsort(descending=True, stable=True)
    b = boxes[order].detach().float().cpu().numpy()
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    areas = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    n = len(b)
    limit = max_keep if max_keep > 0 else n
    suppressed = np.zeros(n, dtype=bool)
    keep = []
    for i in range(n):
        if suppressed[i]:
            continue
        keep.append(i)
        if len(keep) >= limit or i == n - 1:
            break
        w = np.clip(np.minimum(x2[i], x2[i + 1:]) - np.maximum(x1[i], x1[i + 1:]), 0, None)
        h = np.clip(np.minimum(y2[i], y2[i + 1:]) - np.maximum(y1[i], y1[i + 1:]), 0, None)
        inter = w * h
        union = np.minimum(areas[i], areas[i + 1:]) if over_smaller else areas[i] + areas[i + 1:] - inter
        iou = inter / np.maximum(union, 1e-9)
        suppressed[i + 1:] |= iou > iou_thres
    return order[torch.as_tensor(keep, dtype=torch.long, device=boxes.device)]


def batched_nms(boxes, scores, classes, iou_thres: float, max_keep: int = 0, over_smaller: bool = False) -> torch.Tensor:
    """Class-aware NMS: boxes of different classes never suppress each other."""
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    offset = classes.to(boxes.dtype)[:, None] * (boxes.max() - boxes.min() + 1)
    return nms(boxes + offset, scores, iou_thres, max_keep, over_smaller)


def postprocess(pred: torch.Tensor, conf_thres: float = PREDICT_CONF, iou_thres: float = NMS_IOU, max_det: int = MAX_DET,
                multi_label: bool = False, agnostic: bool = False, max_nms: int = 3000) -> list[torch.Tensor]:
    """Eval-model output (B, A, 4 + nc) -> per image (n, 6): x1 y1 x2 y2 score class."""
    out = []
    for p in pred:
        boxes, scores = p[:, :4], p[:, 4:]
        if multi_label:
            i, j = (scores > conf_thres).nonzero(as_tuple=True)
            det_boxes, det_scores, det_cls = boxes[i], scores[i, j], j
        else:
            det_scores, det_cls = scores.max(1)
            m = det_scores > conf_thres
            det_boxes, det_scores, det_cls = boxes[m], det_scores[m], det_cls[m]
        ok = (det_boxes[:, 2] > det_boxes[:, 0]) & (det_boxes[:, 3] > det_boxes[:, 1])  # inverted boxes are noise
        if not ok.all():
            det_boxes, det_scores, det_cls = det_boxes[ok], det_scores[ok], det_cls[ok]
        if det_scores.numel() > max_nms:
            top = det_scores.topk(max_nms).indices
            det_boxes, det_scores, det_cls = det_boxes[top], det_scores[top], det_cls[top]
        keep = (nms(det_boxes, det_scores, iou_thres, max_det) if agnostic
                else batched_nms(det_boxes, det_scores, det_cls, iou_thres, max_det))
        out.append(torch.cat([det_boxes[keep], det_scores[keep, None], det_cls[keep, None].to(p.dtype)], 1))
    return out
