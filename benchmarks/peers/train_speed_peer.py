"""Training images/s of an Ultralytics model on this CPU (run by benchmarks/train_speed.py in the peers' venv).

    benchmarks/peers/.venv/bin/python benchmarks/peers/train_speed_peer.py --data D --model yolo26n --steps 30

One epoch over just enough of the training set for ``--warmup`` + ``--steps`` batches, no
validation, fp32 (Ultralytics trains in fp32 on the CPU); prints {"images_per_s", ...} as JSON.
"""
import argparse
import json
import os
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", default="yolo26n")
    ap.add_argument("--imgsz", type=int, default=320)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--n-train", type=int, default=1440, help="images in the training split")
    a = ap.parse_args()
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from ultralytics import YOLO

    stamps = []
    model = YOLO(f"{a.model}.yaml")
    model.add_callback("on_train_batch_end", lambda trainer: stamps.append(time.perf_counter()))
    fraction = min(1.0, (a.steps + a.warmup + 1) * a.batch / a.n_train)
    with tempfile.TemporaryDirectory() as tmp:
        model.train(data=a.data, epochs=1, imgsz=a.imgsz, batch=a.batch, workers=a.workers, device="cpu", amp=False,
                    val=False, plots=False, pretrained=False, fraction=fraction, project=tmp, name="run",
                    verbose=False, seed=0)
    timed = stamps[a.warmup:a.warmup + a.steps + 1]
    ips = (len(timed) - 1) * a.batch / (timed[-1] - timed[0])
    print(json.dumps({"model": a.model, "images_per_s": round(ips, 2), "steps": len(timed) - 1}))


if __name__ == "__main__":
    main()
