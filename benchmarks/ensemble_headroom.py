"""How much do two same-architecture models gain together? NEU-DET val mAP of each and of their ensemble.

A diagnostic for issue 21: if the long teacher and its student, which make different mistakes at
the same level, score well above either one together, distilling from both is a lever worth
building; if not, the 256 px model family is at its ceiling on this data. Two ensembles, both over
the raw per-anchor outputs (same architecture and input size, so the anchors line up):
``mean`` averages boxes and scores anchor by anchor; ``concat`` pools both models' candidates
before one NMS (YOLOv5's ``Ensemble``).

    git show dff34ca:resources/models/default.pt > ../bench_runs/long-student.pt   # the long student
    python benchmarks/ensemble_headroom.py --weights ../bench_runs/long-student.pt benchmarks/long_runs/teacher.pt
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.config import NMS_IOU  # noqa: E402
from core.data.catalog import open_dataset  # noqa: E402
from core.data.preprocess import Preprocess  # noqa: E402
from core.data.validate import validate  # noqa: E402
from core.detector import resolve_weights  # noqa: E402
from core.eval.validator import run_validation  # noqa: E402
from core.infer.backends import open_backend  # noqa: E402


class Ensemble(torch.nn.Module):
    """The models' eval outputs (B, A, 4 + nc), averaged anchor-wise or pooled along the anchors."""

    def __init__(self, models: list[torch.nn.Module], mode: str):
        super().__init__()
        self.models, self.mode = torch.nn.ModuleList(models), mode

    def forward(self, x):
        outs = [m(x) for m in self.models]
        return torch.stack(outs).mean(0) if self.mode == "mean" else torch.cat(outs, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", nargs="+", required=True, help="two or more checkpoints or bundled names")
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "neu-det"))
    ap.add_argument("--iou", type=float, default=NMS_IOU)
    a = ap.parse_args()
    torch.set_num_threads(2)
    spec = open_dataset(a.data)
    samples, _ = validate(spec, "val")
    backends = [open_backend(resolve_weights(w), "cpu") for w in a.weights]
    pre = Preprocess.from_checkpoint(backends[0].meta)
    models = [b.model for b in backends]
    rows = [(w, m) for w, m in zip(a.weights, models)] + [(f"ensemble ({mode})", Ensemble(models, mode))
                                                          for mode in ("mean", "concat")]
    print(f"{len(samples)} val images of {a.data}, NMS IoU {a.iou}, COCO-101 (Ultralytics' convention)")
    for name, model in rows:
        res, _ = run_validation(model, samples, spec.names, pre.imgsz, iou=a.iou, preprocess=pre)
        j = res.to_json()
        u = j["ultralytics"]
        per = " ".join(f"{c['ap50']:.3f}" for c in j["per_class"].values())
        print(f"{name:<34} {j['map50']:.4f} / {j['map50_95']:.4f}  ({u['map50']:.4f} / {u['map50_95']:.4f})"
              f"  AP50 per class: {per}", flush=True)


if __name__ == "__main__":
    main()
