"""Box operations and non-maximum suppression in plain torch (no torchvision)."""
from __future__ import annotations

import torch


def box_area(b: torch.Tensor) -> torch.Tensor:
    return (b[..., 2] - b[..., 0]).clamp(min=0) * (b[..., 3] - b[..., 1]).clamp(min=0)


def box_iou(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-9) -> torch.Tensor:
    """Pairwise IoU of (N, 4) and (M, 4) xyxy boxes -> (N, M)."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    return inter / (box_area(a)[:, None] + box_area(b)[None, :] - inter + eps)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou_thres: float) -> torch.Tensor:
    """Greedy NMS; returns kept indices sorted by descending score.

    Vectorised as a fixed point: box j is kept iff no kept box before it (by score) overlaps it
    more than ``iou_thres``. Iterating from "all kept" settles the first t boxes after t rounds,
    and in practice converges in a few rounds.
    """
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    order = scores.argsort(descending=True, stable=True)
    b = boxes[order]
    over = torch.triu(box_iou(b, b) > iou_thres, diagonal=1)  # over[i, j]: i (earlier) suppresses j
    keep = torch.ones(len(b), dtype=torch.bool, device=b.device)
    for _ in range(len(b)):
        new = ~(over & keep[:, None]).any(0)
        if torch.equal(new, keep):
            break
        keep = new
    return order[keep]


def batched_nms(boxes, scores, classes, iou_thres: float) -> torch.Tensor:
    """Class-aware NMS: boxes of different classes never suppress each other."""
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    offset = classes.to(boxes.dtype)[:, None] * (boxes.max() + 1)
    return nms(boxes + offset, scores, iou_thres)


def postprocess(pred: torch.Tensor, conf_thres: float = 0.25, iou_thres: float = 0.65, max_det: int = 300,
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
        keep = nms(det_boxes, det_scores, iou_thres) if agnostic else batched_nms(det_boxes, det_scores, det_cls, iou_thres)
        keep = keep[:max_det]
        out.append(torch.cat([det_boxes[keep], det_scores[keep, None], det_cls[keep, None].to(p.dtype)], 1))
    return out
