"""One interface over the runtimes that run a model: PyTorch, ONNX Runtime and OpenVINO.

    b = open_backend("model.onnx", device="cpu", threads=2)
    y = b(x)          # x: float32 (B, 3, S, S) in [0, 1]; y: torch float32 (B, A, 4 + nc)
    b.meta            # names, imgsz, preprocess, model_config, metrics, hash, ... (as a checkpoint's)

Every backend takes the same input and returns the same output as ``SDGASNet.forward`` in eval
mode, so preprocessing (``core.data.preprocess``) and post-processing (``core.infer.postprocess``)
are one code path for all of them. An exported model carries its metadata inside it
(``core.export.metadata``); its image size is fixed at export.
"""
from __future__ import annotations

import threading
import json
from pathlib import Path

import numpy as np
import torch

META_KEY = "sdgas"            # the metadata entry in an ONNX file and an OpenVINO model's rt_info
OPENVINO_XML = "model.xml"    # the IR inside an OpenVINO folder


def runtime_of(weights: str | Path) -> str:
    """Which runtime a weights path needs, by what it is: ``.onnx``, an OpenVINO folder (or its
    ``.xml``), else a PyTorch checkpoint."""
    p = Path(weights)
    if p.suffix.lower() == ".onnx":
        return "onnxruntime"
    if p.suffix.lower() == ".xml" or (p.is_dir() and (p / OPENVINO_XML).is_file()):
        return "openvino"
    if p.is_dir():
        raise ValueError(f"{p}: a folder, but not an exported OpenVINO model (no {OPENVINO_XML} in it)")
    return "pytorch"


def _openvino_xml(p: Path) -> Path:
    return p / OPENVINO_XML if p.is_dir() else p


def _parse_meta(text: str | None, where: Path) -> dict:
    if not text:
        raise ValueError(f"{where}: exported without SD-GASNet metadata (class names, image size); "
                         "export it with `python main.py export`")
    try:
        meta = json.loads(text)
    except ValueError:
        raise ValueError(f"{where}: its SD-GASNet metadata is not valid JSON") from None
    for key in ("names", "imgsz", "preprocess"):
        if key not in meta:
            raise ValueError(f"{where}: its SD-GASNet metadata lacks '{key}'")
    return meta


def read_metadata(weights: str | Path) -> dict:
    """The metadata of a weights file or exported model, without building a runtime session."""
    p = Path(weights)
    rt = runtime_of(p)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such weights file or folder")
    if rt == "pytorch":
        from core.model.checkpoint import load_checkpoint, metadata

        return metadata(load_checkpoint(p))
    if rt == "onnxruntime":
        import onnx

        try:
            m = onnx.load(str(p), load_external_data=False)
        except Exception as e:  # noqa: BLE001 - any parse failure is a damaged file for the user
            raise ValueError(f"{p}: not a readable ONNX model ({type(e).__name__})") from None
        props = {q.key: q.value for q in m.metadata_props}
        return _parse_meta(props.get(META_KEY), p)
    xml = _openvino_xml(p)
    side = xml.parent / "metadata.json"
    if side.is_file():
        return _parse_meta(side.read_text(), side)
    import openvino as ov

    model = ov.Core().read_model(str(xml))
    text = model.get_rt_info([META_KEY]).astype(str) if model.has_rt_info([META_KEY]) else None
    return _parse_meta(text, xml)


class Backend:
    """A loaded model on one runtime. ``__call__`` maps the model input to the eval output."""

    runtime = "?"

    def __init__(self, weights: Path, meta: dict, device: str):
        self.weights, self.meta, self.device = weights, meta, device
        self.names: list[str] = list(meta["names"])
        self.fixed_imgsz: int | None = None     # exported models run at the size they were exported at

    def __call__(self, x: torch.Tensor | np.ndarray) -> torch.Tensor:
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.runtime} on {self.device}"


class TorchBackend(Backend):
    """A checkpoint, re-parameterised (``fuse``), channels-last on the CPU."""

    runtime = "pytorch"

    def __init__(self, weights: Path, device: str = "auto", threads: int = 0, channels_last: bool | None = None,
                 checkpoint: dict | None = None):
        """``checkpoint``: the file's contents when the caller has loaded (and verified) it already."""
        from core.model.checkpoint import load_checkpoint, metadata, model_from_checkpoint
        from core.util.device import select_device

        dev = select_device(device)
        ck = checkpoint if checkpoint is not None else load_checkpoint(weights)
        model = model_from_checkpoint(ck, weights)
        super().__init__(weights, metadata(ck), str(dev))
        if threads:
            torch.set_num_threads(threads)
        self.torch_device = dev
        self.model = model.fuse().to(dev)
        # channels-last runs the fused 3x3 convs ~25% faster on CPU (benchmarks/latency.py)
        self.channels_last = dev.type == "cpu" if channels_last is None else channels_last
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)

    @torch.no_grad()
    def __call__(self, x):
        x = torch.as_tensor(x).to(self.torch_device)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        y = self.model(x)
        if self.torch_device.type == "cuda":
            torch.cuda.synchronize()
        return y.float().cpu()


class OnnxBackend(Backend):
    """An exported ``.onnx`` file on ONNX Runtime (CPU, or CUDA where its provider is installed)."""

    runtime = "onnxruntime"

    def __init__(self, weights: Path, device: str = "auto", threads: int = 0):
        import onnxruntime as ort

        meta = read_metadata(weights)
        have = ort.get_available_providers()
        if str(device).startswith("cuda"):
            if "CUDAExecutionProvider" not in have:
                raise ValueError("ONNX Runtime's CUDA provider is not installed here (use --device cpu)")
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        elif device in ("auto", None, "") and "CUDAExecutionProvider" in have:
            providers = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        elif device in ("cpu", "auto", None, ""):
            providers = ["CPUExecutionProvider"]
        else:
            raise ValueError(f"unknown device '{device}' for ONNX Runtime (cpu, cuda or auto)")
        so = ort.SessionOptions()
        if threads:
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
        so.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(weights), so, providers=providers)
        except Exception as e:  # noqa: BLE001 - ORT raises its own types for a damaged graph
            raise ValueError(f"{weights}: ONNX Runtime cannot load it ({str(e).splitlines()[0][:200]})") from None
        used = self.session.get_providers()[0]
        super().__init__(weights, meta, "cuda" if used.startswith("CUDA") else "cpu")
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_dtype = np.float16 if "float16" in inp.type else np.float32
        self.fixed_imgsz = int(meta["imgsz"])

    def __call__(self, x):
        x = x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        y = self.session.run(None, {self.input_name: np.ascontiguousarray(x, dtype=self.input_dtype)})[0]
        return torch.from_numpy(np.asarray(y, dtype=np.float32))


class OpenVinoBackend(Backend):
    """An exported OpenVINO folder (``model.xml`` + ``model.bin``) on OpenVINO's runtime.

    An fp32 export runs in f32 (OpenVINO would otherwise pick bf16 on CPUs that have it, which
    moves scores by ~1e-2); a ``--half`` export lets the CPU use bf16 or f16 where it has them.
    """

    runtime = "openvino"

    def __init__(self, weights: Path, device: str = "auto", threads: int = 0):
        import openvino as ov

        meta = read_metadata(weights)
        dev = {"auto": "CPU", "": "CPU", "cpu": "CPU"}.get(str(device or "").lower(), str(device).upper())
        if dev.startswith("CUDA"):
            raise ValueError("OpenVINO runs on cpu, gpu (Intel) or npu, not cuda")
        core = ov.Core()
        if dev.split(".")[0] not in core.available_devices and dev not in core.available_devices:
            raise ValueError(f"OpenVINO device '{device}' is not here (available: {', '.join(core.available_devices)})")
        cfg = {"PERFORMANCE_HINT": "LATENCY"}
        if threads:
            cfg["INFERENCE_NUM_THREADS"] = threads
        if meta.get("precision", "fp32") == "fp32" and dev == "CPU":
            cfg["INFERENCE_PRECISION_HINT"] = "f32"
        try:
            self.compiled = core.compile_model(str(_openvino_xml(weights)), dev, cfg)
        except Exception as e:  # noqa: BLE001 - OpenVINO raises RuntimeError with a long text
            raise ValueError(f"{weights}: OpenVINO cannot load it ({str(e).splitlines()[0][:200]})") from None
        super().__init__(weights, meta, dev.lower())
        self.request = self.compiled.create_infer_request()
        self._lock = threading.Lock()    # one request: predictors on two threads take turns
        self.fixed_imgsz = int(meta["imgsz"])

    def __call__(self, x):
        x = x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        with self._lock:
            y = self.request.infer({0: np.ascontiguousarray(x, dtype=np.float32)})
            return torch.from_numpy(np.array(y[self.compiled.output(0)], dtype=np.float32))


def open_backend(weights: str | Path, device: str = "auto", threads: int = 0, imgsz: int | None = None,
                 channels_last: bool | None = None, checkpoint: dict | None = None) -> Backend:
    """The backend for ``weights`` (a checkpoint, ``.onnx`` or OpenVINO folder). ``threads``: 0
    leaves the runtime's default. An exported model runs at its exported size only. ``checkpoint``:
    a checkpoint's contents already loaded (not read again)."""
    p = Path(weights)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such weights file or folder")
    rt = runtime_of(p)
    if rt == "pytorch":
        return TorchBackend(p, device, threads, channels_last, checkpoint)
    b = OnnxBackend(p, device, threads) if rt == "onnxruntime" else OpenVinoBackend(p, device, threads)
    if imgsz and int(imgsz) != b.fixed_imgsz:
        raise ValueError(f"{p}: exported at {b.fixed_imgsz} px; it cannot run at {imgsz} "
                         f"(export again with --imgsz {imgsz}, or drop --imgsz)")
    return b
