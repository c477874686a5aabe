"""Live inspection's frame time while a training run shares the CPU (a 2-core line PC).

    python benchmarks/train_beside_live.py --seconds 40

The live view judges each frame with the bundled ``demo`` model on its own thread count (torch's
default: one per core); a training run started from the Training tab is a child process with
OpenMP's default of one thread per core too. This times the live view's predictor on demo frames
for ``--seconds`` alone, then beside a training child on its default threads, then beside the same
child held to one thread (``OMP_NUM_THREADS=1``): the median and 95th-percentile frame time, and
how many images a second the child trained. The question: does a training run slow the line, and
would leaving the line a core be worth the training's speed?
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def frame_times(seconds: float) -> list[float]:
    """The live view's predictor on demo frames for ``seconds``: each frame's time, in ms."""
    from core.detector import Detector
    from core.inspect.sources import DemoSource

    pred = Detector("demo", "cpu").predictor()
    line = DemoSource(fps=0)
    frames = [line.frame_image(k)[0] for k in range(8)]
    pred(frames[0])
    out, end, i = [], time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        t = time.perf_counter()
        pred(frames[i % len(frames)])
        out.append((time.perf_counter() - t) * 1000)
        i += 1
    return out


def training_child(run: Path, threads: int | None) -> subprocess.Popen:
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    cmd = [sys.executable, str(ROOT / "main.py"), "train", "--data", "demo:64", "--imgsz", "320", "--epochs", "50",
           "--batch", "16", "--device", "cpu", "--weights", "base", "--out", str(run)]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def trained_images_per_s(run: Path) -> float | None:
    """The child's training pace from its progress events (images a second, the last one)."""
    events = run / "events.jsonl"
    if not events.is_file():
        return None
    pace = [json.loads(ln).get("images_per_s") for ln in events.read_text().splitlines() if '"progress"' in ln]
    pace = [p for p in pace if p]
    return pace[-1] if pace else None


def summary(ms: list[float]) -> dict:
    q = statistics.quantiles(ms, n=20)
    return {"frames": len(ms), "median_ms": round(statistics.median(ms), 1), "p95_ms": round(q[18], 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=40.0, help="frames timed in each case")
    ap.add_argument("--warmup", type=float, default=25.0, help="the child's set-up before the frames are timed")
    a = ap.parse_args()
    rows = {"alone": summary(frame_times(a.seconds))}
    with tempfile.TemporaryDirectory() as tmp:
        for name, threads in (("beside training, its default threads", None), ("beside training on 1 thread", 1)):
            run = Path(tmp) / name.replace(" ", "_").replace(",", "")
            child = training_child(run, threads)
            try:
                time.sleep(a.warmup)
                rows[name] = {**summary(frame_times(a.seconds)), "training_images_per_s": trained_images_per_s(run)}
            finally:
                child.terminate()
                child.wait(60)
    print(json.dumps({"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
                      "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
