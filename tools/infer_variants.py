"""Does the box branch inference reads, a box-quality rescoring, bf16, or averaging two
checkpoints' weights change the mAP?

    python tools/infer_variants.py WEIGHTS [--average OTHER] [--rescore] [--bf16] --data ../shared/data/neu-det

Scores WEIGHTS on the val split with the boxes of the direct (lrtb) branch, which inference
reads, of the DFL expectation, and of their mean. With ``--average OTHER`` (e.g. best.pt and
last.pt of one run) it also scores the mean of the two weight sets (BatchNorm statistics averaged
too), a cheap hint of what a longer weight average (a slower EMA) would give. ``--rescore``
multiplies the class score by a localisation-quality estimate the network already has, to see
whether it ranks boxes better than the score alone: the IoU between the lrtb and DFL boxes (the
two branches agree where the box is easy) or the DFL distributions' sharpness (mean over the
four sides of the two largest bin probabilities, as GFLv2 reads it), each to the power k.
``--bf16`` scores the model under bf16 autocast as well (does bf16 rounding cost box precision?).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.data.formats import load_dataset  # noqa: E402
from core.data.validate import validate  # noqa: E402
from core.eval.validator import run_validation  # noqa: E402
from core.model.head import dfl_expectation, dist2bbox  # noqa: E402
from core.model.checkpoint import load_checkpoint, model_from_checkpoint  # noqa: E402


class VariantDecode:
    """Replaces DetectHead.decode: boxes from the lrtb branch or the mean of the lrtb and DFL
    distances ("mean"); class scores, optionally times a box-quality estimate to the power k."""

    def __init__(self, head, boxes: str = "lrtb", quality: str | None = None, k: float = 1.0):
        self.head, self.boxes, self.quality, self.k = head, boxes, quality, k

    def __call__(self, feats):
        h = self.head
        cls, dfl, box = h.forward_raw(feats, with_dfl=True)
        points, strides = h.anchors([f.shape[-2:] for f in feats], cls.device, cls.dtype)
        dfl_dist = dfl_expectation(dfl, h.reg_max)
        dist = 0.5 * (dfl_dist + box) if self.boxes == "mean" else box
        boxes = dist2bbox(dist, points)
        score = cls.sigmoid()
        if self.quality == "agreement":
            q = paired_iou(dist2bbox(box, points), dist2bbox(dfl_dist, points))
        elif self.quality == "sharpness":
            q = dfl.float().softmax(-1).topk(2, -1).values.sum(-1).mean(-1)
        if self.quality:
            score = score * q[..., None].clamp(min=0) ** self.k
        return torch.cat([boxes * strides, score], -1)


def paired_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of matching xyxy boxes (..., 4) -> (...)."""
    wh = (torch.minimum(a[..., 2:], b[..., 2:]) - torch.maximum(a[..., :2], b[..., :2])).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    area = lambda x: (x[..., 2] - x[..., 0]) * (x[..., 3] - x[..., 1])  # noqa: E731
    return inter / (area(a) + area(b) - inter).clamp(min=1e-9)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights")
    ap.add_argument("--average", help="a second checkpoint of the same model to average with")
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/neu-det"))
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--nms", type=float, nargs="+", default=[0.65, 0.7])
    ap.add_argument("--rescore", action="store_true", help="score x box-quality variants")
    ap.add_argument("--bf16", action="store_true", help="also score under bf16 autocast")
    a = ap.parse_args()
    spec = load_dataset(a.data)
    samples, _ = validate(spec, "val")
    names = list(spec.names)

    def score(model, label):
        for iou in a.nms:
            r = run_validation(model, samples, names, a.imgsz, batch=32, iou=iou)[0]
            print(f"{label:<28} NMS {iou}: mAP50 {r.map50:.4f}  mAP50-95 {r.map50_95:.4f}", flush=True)

    ck = load_checkpoint(a.weights)
    model = model_from_checkpoint(ck, a.weights)
    for branch in ("lrtb", "dfl"):
        model.head.infer_branch = branch
        score(model, f"boxes: {branch}")
    model.head.infer_branch = "lrtb"
    if a.bf16:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            score(model, "bf16 autocast, lrtb")
    if a.rescore:
        for quality, k in (("agreement", 1), ("agreement", 2), ("agreement", 4), ("sharpness", 1), ("sharpness", 2)):
            model.head.decode = VariantDecode(model.head, quality=quality, k=k)
            score(model, f"score x {quality}^{k}")
    model.head.decode = VariantDecode(model.head, boxes="mean")
    score(model, "boxes: mean of lrtb and DFL")
    if a.average:
        other = load_checkpoint(a.average)
        avg = {k: (v.float() + other["model"][k].float()) / 2 if v.is_floating_point() else v
               for k, v in ck["model"].items()}
        score(model_from_checkpoint({**ck, "model": avg}, a.weights),
              f"weights: mean of epochs {ck.get('epoch')} and {other.get('epoch')}")


if __name__ == "__main__":
    main()
