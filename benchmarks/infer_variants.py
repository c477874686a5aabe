"""Does the box branch inference reads, or averaging two checkpoints' weights, change the mAP?

    python benchmarks/infer_variants.py WEIGHTS [--average OTHER] --data ../shared/data/neu-det

Scores WEIGHTS on the val split with the boxes of the direct (lrtb) branch, which inference
reads, of the DFL expectation, and of their mean. With ``--average OTHER`` (e.g. best.pt and
last.pt of one run) it also scores the mean of the two weight sets (BatchNorm statistics averaged
too), a cheap hint of what a longer weight average (a slower EMA) would give.
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
from core.train.checkpoint import load_checkpoint, model_from_checkpoint  # noqa: E402


class MeanBranchDecode:
    """Replaces DetectHead.decode: boxes from the mean of the lrtb and DFL distances."""

    def __init__(self, head):
        self.head = head

    def __call__(self, feats):
        h = self.head
        cls, dfl, box = h.forward_raw(feats, with_dfl=True)
        points, strides = h.anchors([f.shape[-2:] for f in feats], cls.device, cls.dtype)
        dist = 0.5 * (dfl_expectation(dfl, h.reg_max) + box)
        return torch.cat([dist2bbox(dist, points) * strides, cls.sigmoid()], -1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights")
    ap.add_argument("--average", help="a second checkpoint of the same model to average with")
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/neu-det"))
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--nms", type=float, nargs="+", default=[0.65, 0.7])
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
    model.head.decode = MeanBranchDecode(model.head)
    score(model, "boxes: mean of lrtb and DFL")
    if a.average:
        other = load_checkpoint(a.average)
        avg = {k: (v.float() + other["model"][k].float()) / 2 if v.is_floating_point() else v
               for k, v in ck["model"].items()}
        score(model_from_checkpoint({**ck, "model": avg}, a.weights),
              f"weights: mean of epochs {ck.get('epoch')} and {other.get('epoch')}")


if __name__ == "__main__":
    main()
