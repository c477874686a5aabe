"""NEU-DET val accuracy of the trained peers' fastest path (OpenVINO INT8), as a user gets it.

    benchmarks/peers/.venv/bin/python benchmarks/peers/int8_accuracy.py --root ../bench_runs/peers

For each model that ``train_peers.py`` finished under ROOT: ``model.export(format="openvino",
int8=True)`` of its best.pt at the trained image size, calibrated by Ultralytics' own NNCF path on
~300 training images (``split="train"``, as our ``export --int8`` calibrates on 300 training
images), then ``model.val`` of the exported folder on the val split. Adds ``int8`` (mAP50,
mAP50-95, per class, export seconds) to each model's entry in ROOT/peers.json; the fp32 figures
already there come from the same ``val`` call on best.pt.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True, help="train_peers.py's ROOT (its peers.json and run folders)")
    ap.add_argument("--models", nargs="+", default=["yolo26n", "yolo11n"])
    ap.add_argument("--calib", type=int, default=300, help="calibration images drawn from the training split")
    a = ap.parse_args()
    from ultralytics import YOLO

    root = Path(a.root)
    rec_path = root / "peers.json"
    rec = json.loads(rec_path.read_text())
    data = root / "data" / "data.yaml"
    n_train = sum(1 for _ in (root / "data" / "images" / "train").iterdir())
    for name in a.models:
        r = rec.get(name, {})
        best = root / name / "weights" / "best.pt"
        if not r.get("finished") or not best.is_file():
            print(f"[{name}] no finished run under {root}; skipped")
            continue
        t = time.time()
        f = Path(YOLO(str(best)).export(format="openvino", imgsz=r["imgsz"], int8=True, data=str(data),
                                        split="train", fraction=min(1.0, a.calib / n_train), verbose=False))
        dst = root / name / "int8_openvino_model"
        shutil.rmtree(dst, ignore_errors=True)
        shutil.move(str(f), dst)
        export_s = time.time() - t
        m = YOLO(str(dst), task="detect").val(data=str(data), imgsz=r["imgsz"], batch=1, device="cpu",
                                              plots=False, verbose=False)
        names = m.names if hasattr(m, "names") else {}
        r["int8"] = {"map50": float(m.box.map50), "map50_95": float(m.box.map), "export_s": round(export_s, 1),
                     "calib_images": a.calib,
                     "per_class": {names[int(c)]: {"ap50": float(m.box.ap50[i]), "ap50_95": float(m.box.ap[i])}
                                   for i, c in enumerate(m.box.ap_class_index)}}
        print(f"[{name}] fp32 mAP50 {r['map50']:.4f} mAP50-95 {r['map50_95']:.4f}; "
              f"INT8 mAP50 {r['int8']['map50']:.4f} mAP50-95 {r['int8']['map50_95']:.4f}")
        tmp = rec_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(rec, indent=2))
        os.replace(tmp, rec_path)


if __name__ == "__main__":
    main()
