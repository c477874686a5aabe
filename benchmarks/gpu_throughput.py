"""GPU throughput of SD-GASNet against the paper's 180 frames/s (issue 25's GPU row).

    python benchmarks/gpu_throughput.py --weights resources/models/default.pt --json gpu.json

On the lent GPU machine (its own ``python3`` holds a CUDA PyTorch; run from the repository root):

    python3 benchmarks/gpu_throughput.py --json $OUT/gpu.json

Rows, for each image size and batch (default 320 and 640, batch 1 and 32), the fused
(re-parameterised) model on the GPU:
- PyTorch eager fp32, and fp16 channels-last;
- ``torch.compile`` of the fp16 model (mode ``max-autotune-no-cudagraphs``), and with CUDA graphs
  (``reduce-overhead``), the usual way to remove launch overhead at batch 1;
- ONNX Runtime's CUDA and TensorRT providers, where the installed ``onnxruntime`` has them (the
  CPU-only build has neither: the row then says so instead of timing a CPU run);
- the whole step at batch 1: upload of a uint8 frame, normalisation, the fp16 model, NMS on the
  GPU, detections back to the host, i.e. what one camera frame costs.

Timing: each configuration is warmed up (compiles included), then timed ``--runs`` times with
``torch.cuda.synchronize`` around each call; medians are reported as ms per call and images/s.
Random input; the weights are the bundled model's, so NMS sees real score maps' sparsity only
roughly (the frame is noise). ``--device cpu`` runs the same code on the CPU (for the test).
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.infer.postprocess import postprocess  # noqa: E402
from core.model import count_gflops, count_params  # noqa: E402
from core.model.checkpoint import load_model  # noqa: E402

PAPER_FPS = 180


def sync(dev: torch.device):
    if dev.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, x, runs: int, warmup: int, dev: torch.device) -> float:
    """Median ms of ``fn(x)`` over ``runs`` calls after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn(x)
    sync(dev)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn(x)
        sync(dev)
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def torch_rows(model, dev, size, batch, a) -> dict:
    """name -> (callable, input) for the PyTorch configurations at one shape."""
    x32 = torch.rand(batch, 3, size, size, device=dev)
    rows = {"PyTorch eager fp32": (model, x32)}
    half = dev.type == "cuda"  # fp16 convolutions are a GPU path; the CPU rows stay fp32
    m16 = copy.deepcopy(model)  # .half() and channels-last convert in place
    m16 = (m16.half() if half else m16).to(memory_format=torch.channels_last)
    x16 = (x32.half() if half else x32).contiguous(memory_format=torch.channels_last)
    rows[f"PyTorch eager {'fp16' if half else 'fp32'} channels-last"] = (m16, x16)
    if a.compile:
        for mode in a.compile_modes:
            rows[f"torch.compile {mode} {'fp16' if half else 'fp32'}"] = (torch.compile(m16, mode=mode), x16)
    return rows


def ort_rows(onnx_path: Path, size: int, batch: int, dev) -> tuple[dict, str | None]:
    """ONNX Runtime on the GPU providers the installed build has; (rows, why none)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return {}, "onnxruntime is not installed"
    have = ort.get_available_providers()
    rows = {}
    x = np.random.default_rng(0).random((batch, 3, size, size), dtype=np.float32)
    for prov, label in (("TensorrtExecutionProvider", "ONNX Runtime TensorRT fp16"),
                        ("CUDAExecutionProvider", "ONNX Runtime CUDA fp32")):
        if prov not in have or dev.type != "cuda":
            continue
        opts = {"trt_fp16_enable": True} if prov.startswith("Tensorrt") else {}
        s = ort.InferenceSession(str(onnx_path), providers=[(prov, opts), "CPUExecutionProvider"])
        name = s.get_inputs()[0].name
        rows[label] = (lambda v, s=s, name=name: s.run(None, {name: v}), x)
    why = None if rows else f"onnxruntime {ort.__version__} has no GPU provider here ({', '.join(have)})"
    return rows, why


def frame_step(model, dev, size):
    """One camera frame end to end: uint8 HWC upload, normalise, fp16 model, NMS, detections to the host."""
    half = dev.type == "cuda"
    frame = torch.from_numpy(np.random.default_rng(1).integers(0, 255, (size, size, 3), dtype=np.uint8))
    if dev.type == "cuda":
        frame = frame.pin_memory()

    def step(f):
        x = f.to(dev, non_blocking=True).permute(2, 0, 1)[None]
        x = (x.half() if half else x.float()).div_(255).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            y = model(x)
        return [d.float().cpu() for d in postprocess(y.float())]
    return step, frame


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default="resources/models/default.pt")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--sizes", type=int, nargs="+", default=[320, 640])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--no-compile", dest="compile", action="store_false", help="skip the torch.compile rows")
    ap.add_argument("--compile-modes", nargs="+", default=["max-autotune-no-cudagraphs", "reduce-overhead"])
    ap.add_argument("--no-onnx", dest="onnx", action="store_false", help="skip the ONNX Runtime rows")
    ap.add_argument("--json")
    a = ap.parse_args()
    dev = torch.device(a.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device: run this on a GPU machine, or pass --device cpu")
    torch.backends.cudnn.benchmark = True
    model, _ = load_model(a.weights)
    model = model.fuse().eval()
    meta = {"weights": a.weights, "params_fused": count_params(model), "torch": torch.__version__,
            "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or platform.machine(),
            "paper_fps": PAPER_FPS}
    meta.update({f"gflops_{s}": round(count_gflops(model, s), 2) for s in a.sizes})
    model = model.to(dev)
    rows, notes = [], []

    def record(name, size, batch, ms):
        rows.append({"config": name, "imgsz": size, "batch": batch, "median_ms": round(ms, 3),
                     "images_per_s": round(batch * 1e3 / ms, 1)})
        print(f"{size} b{batch} {name}: {ms:.2f} ms, {batch * 1e3 / ms:.0f} images/s", flush=True)

    with tempfile.TemporaryDirectory() as tmp, torch.inference_mode():
        for size in a.sizes:
            onnx_path = None
            if a.onnx:
                from core.export.exporter import export_model

                try:  # the GPU machine's own torch and onnx, not ours: a failed export is a note, not the end
                    with torch.inference_mode(False):
                        onnx_path = export_model(a.weights, "onnx", size, out=Path(tmp) / f"m{size}.onnx", check=False,
                                                 log=lambda *_: None).path
                except Exception as e:
                    notes.append(f"ONNX export at {size}: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
            for batch in a.batches:
                fns = torch_rows(model, dev, size, batch, a)
                if onnx_path:
                    ort_fns, why = ort_rows(onnx_path, size, batch, dev)
                    fns.update(ort_fns)
                    if why and why not in notes:
                        notes.append(why)
                for name, (fn, x) in fns.items():
                    try:
                        record(name, size, batch, timed(fn, x, a.runs, a.warmup, dev))
                    except Exception as e:  # one path failing (a compile, a provider) must not lose the others
                        notes.append(f"{name} at {size} b{batch}: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
                        print(notes[-1], flush=True)
            m = copy.deepcopy(model)
            m = (m.half() if dev.type == "cuda" else m).to(memory_format=torch.channels_last)
            step, frame = frame_step(m, dev, size)
            record("frame end to end (upload, normalise, model, NMS, download)", size, 1,
                   timed(step, frame, a.runs, a.warmup, dev))
    print(f"\n{meta['device']}, torch {meta['torch']}, {a.weights}: the paper reports {PAPER_FPS} frames/s")
    print("| configuration | " + " | ".join(f"{s} b{b}" for s in a.sizes for b in a.batches) + " |")
    print("|---|" + "---|" * (len(a.sizes) * len(a.batches)))
    for c in dict.fromkeys(r["config"] for r in rows):
        cells = []
        for s in a.sizes:
            for b in a.batches:
                r = next((r for r in rows if (r["config"], r["imgsz"], r["batch"]) == (c, s, b)), None)
                cells.append("-" if r is None else f"{r['median_ms']:.2f} ms, {r['images_per_s']:.0f}/s")
        print(f"| {c} | " + " | ".join(cells) + " |")
    for n in notes:
        print("note:", n)
    if a.json:
        Path(a.json).write_text(json.dumps({"meta": meta, "rows": rows, "notes": notes}, indent=1))


if __name__ == "__main__":
    main()
