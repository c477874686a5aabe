"""Soak: the live pipeline on the demo line for a long time, sampling its health every interval.

    python benchmarks/soak.py --minutes 120 [--every 60] [--fps 8] [--weights demo] [--out soak.json]

Runs an ``InspectionSession`` (records to SQLite, NG images saved) and every ``--every`` seconds
samples the process's resident memory, threads, open files, frames judged and median latency.
Prints one line per sample and, at the end, the drift between the first and last quarter; the
samples go to ``--out`` (JSON). A healthy run keeps memory, threads and files flat and latency
steady.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=120)
    ap.add_argument("--every", type=float, default=60)
    ap.add_argument("--fps", type=float, default=8.0, help="pace of the demo line (the GUI's default)")
    ap.add_argument("--weights", default="demo")
    ap.add_argument("--out", default="soak.json")
    a = ap.parse_args()
    from core.detector import Detector

    work = Path(tempfile.mkdtemp(prefix="soak_"))
    sess = Detector(a.weights, "cpu", source="demo").inspect("demo", db=str(work / "records.sqlite"),
                                                             save_ng=str(work / "ng"), demo_fps=a.fps)
    sess.start()
    samples, t0 = [], time.time()
    try:
        while time.time() - t0 < a.minutes * 60:
            time.sleep(a.every)
            snap = sess.snapshot()
            sm = snap.summary
            s = {"t_min": round((time.time() - t0) / 60, 2), "rss_mib": round(rss_mib(), 1),
                 "threads": threading.active_count(), "open_files": len(os.listdir("/proc/self/fd")),
                 "frames": sm["frames"], "median_latency_ms": sm["median_total_ms"], "fps": sm["fps"]}
            samples.append(s)
            print(json.dumps(s), flush=True)
    finally:
        sess.stop()
    q = max(1, len(samples) // 4)
    first, last = samples[:q], samples[-q:]

    def mean(xs, k):
        return statistics.fmean(x[k] for x in xs)

    drift = {k: round(mean(last, k) - mean(first, k), 2) for k in ("rss_mib", "threads", "open_files",
                                                                    "median_latency_ms")}
    result = {"minutes": a.minutes, "fps": a.fps, "weights": a.weights, "samples": samples,
              "drift_last_vs_first_quarter": drift, "records": sess.records_written}
    Path(a.out).write_text(json.dumps(result, indent=2))
    print(f"drift (last quarter - first quarter): {drift}; {sess.records_written} records; samples in {a.out}")


if __name__ == "__main__":
    main()
