"""CPU latency of every deployable path of SD-GASNet against the peers Ultralytics exports, in one run.

    benchmarks/peers/setup.sh
    benchmarks/peers/.venv/bin/python benchmarks/peers/export_peers.py --out ../bench_runs/peers_export
    python benchmarks/latency.py --peers ../bench_runs/peers_export --data ../shared/data/neu-det \
        --json ../bench_runs/latency.json

Ours: PyTorch eager (unfused), fused, fused channels-last; ONNX Runtime fp32; OpenVINO fp32, bf16
(the fp32 IR compiled with a bf16 hint, on CPUs that have it) and INT8 (NNCF, calibrated on
``--data``). Peers: YOLO26n and YOLO11n as ``export_peers.py`` wrote them with the real
``ultralytics`` package, on the same ONNX Runtime and OpenVINO as ours. For each image size,
batch and thread count, every configuration is warmed up, then timed ``--runs`` times
round-robin, so drift on a shared machine hits all alike; medians are reported. Forward only
(no pre- or post-processing); the live pipeline's frames/s per backend are measured at the end.
``--variants`` times candidate architectures (ModelConfig overrides, random weights) beside them.
"""
from __future__ import annotations

import argparse
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

from core.export.exporter import export_model  # noqa: E402
from core.infer.backends import open_backend  # noqa: E402
from core.model import count_gflops, count_params  # noqa: E402
from core.model.checkpoint import load_model  # noqa: E402


def ort_session(path, threads):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads, so.log_severity_level = threads, 1, 3
    s = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    return lambda x: s.run(None, {name: x})


def ov_compiled(path, threads, precision="f32"):
    import openvino as ov

    xml = Path(path) / "model.xml" if Path(path).is_dir() else Path(path)
    if not xml.exists():
        xml = next(Path(path).glob("*.xml"))
    cm = ov.Core().compile_model(str(xml), "CPU", {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY",
                                                   "INFERENCE_PRECISION_HINT": precision})
    req = cm.create_infer_request()
    return lambda x: req.infer({0: x})


def torch_fn(model, channels_last):
    if channels_last:
        model = model.to(memory_format=torch.channels_last)

    def run(x):
        t = torch.from_numpy(x)
        if channels_last:
            t = t.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            return model(t)
    return run


def variant_weights(base: str, spec: str, out: Path) -> tuple[str, Path]:
    """``spec`` "NAME=key:value,key:value" (ModelConfig fields): a checkpoint of the base weights'
    classes, image size and preprocessing with that architecture and random weights, for timing
    a candidate before it is trained (latency does not depend on the weights' values)."""
    import yaml

    from core.model import build_from_config
    from core.model.checkpoint import load_checkpoint, save_checkpoint

    name, _, kvs = spec.partition("=")
    overrides = {k: yaml.safe_load(v) for k, v in (kv.split(":", 1) for kv in kvs.split(",") if kv)}
    ck = load_checkpoint(base)
    m = build_from_config({**ck["model_config"], **overrides})
    path = out / f"variant_{name}.pt"
    save_checkpoint(path, m.state_dict(), {"names": ck["names"], "imgsz": ck["imgsz"],
                                           "model_config": m.cfg.to_dict(), "preprocess": ck["preprocess"]})
    return name, path


def time_group(fns: dict, x: np.ndarray, runs: int, warmup: int = 3) -> dict:
    for f in fns.values():
        for _ in range(warmup):
            f(x)
    times = {n: [] for n in fns}
    for _ in range(runs):
        for n, f in fns.items():
            t = time.perf_counter()
            f(x)
            times[n].append((time.perf_counter() - t) * 1e3)
    return {n: statistics.median(v) for n, v in times.items()}


def pipeline_fps(paths: dict, threads: int, frames: int) -> dict:
    """The live pipeline on the demo line, as fast as it goes, per backend (pre + model + NMS + judging)."""
    from core.detector import Detector

    out = {}
    for name, p in paths.items():
        with tempfile.TemporaryDirectory() as tmp:
            s = Detector(str(p), "cpu", threads=threads).inspect("demo", db=str(Path(tmp) / "r.sqlite"),
                                                                 max_frames=frames, demo_fps=0)
            s.start()
            s.wait(600)
            s.stop()
            sm = s.snapshot().summary
            out[name] = {"fps": round(sm["fps"], 1), "median_ms": round(sm["median_total_ms"], 1),
                         "model_ms": round(sm["median_inference_ms"], 1)}
        print(f"pipeline {name}: {out[name]}", flush=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default="resources/models/default.pt")
    ap.add_argument("--data", help="INT8 calibration images (training split); without it no INT8 row")
    ap.add_argument("--peers", help="export_peers.py's folder; without it no peer rows")
    ap.add_argument("--sizes", type=int, nargs="+", default=[320, 640])
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--calib", type=int, default=100, help="INT8 calibration images")
    ap.add_argument("--pipeline-frames", type=int, default=150, help="0: skip the live-pipeline figures")
    ap.add_argument("--work", help="where the exports go (default: a temporary folder)")
    ap.add_argument("--variants", nargs="*", default=[], metavar="NAME=KEY:VALUE,…",
                    help="candidate architectures at random weights, e.g. t=width:0.1875,depth:0.2 (OpenVINO rows only)")
    ap.add_argument("--no-pytorch", action="store_true", help="skip the PyTorch and ONNX Runtime rows of ours")
    ap.add_argument("--json")
    a = ap.parse_args()
    work = Path(a.work or tempfile.mkdtemp(prefix="latency_"))
    work.mkdir(parents=True, exist_ok=True)
    variants = dict(variant_weights(a.weights, v, work) for v in a.variants)
    import openvino as ov

    has_bf16 = "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    peers = json.loads((Path(a.peers) / "peers.json").read_text()) if a.peers else None
    rows, meta = [], {"machine": platform.processor() or platform.machine(), "torch": torch.__version__,
                      "cpu_bf16": has_bf16, "peers": peers and {k: v for k, v in peers.items() if k != "models"}}
    for size in a.sizes:
        exports = {"onnx": export_model(a.weights, "onnx", size, out=work / f"ours_{size}.onnx", check=False, log=print).path,
                   "ov": export_model(a.weights, "openvino", size, out=work / f"ours_{size}_ov", check=False, log=print).path}
        if a.data:
            exports["int8"] = export_model(a.weights, "openvino", size, int8=True, data=a.data, calib_images=a.calib,
                                           out=work / f"ours_{size}_int8_ov", check=False, log=print).path
        vexp = {}
        for vn, vw in variants.items():
            vexp[vn] = {"ov": export_model(str(vw), "openvino", size, out=work / f"{vn}_{size}_ov", check=False,
                                           log=print).path}
            if a.data:
                vexp[vn]["int8"] = export_model(str(vw), "openvino", size, int8=True, data=a.data, calib_images=a.calib,
                                                out=work / f"{vn}_{size}_int8_ov", check=False, log=print).path
            fv, _ = load_model(str(vw))
            meta[f"variant_{vn}"] = {"spec": next(v for v in a.variants if v.startswith(vn + "=")),
                                     "params_fused": count_params(fv.fuse()), f"gflops_{size}": round(count_gflops(fv, size), 2),
                                     **meta.get(f"variant_{vn}", {})}
        unfused, _ = load_model(a.weights)
        unfused.eval()
        fused, _ = load_model(a.weights)
        fused = fused.fuse().eval()
        gfl = round(count_gflops(fused, size), 2)
        for threads in a.threads:
            torch.set_num_threads(threads)
            fns = {} if a.no_pytorch else {
                "SD-GASNet-n PyTorch eager": torch_fn(unfused, False),
                "SD-GASNet-n PyTorch fused": torch_fn(fused, False),
                "SD-GASNet-n PyTorch fused channels-last": torch_fn(fused, True),
                "SD-GASNet-n ONNX Runtime fp32": ort_session(exports["onnx"], threads)}
            fns["SD-GASNet-n OpenVINO fp32"] = ov_compiled(exports["ov"], threads)
            if has_bf16:
                fns["SD-GASNet-n OpenVINO bf16"] = ov_compiled(exports["ov"], threads, "bf16")
            if "int8" in exports:
                fns["SD-GASNet-n OpenVINO INT8"] = ov_compiled(exports["int8"], threads)
            for vn, ex in vexp.items():
                if has_bf16:
                    fns[f"variant {vn} OpenVINO bf16"] = ov_compiled(ex["ov"], threads, "bf16")
                if "int8" in ex:
                    fns[f"variant {vn} OpenVINO INT8"] = ov_compiled(ex["int8"], threads)
            if a.peers:
                for name in ("yolo26n", "yolo11n"):
                    p = Path(a.peers)
                    if not (p / f"{name}_{size}.onnx").is_file():  # export_peers.py --models chose fewer
                        continue
                    label = {"yolo26n": "YOLO26n", "yolo11n": "YOLO11n"}[name]
                    fns[f"{label} ONNX Runtime fp32"] = ort_session(p / f"{name}_{size}.onnx", threads)
                    fns[f"{label} OpenVINO fp32"] = ov_compiled(p / f"{name}_{size}_openvino_model", threads)
                    if has_bf16:
                        fns[f"{label} OpenVINO bf16"] = ov_compiled(p / f"{name}_{size}_openvino_model", threads, "bf16")
                    if (p / f"{name}_{size}_int8_openvino_model").is_dir():
                        fns[f"{label} OpenVINO INT8"] = ov_compiled(p / f"{name}_{size}_int8_openvino_model", threads)
            for batch in a.batches:
                x = np.random.default_rng(0).random((batch, 3, size, size), dtype=np.float32)
                med = time_group(fns, x, a.runs if batch == 1 else max(5, a.runs // 3))
                for n, ms in med.items():
                    rows.append({"config": n, "imgsz": size, "batch": batch, "threads": threads,
                                 "median_ms": round(ms, 2), "ms_per_image": round(ms / batch, 2)})
                    print(f"{size} b{batch} t{threads} {n}: {ms:.1f} ms", flush=True)
        meta[f"sdgasnet_gflops_{size}"] = gfl
        meta["sdgasnet_params_fused"] = count_params(fused)
    pipe = {}
    if a.pipeline_frames:
        own = {"PyTorch (.pt)": a.weights, "ONNX Runtime": export_model(a.weights, "onnx", out=work / "own.onnx",
                                                                         check=False, log=print).path,
               "OpenVINO fp32": export_model(a.weights, "openvino", out=work / "own_ov", check=False, log=print).path}
        if a.data:
            own["OpenVINO INT8"] = export_model(a.weights, "openvino", int8=True, data=a.data, calib_images=a.calib,
                                                out=work / "own_int8_ov", check=False, log=print).path
        pipe = pipeline_fps(own, max(a.threads), a.pipeline_frames)
    print_table(rows, a)
    if a.json:
        Path(a.json).write_text(json.dumps({"meta": meta, "rows": rows, "pipeline": pipe,
                                            "peers_pytorch": peers and peers.get("models")}, indent=1))


def print_table(rows, a):
    configs = list(dict.fromkeys(r["config"] for r in rows))
    cols = [(s, b, t) for s in a.sizes for b in a.batches for t in a.threads]
    print("| configuration | " + " | ".join(f"{s} b{b} t{t}" for s, b, t in cols) + " |")
    print("|---|" + "---|" * len(cols))
    for c in configs:
        cells = []
        for s, b, t in cols:
            r = next((r for r in rows if (r["config"], r["imgsz"], r["batch"], r["threads"]) == (c, s, b, t)), None)
            cells.append("-" if r is None else f"{r['median_ms']:.1f}")
        print(f"| {c} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
