"""What a pretrained model finds of a set's defects before any fine-tuning (issue 51).

    python benchmarks/zero_shot.py --weights benchmarks/long_runs/base-no-magtile.pt --data ../datasets/magtile/data-200.yaml
    python benchmarks/zero_shot.py --weights resources/models/base.pt --data ../shared/data/neu-det --imgsz 320

Scores the model's own detections on the set's val split, with no training: ``any class`` takes every
detection as a defect (class-agnostic AP: does anything the model learnt mark these defects? A box given several classes
counts once for each, so this can score below the best single class); each
row after it takes only one of the model's classes as the defect. Where the model has classes of the
set's own names (``neu:crazing`` for NEU-DET's ``crazing``), ``mapped`` scores them as those classes:
the start's figure on a set it was pretrained on. If any row scored well, the new class layers could
start from that class's rather than afresh; on the leave-one-out sets none does
(docs/experiments/2026-12-07-where-a-start-shows.md).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from core.data.catalog import open_dataset  # noqa: E402
from core.data.validate import validate  # noqa: E402
from core.eval.matching import ImageResult  # noqa: E402
from core.eval.metrics import evaluate  # noqa: E402
from core.eval.validator import run_validation  # noqa: E402
from core.model.checkpoint import load_checkpoint  # noqa: E402
from core.model.network import build_from_config  # noqa: E402


def rescored(results: list[ImageResult], keep, as_class, names: list[str], agnostic: bool):
    """``results`` with only the detections ``keep`` passes, their classes ``as_class`` gives; every ground
    truth box is one class when ``agnostic``."""
    out = []
    for r in results:
        d = r.dets[keep(r.dets[:, 5].astype(int))].copy()
        d[:, 5] = as_class(d[:, 5].astype(int))
        g = r.gts.copy()
        if agnostic:
            g[:, 0] = 0
        out.append(ImageResult(d, g))
    return evaluate(out, names)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--weights", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--imgsz", type=int, default=320)
    a = ap.parse_args()
    ck = load_checkpoint(a.weights)
    model = build_from_config(ck["model_config"])
    model.load_state_dict(ck["model"])
    spec = open_dataset(a.data)
    samples, _ = validate(spec, "val")
    own = list(ck["names"])
    _, results = run_validation(model, samples, own, a.imgsz)
    print(f"{a.weights} on {a.data} (val, {len(samples)} images, {a.imgsz} px), mAP50 / mAP50-95:")
    e = rescored(results, lambda c: np.ones(len(c), bool), lambda c: 0 * c, ["defect"], True)
    print(f"  {'any class':30s} {e.map50:.3f} / {e.map50_95:.3f}")
    for k, n in enumerate(own):
        e = rescored(results, lambda c, k=k: c == k, lambda c: 0 * c, ["defect"], True)
        print(f"  {n:30s} {e.map50:.3f} / {e.map50_95:.3f}")
    target = {i: spec.names.index(n.split(":")[-1]) for i, n in enumerate(own) if n.split(":")[-1] in spec.names}
    if target:
        e = rescored(results, lambda c: np.isin(c, list(target)), lambda c: np.array([target[int(x)] for x in c]),
                     spec.names, False)
        per = ", ".join(f"{n} {ap50:.3f}" for n, ap50 in zip(spec.names, e.ap50))
        print(f"  {'mapped to the set classes':30s} {e.map50:.3f} / {e.map50_95:.3f} ({per})")


if __name__ == "__main__":
    main()
