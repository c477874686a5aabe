"""Detection metrics with the pycocotools convention, plus inspection (OK/NG) figures.

- mAP@0.5:0.95 and mAP@0.5: 10 IoU thresholds, 101 recall points, at most 100 detections per
  image and class, greedy matching by score to the best unmatched ground truth (``coco-101``).
- precision and recall at the confidence that maximises the mean F1 over classes (IoU 0.5).
- confusion matrix (rows: true class, then background; columns: predicted class, then missed).
- the same mAPs in Ultralytics' convention, for comparisons with YOLO figures
  (``core.eval.ultralytics_metrics``).
- image-level verdicts: escape rate (defective images judged OK) and overkill rate (defect-free
  images judged NG) at a confidence threshold.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.config import PREDICT_CONF

from .matching import IOU_THRESHOLDS, RECALL_POINTS, ImageResult, iou_matrix
from .ultralytics_metrics import ultralytics_map

@dataclass
class EvalResult:
    names: list[str]
    map50: float = 0.0
    map50_95: float = 0.0
    precision: float = 0.0
    recall: float = 0.0
    f1: float = 0.0
    best_conf: float = 0.0
    ap50: np.ndarray = field(default_factory=lambda: np.zeros(0))      # per class, nan if no GT
    ap50_95: np.ndarray = field(default_factory=lambda: np.zeros(0))
    n_gt: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    n_images: int = 0
    confusion: np.ndarray | None = None
    pr_curves: dict = field(default_factory=dict)   # class -> (recall_points, precision at IoU .5)
    verdict: dict = field(default_factory=dict)
    ultralytics: dict = field(default_factory=dict)  # the same detections scored as Ultralytics does

    def to_json(self) -> dict:
        per = {}
        for i, n in enumerate(self.names):
            per[n] = {"ap50": _nan_none(self.ap50[i]), "ap50_95": _nan_none(self.ap50_95[i]), "n_gt": int(self.n_gt[i])}
        return {"map50": round(self.map50, 6), "map50_95": round(self.map50_95, 6),
                "precision": round(self.precision, 6), "recall": round(self.recall, 6),
                "n_images": self.n_images, "per_class": per, "convention": "coco-101",
                "best_f1_conf": round(self.best_conf, 4), "inspection": self.verdict,
                "ultralytics": {k: round(self.ultralytics[k], 6) for k in ("map50", "map50_95")
                                if k in self.ultralytics}}


def _nan_none(v):
    return None if np.isnan(v) else round(float(v), 6)


def _match_image(dets: np.ndarray, gts: np.ndarray, max_det: int):
    """Per class in one image: for each kept detection, matched flags at each IoU threshold.

    Returns {cls: (scores (k,), matched (T, k) bool)} and per-class GT counts.
    """
    out = {}
    classes = set(np.unique(dets[:, 5]).astype(int)) if len(dets) else set()
    for c in classes:
        d = dets[dets[:, 5] == c]
        d = d[np.argsort(-d[:, 4], kind="mergesort")][:max_det]
        g = gts[gts[:, 0] == c][:, 1:5] if len(gts) else np.zeros((0, 4))
        ious = iou_matrix(d[:, :4], g)
        matched = np.zeros((len(IOU_THRESHOLDS), len(d)), bool)
        best_any = ious.max(1) if len(g) else np.zeros(len(d))
        for ti, t in enumerate(IOU_THRESHOLDS):
            taken = np.zeros(len(g), bool)
            thr = min(t, 1 - 1e-10)
            for di in np.nonzero(best_any >= thr)[0]:  # others cannot match at this threshold
                best, best_iou = -1, thr
                for gi in range(len(g)):
                    if taken[gi] or ious[di, gi] < best_iou:
                        continue
                    best, best_iou = gi, ious[di, gi]
                if best >= 0:
                    taken[best] = True
                    matched[ti, di] = True
        out[c] = (d[:, 4], matched)
    return out


def coco_ap(scores: np.ndarray, matched: np.ndarray, n_gt: int):
    """AP per IoU threshold (T,) by the 101-point rule, and the IoU-0.5 precision envelope."""
    order = np.argsort(-scores, kind="mergesort")
    m = matched[:, order]
    tps = np.cumsum(m, 1).astype(float)
    fps = np.cumsum(~m, 1).astype(float)
    aps = np.zeros(m.shape[0])
    curve = np.zeros(len(RECALL_POINTS))
    for t in range(m.shape[0]):
        tp, fp = tps[t], fps[t]
        rc = tp / n_gt
        pr = tp / np.maximum(tp + fp, np.spacing(1))
        pr = np.maximum.accumulate(pr[::-1])[::-1] if len(pr) else pr
        q = np.zeros(len(RECALL_POINTS))
        idx = np.searchsorted(rc, RECALL_POINTS, side="left")
        valid = idx < len(pr)
        q[valid] = pr[idx[valid]]
        aps[t] = q.mean()
        if t == 0:
            curve = q
    return aps, curve


def evaluate(results: list[ImageResult], names: list[str], max_det: int = 100, conf: float = PREDICT_CONF) -> EvalResult:
    """COCO-style mAP, best-F1 P/R, confusion matrix and OK/NG figures over ``results``."""
    nc = len(names)
    per_cls_scores = [[] for _ in range(nc)]
    per_cls_matched = [[] for _ in range(nc)]
    n_gt = np.zeros(nc, int)
    for r in results:
        if len(r.gts):
            n_gt += np.bincount(r.gts[:, 0].astype(int), minlength=nc)[:nc]
        for c, (s, m) in _match_image(r.dets, r.gts, max_det).items():
            if 0 <= c < nc:
                per_cls_scores[c].append(s)
                per_cls_matched[c].append(m)
    res = EvalResult(names, n_images=len(results), n_gt=n_gt)
    res.ap50 = np.full(nc, np.nan)
    res.ap50_95 = np.full(nc, np.nan)
    conf_grid = np.linspace(0, 1, 1001)
    p_curves, r_curves = [], []
    for c in range(nc):
        if n_gt[c] == 0:
            continue
        if per_cls_scores[c]:
            scores = np.concatenate(per_cls_scores[c])
            matched = np.concatenate(per_cls_matched[c], 1)
        else:
            scores, matched = np.zeros(0), np.zeros((len(IOU_THRESHOLDS), 0), bool)
        aps, curve = coco_ap(scores, matched, n_gt[c])
        res.ap50[c], res.ap50_95[c] = aps[0], aps.mean()
        res.pr_curves[c] = (RECALL_POINTS, curve)
        # precision / recall at IoU 0.5 as functions of the confidence threshold
        order = np.argsort(-scores, kind="mergesort")
        s_sorted, m0 = scores[order], matched[0, order]
        tp, fp = np.cumsum(m0), np.cumsum(~m0)
        k = np.searchsorted(-s_sorted, -conf_grid, side="right")  # detections with score >= conf
        tpk = np.where(k > 0, tp[np.maximum(k - 1, 0)] if len(tp) else 0, 0)
        fpk = np.where(k > 0, fp[np.maximum(k - 1, 0)] if len(fp) else 0, 0)
        p_curves.append(np.where(tpk + fpk > 0, tpk / np.maximum(tpk + fpk, 1), 1.0))
        r_curves.append(tpk / n_gt[c])
    valid = n_gt > 0
    if valid.any():
        res.map50 = float(np.nanmean(res.ap50[valid]))
        res.map50_95 = float(np.nanmean(res.ap50_95[valid]))
    if p_curves:
        P, R = np.mean(p_curves, 0), np.mean(r_curves, 0)
        F1 = 2 * P * R / np.maximum(P + R, 1e-16)
        i = int(np.argmax(F1))
        res.precision, res.recall, res.f1, res.best_conf = float(P[i]), float(R[i]), float(F1[i]), float(conf_grid[i])
    res.confusion = confusion_matrix(results, nc, conf)
    res.ultralytics = ultralytics_map(results, nc)
    res.verdict = image_verdicts(results, conf)
    return res


def confusion_matrix(results: list[ImageResult], nc: int, conf: float = PREDICT_CONF, iou_thr: float = 0.5) -> np.ndarray:
    """(nc+1, nc+1): rows true class (last: background), columns predicted (last: missed)."""
    mat = np.zeros((nc + 1, nc + 1), int)
    for r in results:
        d = r.dets[r.dets[:, 4] >= conf] if len(r.dets) else np.zeros((0, 6))
        g = r.gts
        if len(g) == 0:
            for c in d[:, 5].astype(int):
                mat[nc, c] += 1
            continue
        ious = iou_matrix(g[:, 1:5], d[:, :4])
        pairs = np.argwhere(ious > iou_thr)
        used_g, used_d = set(), set()
        if len(pairs):
            order = np.argsort(-ious[pairs[:, 0], pairs[:, 1]], kind="mergesort")
            for gi, di in pairs[order]:
                if gi in used_g or di in used_d:
                    continue
                used_g.add(gi)
                used_d.add(di)
                mat[int(g[gi, 0]), int(d[di, 5])] += 1
        for gi in range(len(g)):
            if gi not in used_g:
                mat[int(g[gi, 0]), nc] += 1
        for di in range(len(d)):
            if di not in used_d:
                mat[nc, int(d[di, 5])] += 1
    return mat


def image_verdicts(results: list[ImageResult], conf: float = PREDICT_CONF) -> dict:
    """Image-level OK/NG: escape = defective judged OK; overkill = defect-free judged NG."""
    defective = judged_ng_def = clean = judged_ng_clean = 0
    for r in results:
        ng = bool(len(r.dets) and (r.dets[:, 4] >= conf).any())
        if len(r.gts):
            defective += 1
            judged_ng_def += ng
        else:
            clean += 1
            judged_ng_clean += ng
    return {"conf": conf, "defective_images": defective, "defect_free_images": clean,
            "escapes": defective - judged_ng_def, "overkills": judged_ng_clean,
            "escape_rate": round((defective - judged_ng_def) / defective, 6) if defective else None,
            "overkill_rate": round(judged_ng_clean / clean, 6) if clean else None}
