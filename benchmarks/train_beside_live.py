"""Live inspection's frame time while a training run shares the CPU (a 2-core line PC).

    python benchmarks/train_beside_live.py --seconds 40

The live view judges each frame with the bundled ``demo`` model on its own thread count (torch's
default: one per core); a training run started from the Training tab is a child process with
OpenMP's default of one thread per core too, at ``nice 19`` (``core/util/proc.py``). This times the
live view's predictor on demo frames for ``--seconds`` alone, then beside a training child in each
of ``CASES`` (normal priority or ``nice 10`` / ``nice 19``, on its default threads or held to one
by ``OMP_NUM_THREADS=1``): the median and 95th-percentile frame time, and how many images a second
the child trained. The question: does a training run slow the line, and what of
the training's speed does leaving the line its CPU cost?
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


def frame_times(seconds: float, fps: float = 0) -> list[float]:
    """The live view's predictor on demo frames for ``seconds``: each frame's time, in ms; ``fps``:
    a frame each 1/fps s as a camera gives them (0: back to back, the worst case)."""
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
        if fps:
            time.sleep(max(0.0, t + 1 / fps - time.perf_counter()))
    return out


BATCH = 16
ALONE = "training alone (no frames)"
CASES = {   # name: (the child's OMP_NUM_THREADS, its niceness)
    ALONE: (None, 0),
    "beside training, its default threads": (None, 0),
    "beside training on 1 thread": (1, 0),
    "beside training at nice 10": (None, 10),
    "beside training on 1 thread at nice 10": (1, 10),
    "beside training at nice 19": (None, 19),
}


def training_child(run: Path, threads: int | None, nice: int) -> subprocess.Popen:
    env = dict(os.environ)
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    cmd = [sys.executable, str(ROOT / "main.py"), "train", "--data", "demo:640", "--imgsz", "320", "--epochs", "50",
           "--batch", str(BATCH), "--device", "cpu", "--weights", "base", "--out", str(run)]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=(lambda: os.nice(nice)) if nice else None)


def trained_images_per_s(run: Path, t0: float, t1: float) -> float | None:
    """The child's pace while the frames were timed: images a second between its first and last
    progress events of [t0, t1] in one epoch (640 images: the window falls in its first epoch)."""
    events = run / "events.jsonl"
    if not events.is_file():
        return None
    recs = [json.loads(ln) for ln in events.read_text().splitlines() if '"progress"' in ln]
    recs = [r for r in recs if t0 <= r["time"] <= t1]
    recs = [r for r in recs if recs and r["epoch"] == recs[-1]["epoch"]]
    if len(recs) < 2 or recs[-1]["time"] <= recs[0]["time"]:
        return None
    return round((recs[-1]["done"] - recs[0]["done"]) * BATCH / (recs[-1]["time"] - recs[0]["time"]), 2)


def summary(ms: list[float]) -> dict:
    q = statistics.quantiles(ms, n=20)
    return {"frames": len(ms), "median_ms": round(statistics.median(ms), 1), "p95_ms": round(q[18], 1)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=40.0, help="frames timed in each case")
    ap.add_argument("--warmup", type=float, default=45.0, help="the child's set-up before the frames are timed")
    ap.add_argument("--fps", type=float, default=0, help="frames a second (0: back to back)")
    ap.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    a = ap.parse_args()
    rows = {"alone": summary(frame_times(a.seconds, a.fps))}
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.cases:
            run = Path(tmp) / name.replace(" ", "_").replace(",", "")
            child = training_child(run, *CASES[name])
            try:
                time.sleep(a.warmup)
                t0 = time.time()
                timed = summary(frame_times(a.seconds, a.fps)) if name != ALONE else {}
                if name == ALONE:
                    time.sleep(a.seconds)
                rows[name] = {**timed, "training_images_per_s": trained_images_per_s(run, t0, time.time())}
            finally:
                child.terminate()
                child.wait(60)
    print(json.dumps({"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
                      "fps": a.fps or "back to back",
                      "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
