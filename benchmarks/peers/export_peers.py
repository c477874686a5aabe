"""Export the peers with the real Ultralytics package, as a user would (``model.export``), for
``benchmarks/latency.py`` to time beside ours in one process. Runs in benchmarks/peers/.venv.

    benchmarks/peers/.venv/bin/python benchmarks/peers/export_peers.py --sizes 320 640 --classes 6 --out DIR

Writes DIR/{name}_{size}.onnx and DIR/{name}_{size}_openvino_model/ (dynamic batch; with
``--int8-data`` also DIR/{name}_{size}_int8_openvino_model/), randomly
initialised from the model YAML (no download: latency does not depend on the weights' values),
and DIR/peers.json with their parameters and the PyTorch eager latency measured here (this
environment's torch build), batch 1.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

import torch


def yaml_with_classes(name: str, nc: int, folder: Path) -> Path:
    """The package's model YAML with ``nc`` classes, saved as NAME.yaml (the scale is read from the
    name: yolo26n -> n), so the peers' heads match ours (6 classes, not COCO's 80)."""
    import re

    import yaml
    from ultralytics.utils.checks import check_yaml

    family = re.sub(r"([nslmx])$", "", name)          # yolo26n -> yolo26
    d = yaml.safe_load(Path(check_yaml(f"{family}.yaml")).read_text())
    d["nc"] = nc
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / f"{name}.yaml"
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=["yolo26n", "yolo11n"])
    ap.add_argument("--sizes", type=int, nargs="+", default=[320, 640])
    ap.add_argument("--classes", type=int, default=6)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--out", required=True)
    ap.add_argument("--int8-data", help="a data.yaml: also an OpenVINO INT8 export (Ultralytics' own NNCF path, "
                                        "calibrated on its training images)")
    a = ap.parse_args()
    import ultralytics
    from ultralytics import YOLO

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    info = {"ultralytics": ultralytics.__version__, "torch": torch.__version__, "models": {}}
    for name in a.models:
        for size in a.sizes:
            cfg = yaml_with_classes(name, a.classes, out / "cfg")
            for fmt in ("onnx", "openvino"):
                y = YOLO(str(cfg))
                f = Path(y.export(format=fmt, imgsz=size, dynamic=True, simplify=True, half=False, verbose=False))
                dst = out / (f"{name}_{size}.onnx" if fmt == "onnx" else f"{name}_{size}_openvino_model")
                if dst.exists():
                    shutil.rmtree(dst) if dst.is_dir() else dst.unlink()
                shutil.move(str(f), dst)
            if a.int8_data:
                f = Path(YOLO(str(cfg)).export(format="openvino", imgsz=size, dynamic=True, int8=True,
                                               data=a.int8_data, fraction=0.1, verbose=False))
                dst = out / f"{name}_{size}_int8_openvino_model"
                shutil.rmtree(dst, ignore_errors=True)
                shutil.move(str(f), dst)
            from ultralytics.nn.tasks import DetectionModel

            m = DetectionModel(str(cfg), nc=a.classes, verbose=False).eval()
            m = m.fuse(verbose=False) if hasattr(m, "fuse") else m
            x = torch.rand(1, 3, size, size)
            eager = {}
            for th in a.threads:
                torch.set_num_threads(th)
                mc = m.to(memory_format=torch.channels_last)
                xc = x.contiguous(memory_format=torch.channels_last)
                with torch.no_grad():
                    for _ in range(3):
                        mc(xc)
                    ts = []
                    for _ in range(a.runs):
                        t = time.perf_counter()
                        mc(xc)
                        ts.append((time.perf_counter() - t) * 1e3)
                eager[str(th)] = round(statistics.median(ts), 2)
            info["models"][f"{name}_{size}"] = {"params": sum(p.numel() for p in m.parameters()),
                                                "pytorch_cl_ms_batch1": eager}
            print(name, size, eager, flush=True)
    (out / "peers.json").write_text(json.dumps(info, indent=1))


if __name__ == "__main__":
    main()
