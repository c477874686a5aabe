"""``export``: a checkpoint to ONNX or OpenVINO (fp32, fp16 or INT8), then the parity check."""
from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.model.architecture import check_imgsz
from core.infer.backends import open_backend, runtime_of

from .metadata import export_metadata
from .parity import Parity, compare, parity_images

FORMATS = ("onnx", "openvino")


@dataclass
class ExportResult:
    path: Path
    format: str
    precision: str
    imgsz: int
    seconds: float
    parity: Parity | None = None
    accuracy: dict = field(default_factory=dict)   # INT8 with --data: mAP50 of fp32 and INT8 on val

    def to_json(self) -> dict:
        return {"path": str(self.path), "format": self.format, "precision": self.precision, "imgsz": self.imgsz,
                "seconds": round(self.seconds, 1), "parity": vars(self.parity) if self.parity else None,
                "accuracy": self.accuracy}


def default_out(weights: Path, fmt: str, tag: str) -> Path:
    """Beside the weights, as Ultralytics names them: best.onnx, best_openvino_model/."""
    stem = weights.stem + (f"_{tag}" if tag else "")
    return weights.with_name(f"{stem}.onnx" if fmt == "onnx" else f"{stem}_openvino_model")


def check_request(weights: Path, fmt: str, imgsz: int | None, half: bool, int8: bool, data: str | None):
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format '{fmt}' (onnx or openvino)")
    if runtime_of(weights) != "pytorch":
        raise ValueError(f"{weights}: already exported; export from the .pt checkpoint it came from")
    if imgsz is not None:
        check_imgsz(imgsz)
    if half and int8:
        raise ValueError("--half and --int8 exclude each other")
    if int8 and not data:
        raise ValueError("--int8 needs --data D: its training images calibrate the quantization")


def export_model(weights: str | Path, fmt: str = "onnx", imgsz: int | None = None, half: bool = False,
                 int8: bool = False, data: str | None = None, out: str | Path | None = None, log=print,
                 check: bool = True, calib_images: int = 300) -> ExportResult:
    """Export ``weights`` and check it: ``check`` sends the same images through source and export."""
    import torch

    from core.model import count_gflops, count_params
    from core.model.checkpoint import load_model, metadata

    t0 = time.time()
    weights = Path(weights)
    check_request(weights, fmt, imgsz, half, int8, data)
    model, ck = load_model(weights)
    meta_ck = metadata(ck)
    size = int(imgsz or ck.get("imgsz", 640))
    model = model.fuse().eval()
    precision = "int8" if int8 else "fp16" if half else "fp32"
    meta = export_metadata(meta_ck, size, fmt, precision, str(weights), count_params(model),
                           round(count_gflops(model, size), 3))
    out = Path(out) if out else default_out(weights, fmt, "int8" if int8 else "fp16" if half else "")
    log(f"exporting {weights} ({meta.get('model_config', {}).get('name')}, {len(meta['names'])} classes) "
        f"to {fmt} {precision} at {size} px")
    from core.data.preprocess import Preprocess

    pre = Preprocess.from_checkpoint(meta, size)
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = out if fmt == "onnx" and not int8 else Path(tmp) / "model.onnx"
        from .onnx_export import export_onnx

        with torch.no_grad():
            export_onnx(model, meta, size, onnx_path, half=half and fmt == "onnx")
        if int8:
            from .quantize import calibration_images, quantize_int8

            calib = calibration_images(data, pre, calib_images, log=log)
        if fmt == "onnx" and int8:
            import onnx

            from .onnx_export import write_onnx

            write_onnx(quantize_int8(onnx.load(str(onnx_path)), calib), meta, out)
        elif fmt == "openvino":
            from .openvino_export import save_openvino, to_openvino

            ov_model = to_openvino(onnx_path, meta)
            if int8:
                ov_model = quantize_int8(ov_model, calib)
            save_openvino(ov_model, meta, out, half=half)
    res = ExportResult(out, fmt, precision, size, 0.0)
    log(f"wrote {out}")
    if check:
        res.parity = check_parity(weights, out, pre, data, log)
        if int8 and data:
            res.accuracy = int8_accuracy(weights, out, data, size, log)
    res.seconds = time.time() - t0
    return res


def check_parity(weights: Path, out: Path, pre, data: str | None, log=print) -> Parity | None:
    src = open_backend(weights, "cpu", channels_last=False)
    try:
        exp = open_backend(out, "cpu")
    except ValueError as e:  # fp16 ONNX on a CPU-only ONNX Runtime: exported, not runnable here
        log(f"parity not checked: {e}")
        return None
    if not data:  # the data the weights were trained on, where it is still here
        d = (src.meta.get("train_args") or {}).get("data")
        data = d if d and Path(d).exists() else None
    imgs, where = parity_images(pre, data)
    p = compare(src, exp, imgs, where)
    log(p.line())
    return p


def int8_accuracy(weights: Path, out: Path, data: str, imgsz: int, log=print) -> dict:
    """mAP50 and mAP50-95 on the validation split, fp32 source against the INT8 export."""
    from core.data.catalog import open_dataset
    from core.data.preprocess import Preprocess
    from core.data.validate import validate
    from core.eval.validator import run_validation

    samples, _ = validate(open_dataset(data), "val")

    def score(w, **kw):
        b = open_backend(w, "cpu", **kw)
        pre = Preprocess.from_checkpoint(b.meta, imgsz)
        res, _ = run_validation(getattr(b, "model", b), samples, b.names, imgsz, preprocess=pre)
        return res.to_json()

    a, b = score(weights, channels_last=False), score(out)
    acc = {"fp32": {"map50": a["map50"], "map50_95": a["map50_95"]},
           "int8": {"map50": b["map50"], "map50_95": b["map50_95"]}}
    log(f"accuracy on {data} val: fp32 mAP50 {a['map50']:.4f} mAP50-95 {a['map50_95']:.4f}; "
        f"INT8 mAP50 {b['map50']:.4f} mAP50-95 {b['map50_95']:.4f} (Δ mAP50 {b['map50'] - a['map50']:+.4f})")
    return acc
