"""A records row's ``model_id`` (``NAME:HASH[@RUNTIME-PRECISION]``, ``core.infer.predictor``) in words.

    describe_model_id("demo:7f0c9bfd7d14@openvino-int8")   # 'demo (weights 7f0c9bfd7d14, OpenVINO INT8)'

NAME is the bundled or registered name the model was chosen by, else its architecture: rows
written before records named models say ``sdgasnet-n:HASH``, and ``known`` (weights hash -> name,
``core.detector.known_models``) names them.
"""
from __future__ import annotations

from collections.abc import Mapping

RUNTIMES = {"pytorch": "PyTorch", "onnxruntime": "ONNX Runtime", "openvino": "OpenVINO"}


def parse_model_id(model_id: str) -> tuple[str, str, str, str]:
    """(name, hash, runtime, precision); runtime "pytorch" and precision "fp32" when not said."""
    head, _, run = str(model_id).partition("@")
    name, _, h = head.partition(":")
    runtime, _, precision = run.partition("-") if run else ("pytorch", "", "fp32")
    return name, h, runtime, precision or "fp32"


def model_name(model_id: str, known: Mapping[str, str] | None = None) -> str:
    name, h, _, _ = parse_model_id(model_id)
    return (known or {}).get(h[:12], name) if h else name


def describe_model_id(model_id: str | None, known: Mapping[str, str] | None = None) -> str:
    if not model_id:
        return "—"
    name, h, runtime, precision = parse_model_id(model_id)
    if not h:
        return str(model_id)
    shown = model_name(model_id, known)
    arch = f"{name}, " if shown != name else ""
    return f"{shown} ({arch}weights {h[:12]}, {RUNTIMES.get(runtime, runtime)} {precision.upper()})"
