"""Write a trained checkpoint into resources/models as a bundled model, with its provenance.

    python tools/bundle_model.py runs/demo/weights/best.pt demo --data demo:200 \
        --command "python main.py train --data demo:400 --epochs 30 --imgsz 320 --out runs/demo"

A portable point (``benchmarks/long_runs/STAGE.pt``) is bundled as its EMA weights in fp32, without
its schedule state. Keeps the weights and metadata (class names, image size, preprocessing, model configuration,
training settings), scores the file on ``--data`` with ``val``'s defaults and stores those metrics,
the data and the command beside them; the content hash covers the weights. Prints the metrics.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.detector import BUNDLED, MODELS_DIR, Detector  # noqa: E402
from core.model.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from core.train.portable import inference_weights, is_portable  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("weights")
    ap.add_argument("name", choices=sorted(BUNDLED))
    ap.add_argument("--data", required=True, help="what the bundled model is scored on (its val split)")
    ap.add_argument("--command", required=True, help="the command(s) that trained it")
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    ck = load_checkpoint(a.weights)
    state, ck = inference_weights(ck) if is_portable(ck) else (ck["model"], ck)
    metrics = Detector(a.weights, a.device).val(a.data)
    meta = {k: v for k, v in ck.items() if k not in ("format", "version", "model", "hash")}
    meta["bundle"] = {"name": a.name, "data": a.data, "command": a.command, "from": str(Path(a.weights)),
                      "bundled": dt.date.today().isoformat(),
                      "val": {k: metrics[k] for k in ("map50", "map50_95", "precision", "recall", "per_class")}}
    out = MODELS_DIR / BUNDLED[a.name]
    digest = save_checkpoint(out, state, meta)
    size = out.stat().st_size / 2**20
    print(f"{out}: {size:.1f} MiB, sha256 of weights {digest[:16]}…; on {a.data}: "
          f"mAP50 {metrics['map50']:.4f} mAP50-95 {metrics['map50_95']:.4f}")
    for n, c in metrics["per_class"].items():
        print(f"  {n:<16} AP50 {c['ap50']}  AP50-95 {c['ap50_95']}  ({c['n_gt']} boxes)")


if __name__ == "__main__":
    main()
