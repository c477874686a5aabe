"""Where a detector's AP goes: per-class AP at several NMS IoUs, and per class whether the
highest-scoring box on each ground-truth box is also its best box (score/IoU alignment).

    python tools/box_diagnostics.py WEIGHTS [WEIGHTS ...] --data ../shared/data/neu-det

First, the positives the task-aligned assigner gives each level (P3/P4/P5) on 96 un-augmented
training images, for fresh models with YOLOv6's uniform DFL init and with the default prior
(``dfl_init_dist``), then for each weights file (per class too, with the assigner's ``tal_reach``
off and on): a level that gets none is never trained.

For every val ground-truth box of a class, among the anchors whose predicted box overlaps it
(IoU > 0.3): the stride, class score, IoU and length (long side, as a fraction of the ground
truth's) of the top-scoring one, and the IoU of the best one, for both box branches (lrtb, the
one inference reads, and the DFL expectation). A top-scoring IoU well below the best IoU means
the class score does not rank the boxes by quality: NMS then keeps a poor box, and its better
neighbours, overlapping it by less than the NMS IoU, survive as false positives.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.data.dataset import DetectionDataset, collate  # noqa: E402
from core.data.formats import load_dataset  # noqa: E402
from core.data.validate import validate  # noqa: E402
from core.eval.validator import run_validation  # noqa: E402
from core.infer.postprocess import box_iou  # noqa: E402
from core.model import build_model  # noqa: E402
from core.model.head import dfl_expectation, dist2bbox, make_anchors  # noqa: E402
from core.model.checkpoint import load_model  # noqa: E402
from core.config import LossConfig
from core.train.losses import DetectionLoss  # noqa: E402


@torch.no_grad()
def positives_per_level(model, imgs, targets, nc: int, reach: bool = False):
    """Assigner positives per head level for one batch, the model in training mode (``reach``: the
    assigner's ``tal_reach`` option) -> (counts, {class: counts})."""
    model.train()
    out = model(imgs.float() / 255, raw=True)
    crit = DetectionLoss(nc, model.head.reg_max, model.head.strides, LossConfig(tal_reach=reach))
    crit(out, targets)
    sizes = [f.shape[-2] * f.shape[-1] for f in out["feats"]]
    fg, labels = crit.last_fg, crit.last_labels
    counts, per_class, start = [], {c: [] for c in range(nc)}, 0
    for n in sizes:
        counts.append(int(fg[:, start:start + n].sum()))
        for c in range(nc):
            per_class[c].append(int((fg & (labels == c))[:, start:start + n].sum()))
        start += n
    model.eval()
    return counts, per_class


@torch.no_grad()
def alignment(model, samples, imgsz: int, nc: int, batch: int = 16):
    """-> {branch: {class: list of (stride, score, iou, length ratio, best iou)}}."""
    ds = DetectionDataset(samples, imgsz)
    rows = {"lrtb": {c: [] for c in range(nc)}, "dfl": {c: [] for c in range(nc)}}
    strides = tuple(model.head.strides)
    for k in range(0, len(samples), batch):
        imgs, t, _ = collate([ds[i] for i in range(k, min(k + batch, len(samples)))])
        out = model(imgs.float() / 255, raw=True)
        pts, st = make_anchors([f.shape[-2:] for f in out["feats"]], strides, "cpu")
        boxes = {"lrtb": dist2bbox(out["box"].float(), pts) * st,
                 "dfl": dist2bbox(dfl_expectation(out["dfl"].float(), model.head.reg_max), pts) * st}
        scores = out["cls"].float().sigmoid()
        for b in range(imgs.shape[0]):
            for row in t[t[:, 0] == b]:
                c, g = int(row[1]), row[2:][None]
                length = float((g[0, 2:] - g[0, :2]).max())
                for name, bx in boxes.items():
                    iou = box_iou(g, bx[b])[0]
                    near = iou > 0.3
                    if not near.any():
                        rows[name][c].append((0, 0.0, 0.0, 0.0, 0.0))
                        continue
                    j = torch.where(near, scores[b, :, c], torch.full_like(iou, -1)).argmax()
                    lp = float((bx[b, j, 2:] - bx[b, j, :2]).max())
                    rows[name][c].append((int(st[j]), float(scores[b, j, c]), float(iou[j]), lp / length,
                                          float(iou.max())))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("weights", nargs="+")
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/neu-det"))
    ap.add_argument("--split", default="val")
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--nms", type=float, nargs="+", default=[0.5, 0.65, 0.7])
    ap.add_argument("--positives-only", action="store_true", help="stop after the assigner's positives")
    a = ap.parse_args(argv)
    torch.set_num_threads(2)
    spec = load_dataset(a.data)
    samples, _ = validate(spec, a.split)
    names = list(spec.names)
    w = max(len(n) for n in names)
    train_samples, _ = validate(spec, "train")
    ds = DetectionDataset(train_samples[::max(1, len(train_samples) // 96)][:96], a.imgsz)
    imgs, targets, _ = collate([ds[i] for i in range(len(ds))])
    print(f"assigner positives per level P3/P4/P5 on {len(ds)} training images (evenly spaced) at {a.imgsz}:")
    for d in (0.0, 2.5):
        torch.manual_seed(0)
        fresh = build_model("sdgasnet-n", num_classes=len(names), dfl_init_dist=d)
        print(f"  fresh model, dfl_init_dist {d} ({'YOLOv6 uniform' if d == 0 else 'default'}): "
              f"{positives_per_level(fresh, imgs, targets, len(names))[0]}")
    for path in a.weights:
        model, _ = load_model(path)
        for reach in (False, True):
            counts, per_class = positives_per_level(model, imgs, targets, len(names), reach)
            print(f"  {path}, tal_reach {'on' if reach else 'off'}: {counts}; "
                  + ", ".join(f"{n} {per_class[c]}" for c, n in enumerate(names)))
    if a.positives_only:
        return 0
    for path in a.weights:
        model, _ = load_model(path)
        print(f"\n## {path}\nAP50 / AP50-95 per class at each NMS IoU (coco-101)")
        print(f"{'class':<{w}} " + " ".join(f"{'NMS ' + str(i):>15}" for i in a.nms))
        res = [run_validation(model, samples, names, a.imgsz, batch=32, iou=i)[0] for i in a.nms]
        for c, n in enumerate(names):
            print(f"{n:<{w}} " + " ".join(f"{r.ap50[c]:>7.3f}/{r.ap50_95[c]:.3f}" for r in res))
        print(f"{'all':<{w}} " + " ".join(f"{r.map50:>7.3f}/{r.map50_95:.3f}" for r in res))
        rows = alignment(model, samples, a.imgsz, len(names))
        print("\ntop-scoring overlapping box per ground truth (medians): stride counts 8/16/32, score, IoU, "
              "length ratio | best IoU available; none = no box with IoU > 0.3")
        for branch in ("lrtb", "dfl"):
            for c, n in enumerate(names):
                r = np.array(rows[branch][c])
                hit = r[r[:, 0] > 0]
                counts = "/".join(str(int((hit[:, 0] == s).sum())) for s in model.head.strides)
                med = np.median(hit[:, 1:], 0)
                print(f"{branch:<4} {n:<{w}} n {len(r):>3} none {len(r) - len(hit):>2}  strides {counts:<10} "
                      f"score {med[0]:.2f}  IoU {med[1]:.2f}  length {med[2]:.2f} | best IoU {med[3]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
