"""mAP as Ultralytics computes it, to compare our models with figures from Ultralytics runs.

Our headline mAP follows pycocotools (``core.eval.metrics``). Ultralytics' ``val`` differs
(``ultralytics/utils/metrics.py``, ecosystem.md): it keeps all (up to 300) detections per image; each
detection claims its highest-IoU ground truth and each ground truth goes to the highest-scoring
detection that claimed it, so a detection that loses its first choice is not offered its second
(COCO offers it); and it integrates the precision envelope, padded with precision 1 at recall 0 and
0 at recall 1, by the trapezoid rule on 101 interpolated points (a perfect model scores 0.995).
On the same detections the two conventions give different numbers, so a comparison with a YOLO
figure is only fair in that figure's convention (docs/experiments/2026-11-27-yolov8n-like-with-like.md).
"""
from __future__ import annotations

import numpy as np

from .matching import IOU_THRESHOLDS, ImageResult, iou_matrix

_X = np.linspace(0.0, 1.0, 101)


def _match_by_iou(dets: np.ndarray, gts: np.ndarray) -> np.ndarray:
    """(n_det, T) true-positive flags for detections sorted by score (Ultralytics'
    ``match_predictions``, including its order of the two de-duplications)."""
    correct = np.zeros((len(dets), len(IOU_THRESHOLDS)), bool)
    if len(dets) == 0 or len(gts) == 0:
        return correct
    iou = iou_matrix(gts[:, 1:5], dets[:, :4]) * (gts[:, 0:1] == dets[None, :, 5])
    for t, thr in enumerate(IOU_THRESHOLDS):
        m = np.argwhere(iou >= thr)                         # (gt, det)
        if len(m) > 1:
            m = m[iou[m[:, 0], m[:, 1]].argsort(kind="stable")[::-1]]
            m = m[np.unique(m[:, 1], return_index=True)[1]]
            m = m[np.unique(m[:, 0], return_index=True)[1]]
        correct[m[:, 1], t] = True
    return correct


def _trapezoid_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([1.0], precision, [0.0]))
    mpre = np.flip(np.maximum.accumulate(np.flip(mpre)))
    y = np.interp(_X, mrec, mpre)
    return float(np.sum((y[1:] + y[:-1]) * np.diff(_X)) / 2)  # trapezoid rule (np.trapezoid needs numpy 2)


def ultralytics_map(results: list[ImageResult], nc: int) -> dict:
    """{"map50", "map50_95", "ap50": per class, "ap50_95": per class} in Ultralytics' convention
    (classes without ground truth are left out of the mean and get None)."""
    tps, confs, classes, target = [], [], [], []
    for r in results:
        d = r.dets[np.argsort(-r.dets[:, 4], kind="stable")] if len(r.dets) else np.zeros((0, 6))
        tps.append(_match_by_iou(d, r.gts))
        confs.append(d[:, 4])
        classes.append(d[:, 5].astype(int))
        target.append(r.gts[:, 0].astype(int) if len(r.gts) else np.zeros(0, int))
    tp, conf, pcls = np.concatenate(tps), np.concatenate(confs), np.concatenate(classes)
    target = np.concatenate(target)
    order = np.argsort(-conf, kind="stable")
    tp, pcls = tp[order], pcls[order]
    ap = np.full((nc, len(IOU_THRESHOLDS)), np.nan)
    for c in range(nc):
        n_l = int((target == c).sum())
        if n_l == 0:
            continue
        sel = pcls == c
        ap[c] = 0.0
        if not sel.any():
            continue
        tpc = tp[sel].cumsum(0)
        fpc = (~tp[sel]).cumsum(0)
        recall = tpc / (n_l + 1e-16)
        precision = tpc / (tpc + fpc)
        for t in range(len(IOU_THRESHOLDS)):
            ap[c, t] = _trapezoid_ap(recall[:, t], precision[:, t])
    have = ~np.isnan(ap[:, 0])
    return {"map50": float(ap[have, 0].mean()) if have.any() else 0.0,
            "map50_95": float(ap[have].mean()) if have.any() else 0.0,
            "ap50": [round(float(a[0]), 6) if h else None for h, a in zip(have, ap)],
            "ap50_95": [round(float(a.mean()), 6) if h else None for h, a in zip(have, ap)]}
