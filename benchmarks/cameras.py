"""Industrial cameras: what acquisition costs and how fast the live pipeline judges, on pylon's
camera emulation (no hardware; the emulated sensor delivers test images at the set frame rate).

    python benchmarks/cameras.py [--seconds 10] [--weights demo] [--imgsz 256] [--out cameras.json]

For each frame size (640x480, 1920x1200) and pixel format (Mono8, BayerRG8):
- camera only: a free-running camera at 30 frames/s read and converted to BGR (debayered) by the
  camera source alone: CPU used by this process per camera, as a share of one core;
- pipeline: ``inspect`` on the camera in free-run (the camera at 100 frames/s, the pipeline
  judges the newest frame whenever the model is free): frames judged per second, median latency,
  and the process's CPU share.
CPU shares come from the process's own CPU time (os.times) over the wall time, so other load on
the machine is not counted; the frame rates are what this machine gave while it had other work.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PYLON_CAMEMU", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.inspect.cameras.source import CameraSource  # noqa: E402
from core.inspect.recipe import Recipe  # noqa: E402

SIZES = [(640, 480), (1920, 1200)]
FORMATS = ["Mono8", "BayerRG8"]


def cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def camera_only(w: int, h: int, fmt: str, seconds: float, fps: float = 30.0) -> dict:
    src = CameraSource("pylon://")
    src.set_recipe(Recipe(camera={"Width": w, "Height": h, "PixelFormat": fmt, "AcquisitionFrameRate": fps}))
    src.open()
    try:
        for _ in range(5):
            src.read()
        c0, t0, n = cpu_s(), time.perf_counter(), 0
        while time.perf_counter() - t0 < seconds:
            f = src.read()
            assert f is not None and f.image is not None and f.image.shape == (h, w, 3), f.error
            n += 1
        el, cpu = time.perf_counter() - t0, cpu_s() - c0
    finally:
        src.close()
    return {"fps": round(n / el, 1), "cpu_pct_of_one_core": round(100 * cpu / el, 1)}


def pipeline(w: int, h: int, fmt: str, seconds: float, weights: str, imgsz: int) -> dict:
    from core.detector import Detector

    tmp = Path(tempfile.mkdtemp(prefix="cambench_"))
    recipe = Recipe(camera={"Width": w, "Height": h, "PixelFormat": fmt, "AcquisitionFrameRate": 100.0})
    s = Detector(weights).inspect("pylon://", db=str(tmp / "r.sqlite"), imgsz=imgsz, recipe=recipe)
    s.start()
    try:
        time.sleep(3.0)                              # warm-up: model, first frames
        n0, c0, t0 = s.snapshot().total, cpu_s(), time.perf_counter()
        time.sleep(seconds)
        snap = s.snapshot()
        el, cpu = time.perf_counter() - t0, cpu_s() - c0
    finally:
        s.stop()
    return {"judged_fps": round((snap.total - n0) / el, 1), "median_latency_ms": round(snap.summary["median_total_ms"], 1),
            "median_capture_ms": round(snap.summary["median_capture_ms"], 1),
            "errors": snap.error, "cpu_pct_of_one_core": round(100 * cpu / el, 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--weights", default="demo")
    ap.add_argument("--imgsz", type=int, default=256)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    rows = []
    for w, h in SIZES:
        for fmt in FORMATS:
            row = {"size": f"{w}x{h}", "format": fmt, "camera_only_30fps": camera_only(w, h, fmt, a.seconds),
                   "pipeline": pipeline(w, h, fmt, a.seconds, a.weights, a.imgsz)}
            print(json.dumps(row), flush=True)
            rows.append(row)
    res = {"machine": f"{os.cpu_count()} cores", "weights": a.weights, "imgsz": a.imgsz, "seconds": a.seconds,
           "rows": rows}
    if a.out:
        Path(a.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
