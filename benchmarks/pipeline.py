"""Frames/s and latency of the inspection pipeline on the demo line, headless and in the GUI.

    python benchmarks/pipeline.py --frames 60 --sizes 320 640 [--weights W]
    python benchmarks/pipeline.py --frames 200 --weights default --runtimes pytorch fastest [--data D]

Headless: Pipeline(demo, unpaced: every frame judged) -> records. GUI: the same through the main
window (Qt offscreen), drawing overlays and plots. Without --weights a randomly initialised
SD-GASNet-n checkpoint is used (timing only). The model's own latency (median of the inference
stage) gives the bound: frames/s <= 1000 / (preprocess + inference + postprocess).

``--runtimes``: the weights at their own size, once per runtime: ``pytorch`` (the .pt as it is) and
``fastest`` (what the live view runs with *Fastest runtime* on: the export ``core.export.fastest``
chose, cached for the weights in ``--home``, made first when missing; ``--data`` calibrates INT8).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.data.synth import CLASSES  # noqa: E402
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


def headless(det: Detector, frames: int, tmp: Path, tag: str) -> dict:
    pred = det.predictor()
    rec = RecordsWriter(tmp / f"h{tag}.db")
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
    return {"fps": (p.stats.total - n0) / el, "model_id": pred.model_id,
            **{k: s[k] for k in s if k.startswith("median_")}}


def gui(det: Detector, frames: int, tmp: Path, tag: str) -> dict:
    home = tmp / f"home{tag}"
    home.mkdir(parents=True, exist_ok=True)
    # the window judges with `det` only: no model of its own settings loads, nothing is prepared meanwhile
    (home / "settings.json").write_text(json.dumps({"weights": "", "fastest_runtime": False}))
    os.environ["SDGAS_HOME"] = str(home)
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow

    app = QApplication.instance() or QApplication([])  # noqa: F841 - must exist while the window lives
    w = MainWindow()
    w.resize(1440, 880)
    w.show()
    w.live.models.detector = det
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


def by_runtime(weights: str, runtimes: list[str], frames: int, tmp: Path, data: str | None, home: Path,
               rounds: int = 2) -> list[dict]:
    """The weights at their own size on each runtime, headless and in the window; ``rounds`` passes
    in turns (a load that comes and goes on a shared machine weighs on each runtime alike)."""
    dets = {}
    for rt in runtimes:
        os.environ["SDGAS_HOME"] = str(home)          # where the fastest runtime is cached
        det = Detector(weights, "cpu")
        label = "PyTorch fp32 (.pt)"
        if rt == "fastest":
            choice = det.use_fastest(prepare=True, data=data, log=lambda m: print("  " + m, flush=True))
            if choice is None:
                raise SystemExit(f"{weights}: no fastest runtime applies (not a .pt with a hash, or not on the CPU)")
            label = f"{choice.describe()} (fastest: {choice.why})"
        det.backend()
        dets[rt] = (det, label)
    runs: dict = {rt: [] for rt in runtimes}
    for k in range(rounds):
        for rt in (runtimes if k % 2 == 0 else runtimes[::-1]):
            det, _ = dets[rt]
            h, g = headless(det, frames, tmp, f"{rt}{k}"), gui(det, frames, tmp, f"{rt}{k}")
            runs[rt].append((h, g))
            print(f"round {k + 1} {rt}: headless {h['fps']:.2f} frames/s, GUI {g['fps']:.2f} frames/s "
                  f"({h['model_id']})", flush=True)
    rows = []
    for rt in runtimes:
        det, label = dets[rt]
        med = lambda side, key: statistics.median(r[side][key] for r in runs[rt])  # noqa: E731
        rows.append({"runtime": rt, "label": label, "imgsz": det.imgsz, "rounds": runs[rt],
                     "headless": {k: med(0, k) for k in ("fps", "median_inference_ms", "median_total_ms")},
                     "gui": {k: med(1, k) for k in ("fps", "median_inference_ms", "median_total_ms")}})
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--sizes", type=int, nargs="+", default=[320, 640])
    ap.add_argument("--weights")
    ap.add_argument("--runtimes", nargs="+", choices=["pytorch", "fastest"],
                    help="with --weights: the weights at their own size on each of these runtimes")
    ap.add_argument("--data", help="INT8 calibration and accuracy data for --runtimes fastest (default: the "
                                   "weights' own, where it is here)")
    ap.add_argument("--home", help="the application folder holding the runtime cache (default: a temporary one)")
    ap.add_argument("--rounds", type=int, default=2, help="with --runtimes: passes over the runtimes, in turns "
                                                          "(the table gives the median)")
    ap.add_argument("--json")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    if a.runtimes:
        if not a.weights:
            raise SystemExit("--runtimes needs --weights")
        rows = by_runtime(a.weights, a.runtimes, a.frames, tmp, a.data, Path(a.home) if a.home else tmp / "app",
                          a.rounds)
        print(f"median of {a.rounds} rounds")
        print("| runtime | imgsz | headless frames/s | GUI frames/s | median inference ms (headless / GUI) | "
              "median latency ms (headless / GUI) |")
        print("|---|---|---|---|---|---|")
        for r in rows:
            h, g = r["headless"], r["gui"]
            print(f"| {r['label']} | {r['imgsz']} | {h['fps']:.2f} | {g['fps']:.2f} | "
                  f"{h['median_inference_ms']:.1f} / {g['median_inference_ms']:.1f} | "
                  f"{h['median_total_ms']:.1f} / {g['median_total_ms']:.1f} |")
        if a.json:
            Path(a.json).write_text(json.dumps(rows, indent=2))
        return
    rows = []
    for s in a.sizes:
        det = Detector(a.weights or make_weights(tmp, s), "cpu")
        h = headless(det, a.frames, tmp, str(s))
        g = gui(det, a.frames, tmp, str(s))
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
