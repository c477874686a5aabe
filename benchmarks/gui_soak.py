"""Soak of the whole application: the real main window inspecting the demo line with the demo model.

    xvfb-run -a python benchmarks/gui_soak.py --minutes 20 [--every 60] [--out gui_soak.json]
    QT_QPA_PLATFORM=offscreen python benchmarks/gui_soak.py --minutes 20

``benchmarks/soak.py`` soaks the inspection pipeline alone; this runs ``app.launch.run_gui`` (as
``python main.py gui --source demo --weights demo``) with a fresh settings folder, so the GUI's own
parts run too: the frame view and plots, the model service (the fastest runtime is prepared in
the background, as by default, and waits in memory for the next Start: a run is judged by one
runtime from start to end) and the garbage collector, which runs on a
GUI-thread timer instead of automatically (``app.launch.collect_cycles_on_gui_thread``). Every
``--every`` seconds it prints the process's resident memory, threads, open files, the collector's
state and counts, the runtime judging and the one waiting, and the frames judged; at the end, the
drift over the samples taken after those last changed.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _runtime(detector) -> str | None:
    """The runtime a detector runs (None: no detector)."""
    if detector is None:
        return None
    return detector.runtime.runtime if detector.runtime is not None else "pytorch-fp32"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=20)
    ap.add_argument("--every", type=float, default=60, help="seconds between samples")
    ap.add_argument("--out", help="the samples as JSON")
    a = ap.parse_args()
    os.chdir(ROOT)
    os.environ["SDGAS_HOME"] = tempfile.mkdtemp(prefix="gui-soak-")   # the user's settings stay untouched
    os.environ.setdefault("SDGAS_NO_CAMERA_PROBE", "1")

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.launch import run_gui

    app = QApplication(sys.argv[:1])
    t0, samples = time.time(), []

    def sample():
        from app.main_window import MainWindow
        win = next((w for w in app.topLevelWidgets() if isinstance(w, MainWindow)), None)
        snap = win.live.ctrl.snapshot() if win else None
        models = win.live.models if win else None
        runtime = _runtime(models.detector) if models else None
        ready = _runtime(models.next_detector) if models else None
        s = dict(s=round(time.time() - t0), rss_mib=round(rss_mib(), 1), threads=threading.active_count(),
                 files=len(os.listdir("/proc/self/fd")), gc_automatic=gc.isenabled(), gc_counts=gc.get_count(),
                 runtime=runtime, ready_for_next_start=ready, frames=getattr(snap, "total", None))
        samples.append(s)
        print(json.dumps(s), flush=True)

    timer = QTimer()
    timer.timeout.connect(sample)
    timer.start(int(a.every * 1000))
    QTimer.singleShot(int(a.minutes * 60_000) + 500, app.quit)
    rc = run_gui(source="demo", weights="demo")
    state = [(s["runtime"], s["ready_for_next_start"]) for s in samples]
    settled = [s for s, st in zip(samples, state) if st == state[-1]] if samples else []
    if len(settled) >= 2:
        first, last = settled[0], settled[-1]
        print(f"exit {rc}; {last['frames']} frames in {last['s']} s; since the models settled (from {first['s']} s: "
              f"running {last['runtime']}, ready for the next Start {last['ready_for_next_start']}): memory {first['rss_mib']} -> {last['rss_mib']} MiB "
              f"({last['rss_mib'] - first['rss_mib']:+.1f}), threads {first['threads']} -> {last['threads']}, "
              f"files {first['files']} -> {last['files']}")
    if a.out:
        Path(a.out).write_text(json.dumps(samples, indent=1))
    return rc


if __name__ == "__main__":
    sys.exit(main())
