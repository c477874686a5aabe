"""Batch-1 CPU latency of SD-GASNet (unfused, fused, fused channels-last) against a
YOLOv8n-sized reference network, measured in one run with fixed threads.

    python benchmarks/latency.py --threads 2 --sizes 320 640 --runs 30

Each configuration is warmed up, then timed ``--runs`` times, interleaved round-robin so that
drift on a shared machine hits every configuration alike; the median is reported.
"""
from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.model import build_model, count_gflops, count_params  # noqa: E402
from yolov8n_ref import YOLOv8nRef  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="sdgasnet-n")
    ap.add_argument("--classes", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--sizes", type=int, nargs="+", default=[320, 640])
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--variants", nargs="+", default=["eager", "cl", "jit", "bf16"])
    ap.add_argument("--json")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    unfused = build_model(a.model, a.classes).eval()
    fused = build_model(a.model, a.classes).eval()
    fused.load_state_dict(unfused.state_dict())
    fused.fuse()
    ref = YOLOv8nRef(nc=a.classes).eval()
    # (model, variant): "eager" fp32, "cl" channels-last fp32, "jit" traced + frozen +
    # optimize_for_inference fp32, "bf16" channels-last bfloat16 (CPUs with AVX512-BF16/AMX).
    models = {f"{a.model} unfused": (unfused, "eager")}
    for tag, net in ((f"{a.model} fused", fused), ("YOLOv8n-sized reference", ref)):
        for variant in a.variants:
            models[f"{tag} [{variant}]"] = (net, variant)
    rows = []
    for s in a.sizes:
        inputs = {}
        for name, (m, variant) in models.items():
            x = torch.rand(1, 3, s, s)
            if variant == "cl":
                m = copy.deepcopy(m).to(memory_format=torch.channels_last)
                x = x.contiguous(memory_format=torch.channels_last)
            elif variant == "bf16":
                m = copy.deepcopy(m).to(torch.bfloat16).to(memory_format=torch.channels_last)
                x = x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
            elif variant == "jit":
                with torch.inference_mode(), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    m = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(m, x)))
            inputs[name] = (m, x)
        times = {n: [] for n in models}
        with torch.inference_mode():
            for n, (m, x) in inputs.items():
                for _ in range(3):
                    m(x)
            for _ in range(a.runs):
                for n, (m, x) in inputs.items():
                    t = time.perf_counter()
                    m(x)
                    times[n].append((time.perf_counter() - t) * 1000)
        for name, (m, variant) in models.items():
            rows.append({"config": name, "imgsz": s, "median_ms": round(statistics.median(times[name]), 2),
                         "p90_ms": round(sorted(times[name])[int(0.9 * (len(times[name]) - 1))], 2),
                         "params_M": round(count_params(m) / 1e6, 3), "gflops": round(count_gflops(m, s), 2)})

    print(f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"threads {a.threads}, runs {a.runs}")
    print("| configuration | imgsz | params (M) | GFLOPs | median ms | p90 ms |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['config']} | {r['imgsz']} | {r['params_M']} | {r['gflops']} | {r['median_ms']} | {r['p90_ms']} |")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
