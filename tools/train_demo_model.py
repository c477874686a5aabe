"""Train the bundled demo model: SD-GASNet-n on the synthetic line, scored on what ``demo`` plays.

    python tools/train_demo_model.py --out runs/demo [--frames 600 --epochs 40 --imgsz 320]

Training frames are the line's frames (480 x 640) with one to three defects each, from line
seeds the demo source never plays; validation is ``demo:200`` (frames 0-199 of line 0, the
ones the demo source shows). Resumable: rerun the same command. Then bundle it with
``python tools/bundle_model.py runs/demo/weights/best.pt demo --data demo:200 --command ...``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.data.formats import dataset_writer  # noqa: E402
from core.data.synth import CLASSES, DEMO_SIZE, demo_frame, make_image  # noqa: E402
from core.detector import Detector  # noqa: E402


def write_training_set(root: Path, frames: int, val_frames: int) -> Path:
    if (root / "data.yaml").is_file():
        return root / "data.yaml"
    w = dataset_writer(root, "yolo", CLASSES)
    for k in range(frames):  # dense: every frame has defects, so each class has hundreds of boxes
        img, boxes, labels = make_image(10_000_019 + k, DEMO_SIZE, (1, 3))
        w.add("train", f"train_{k:05d}", img, boxes, labels, img.shape[1], img.shape[0])
    for k in range(val_frames):
        img, boxes, labels = demo_frame(0, k)
        w.add("val", f"line0_{k:05d}", img, boxes, labels, img.shape[1], img.shape[0])
    return w.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="runs/demo")
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--val-frames", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    out = Path(a.out)
    data = write_training_set(out.parent / f"{out.name}_data", a.frames, a.val_frames)
    resume = (out / "weights" / "last.pt").is_file()
    res = Detector("sdgasnet-n").train(str(data), epochs=a.epochs, imgsz=a.imgsz, batch=16, device=a.device,
                                       out=str(out), resume=resume, val_interval=5)
    print(res)


if __name__ == "__main__":
    main()
