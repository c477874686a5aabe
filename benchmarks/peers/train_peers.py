"""Train Ultralytics peers (YOLO26n, YOLO11n) from scratch on NEU-DET, on the budget of our runs.

    benchmarks/peers/setup.sh                                   # once: the peers' own venv
    benchmarks/peers/.venv/bin/python benchmarks/peers/train_peers.py --epochs 40 --imgsz 256 \
        --root ../bench_runs/peers [--models yolo26n yolo11n]

Same split as ours (../shared/data/neu-det, splits/train.txt and val.txt, converted once to YOLO
layout under ROOT/data by the project's own converter), same epochs, image size and batch 16, CPU,
no pre-training (the model's .yaml, not its .pt), no downloads (plots off). Resumable: a model
whose run stopped continues from its last.pt. Writes ROOT/peers.json: per model the command, wall
time and the val metrics of its best.pt as Ultralytics reports them (mAP50, mAP50-95, per class),
and our evaluator's figures on the same predictions are not mixed in: the table in
docs/benchmarks.md says which convention each column uses.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NEU = ROOT.parent / "shared" / "data" / "neu-det"


def yolo_data(root: Path) -> Path:
    """NEU-DET in YOLO layout, converted by the project's converter (run in the project's venv)."""
    out = root / "data"
    if (out / "data.yaml").is_file():
        return out / "data.yaml"
    proj_py = ROOT / ".venv" / "bin" / "python"
    subprocess.run([str(proj_py), str(ROOT / "main.py"), "dataset", "convert", str(NEU), "--to", "yolo",
                    "--out", str(out)], check=True, cwd=ROOT)
    return out / "data.yaml"


def command(name: str, args: dict) -> str:
    """The train call as a line to rerun, its data path relative to the repository (no machine paths)."""
    shown = {k: v for k, v in args.items() if k not in ("project", "name")}
    shown["data"] = os.path.relpath(shown["data"], ROOT)
    return f"YOLO('{name}.yaml').train(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--imgsz", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--root", default=str(ROOT.parent / "bench_runs" / "peers"))
    ap.add_argument("--models", nargs="+", default=["yolo26n", "yolo11n"])
    ap.add_argument("--fraction", type=float, default=1.0, help="share of the training set (smoke runs)")
    a = ap.parse_args()
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from ultralytics import YOLO, __version__
    import torch

    root = Path(a.root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    data = yolo_data(root)
    summary_path = root / "peers.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    for name in a.models:
        run = root / name
        last = run / "weights" / "last.pt"
        t0 = time.time()
        if summary.get(name, {}).get("finished"):
            print(f"[{name}] finished earlier, skipped")
            continue
        args = dict(data=str(data), epochs=a.epochs, imgsz=a.imgsz, batch=a.batch, device="cpu", workers=a.workers,
                    pretrained=False, seed=0, deterministic=True, plots=False, project=str(root), name=name,
                    exist_ok=True, fraction=a.fraction, amp=False, val=True, verbose=False)
        if last.exists():
            model = YOLO(str(last))
            model.train(resume=True)
        else:
            model = YOLO(f"{name}.yaml")
            model.train(**args)
        best = YOLO(str(run / "weights" / "best.pt"))
        m = best.val(data=str(data), imgsz=a.imgsz, batch=a.batch, device="cpu", plots=False, verbose=False)
        per = {best.names[int(c)]: {"ap50": float(m.box.ap50[i]), "ap50_95": float(m.box.ap[i])}
               for i, c in enumerate(m.box.ap_class_index)}
        prev = summary.get(name, {}).get("wall_s", 0.0)
        summary[name] = {"finished": True, "ultralytics": __version__, "torch": torch.__version__,
                         "command": command(name, args),
                         "epochs": a.epochs, "imgsz": a.imgsz, "batch": a.batch, "fraction": a.fraction,
                         "wall_s": round(prev + time.time() - t0, 1),
                         "map50": float(m.box.map50), "map50_95": float(m.box.map), "per_class": per,
                         "params": sum(p.numel() for p in best.model.parameters())}
        summary_path.write_text(json.dumps(summary, indent=2))
        print(f"[{name}] mAP50 {m.box.map50:.4f} mAP50-95 {m.box.map:.4f}")


if __name__ == "__main__":
    sys.exit(main())
