"""Frames/s and latency of the inspection pipeline on the demo line, headless and in the GUI.

    python benchmarks/pipeline.py --frames 60 --sizes 320 640 [--weights W]

Headless: Pipeline(demo, unpaced: every frame judged) -> records. GUI: the same through the main
window (Qt offscreen), drawing overlays and plots. Without --weights a randomly initialised
SD-GASNet-n checkpoint is used (timing only). The model's own latency (median of the inference
stage) gives the bound: frames/s <= 1000 / (preprocess + inference + postprocess).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.data.synth import CLASSES  # noqa: E402
from core.infer.predictor import Predictor  # noqa: E402
from core.inspect.pipeline import Pipeline  # noqa: E402
from core.detector import Detector  # noqa: E402
from core.inspect.options import InspectOptions  # noqa: E402
from core.inspect.records import RecordsWriter  # noqa: E402
from core.inspect.sources import DemoSource  # noqa: E402
from core.model import build_model  # noqa: E402
from core.model.checkpoint import save_checkpoint  # noqa: E402


def make_weights(folder: Path, imgsz: int) -> str:
    m = build_model("sdgasnet-n", len(CLASSES))
    p = folder / f"random_{imgsz}.pt"
    save_checkpoint(p, m.state_dict(), {"names": CLASSES, "imgsz": imgsz, "model_config": m.cfg.to_dict()})
    return str(p)


def headless(weights: str, imgsz: int, frames: int, tmp: Path) -> dict:
    pred = Predictor(weights, "cpu", imgsz)
    rec = RecordsWriter(tmp / f"h{imgsz}.db")
    p = Pipeline(DemoSource(seed=0, fps=0), pred, InspectOptions(max_frames=frames + 5), rec)
    t0 = None
    n0 = 0
    p.start()
    while not p.finished.is_set():
        if t0 is None and p.stats.total >= 5:  # skip warm-up frames
            t0, n0 = time.perf_counter(), p.stats.total
        time.sleep(0.01)
    el = time.perf_counter() - t0
    p.stop()
    rec.close()
    s = p.stats.summary()
    return {"fps": (p.stats.total - n0) / el, **{k: s[k] for k in s if k.startswith("median_")}}


def gui(weights: str, imgsz: int, frames: int, tmp: Path) -> dict:
    os.environ["SDGAS_HOME"] = str(tmp / f"home{imgsz}")
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow

    app = QApplication.instance() or QApplication([])  # noqa: F841 - must exist while the window lives
    w = MainWindow()
    w.resize(1440, 880)
    w.show()
    w.live.detector = Detector(weights, "cpu")   # its checkpoint is at imgsz
    w.live.settings["demo_fps"] = 0.0
    w.live.source_box.setCurrentText("demo")
    w.live.start()
    from PySide6.QtCore import QEventLoop, QTimer

    mark = {}
    loop = QEventLoop()

    def check():  # runs in the event loop, as the real application would idle in app.exec()
        st = w.live.ctrl.snapshot()
        if "t0" not in mark and st.total >= 5:
            mark["t0"], mark["n0"] = time.perf_counter(), st.total
        if st.total >= frames + 5:
            loop.quit()

    timer = QTimer()
    timer.timeout.connect(check)
    timer.start(20)
    loop.exec()
    timer.stop()
    st = w.live.ctrl.snapshot()
    t0, n0 = mark["t0"], mark["n0"]
    el = time.perf_counter() - t0
    n = st.total - n0
    s = st.summary
    w.live.shutdown()
    w.close()
    return {"fps": n / el, **{k: s[k] for k in s if k.startswith("median_")}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--sizes", type=int, nargs="+", default=[320, 640])
    ap.add_argument("--weights")
    ap.add_argument("--json")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    rows = []
    for s in a.sizes:
        w = a.weights or make_weights(tmp, s)
        h = headless(w, s, a.frames, tmp)
        g = gui(w, s, a.frames, tmp)
        model_ms = h["median_preprocess_ms"] + h["median_inference_ms"] + h["median_postprocess_ms"]
        rows.append({"imgsz": s, "headless": h, "gui": g, "model_bound_fps": 1000 / model_ms,
                     "gui_overhead_pct": 100 * (h["fps"] / g["fps"] - 1)})
    print("| imgsz | headless frames/s | GUI frames/s | GUI overhead | model-latency bound frames/s | "
          "median latency ms (headless / GUI) | frame age ms (headless / GUI) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        h, g = r["headless"], r["gui"]
        print(f"| {r['imgsz']} | {h['fps']:.2f} | {g['fps']:.2f} | {r['gui_overhead_pct']:+.1f}% | "
              f"{r['model_bound_fps']:.2f} | {h['median_total_ms']:.1f} / {g['median_total_ms']:.1f} | "
              f"{h['median_frame_age_ms']:.1f} / {g['median_frame_age_ms']:.1f} |")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
