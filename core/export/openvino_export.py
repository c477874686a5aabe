"""An ONNX export to an OpenVINO folder (``model.xml``, ``model.bin``, ``metadata.json``)."""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from core.infer.backends import META_KEY, OPENVINO_XML


def to_openvino(onnx_path: Path, meta: dict):
    """An ``openvino.Model`` of an ONNX file, the metadata in its rt_info."""
    import openvino as ov

    m = ov.convert_model(str(onnx_path))
    m.set_rt_info(json.dumps(meta), [META_KEY])
    return m


def save_openvino(model, meta: dict, out: Path, half: bool = False) -> Path:
    """Write the folder whole or not at all: built beside ``out``, then swapped in."""
    import openvino as ov

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        model.set_rt_info(json.dumps(meta), [META_KEY])
        ov.save_model(model, str(tmp / OPENVINO_XML), compress_to_fp16=half)
        (tmp / "metadata.json").write_text(json.dumps(meta, indent=1))
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
        tmp.rename(out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
