"""The fused model to an ONNX file: static image size, dynamic batch, metadata inside."""
from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import torch

from core.infer.backends import META_KEY
from core.util.io import atomic_write_bytes

OPSET = 18


def export_onnx(model: torch.nn.Module, meta: dict, imgsz: int, out: Path, half: bool = False,
                max_batch: int = 64) -> Path:
    """Write ``model`` (fused, eval) as ONNX to ``out``. ``half`` stores fp16 weights and compute
    with float32 input and output (for GPUs; ONNX Runtime's CPU provider lacks fp16 kernels)."""
    import onnx

    model = model.eval().float()
    x = torch.rand(2, 3, imgsz, imgsz)
    batch = torch.export.Dim("batch", min=1, max=max_batch)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "model.onnx"
        # the exporter prints progress lines and warnings of its own; a failure still raises
        with warnings.catch_warnings(), open(os.devnull, "w") as null, redirect_stdout(null), redirect_stderr(null):
            warnings.simplefilter("ignore")
            logging.getLogger("torch.onnx").setLevel(logging.ERROR)
            torch.onnx.export(model, (x,), str(raw), dynamo=True, opset_version=OPSET, input_names=["images"],
                              output_names=["output"], dynamic_shapes={"x": {0: batch}}, optimize=True,
                              external_data=False)
        m = onnx.load(str(raw))
    if half:
        from onnxruntime.transformers.float16 import convert_float_to_float16

        m = convert_float_to_float16(m, keep_io_types=True)
    return write_onnx(m, meta, out)


def write_onnx(m, meta: dict, out: Path) -> Path:
    """A ``ModelProto`` to ``out`` atomically, with the metadata (``META_KEY``) in it."""
    import onnx

    del m.metadata_props[:]
    for k, v in {META_KEY: json.dumps(meta), "names": json.dumps(meta["names"]), "imgsz": str(meta["imgsz"]),
                 "producer": "SD-GASNet Inspector"}.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    m.producer_name = "sdgas"
    onnx.checker.check_model(m)
    atomic_write_bytes(out, m.SerializeToString())
    return out
