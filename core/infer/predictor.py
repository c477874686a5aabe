"""Predictor: weights -> detections in original image pixels, with the shared preprocessing."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from core.config import MAX_DET, NMS_IOU, PREDICT_CONF
from core.data.preprocess import Preprocess, scale_boxes

from .backends import open_backend
from .postprocess import postprocess


@dataclass
class Detections:
    """Detections of one image, in original pixels."""
    boxes: np.ndarray        # (n, 4) x1 y1 x2 y2
    scores: np.ndarray       # (n,)
    classes: np.ndarray      # (n,) int
    names: list[str]
    width: int
    height: int
    timings: dict = field(default_factory=dict)  # ms: preprocess, inference, postprocess

    def __len__(self):
        return len(self.scores)

    def to_json(self, image: str) -> dict:
        return {"image": image, "width": self.width, "height": self.height,
                "detections": [{"class_id": int(c), "class_name": self.names[int(c)], "score": round(float(s), 5),
                                "box": [round(float(v), 2) for v in b]}
                               for b, s, c in zip(self.boxes, self.scores, self.classes)]}


class Predictor:
    """Loads a model once (``core.infer.backends``: a fused checkpoint, ONNX or OpenVINO) and runs
    images through preprocess -> model -> NMS."""

    def __init__(self, weights: str, device: str = "auto", imgsz: int | None = None, conf: float = PREDICT_CONF,
                 iou: float = NMS_IOU, max_det: int = MAX_DET, channels_last: bool | None = None, threads: int = 0,
                 backend=None, name: str | None = None):
        """``name``: what records call the model (a bundled or registered name); default its architecture."""
        self.backend = backend or open_backend(weights, device, threads, imgsz, channels_last)
        meta = self.backend.meta
        self.checkpoint_meta = meta
        self.names: list[str] = list(meta["names"])
        self.preprocess = Preprocess.from_checkpoint(meta, imgsz)  # the spec the model was trained with
        self.imgsz = self.preprocess.imgsz
        self.model_id = f"{name or meta.get('model_config', {}).get('name', 'model')}:{str(meta.get('hash', ''))[:12]}"
        if self.backend.runtime != "pytorch":   # the same weights on another runtime are told apart in records
            self.model_id += f"@{self.backend.runtime}-{meta.get('precision', 'fp32')}"
        self.conf, self.iou, self.max_det = conf, iou, max_det
        self.device = self.backend.device
        self.runtime = self.backend.runtime
        self.warm = False

    @classmethod
    def of_backend(cls, backend, imgsz: int | None = None, conf: float = PREDICT_CONF, iou: float = NMS_IOU,
                   max_det: int = MAX_DET, name: str | None = None) -> "Predictor":
        """A predictor over a backend already loaded."""
        return cls(str(backend.weights), imgsz=imgsz, conf=conf, iou=iou, max_det=max_det, backend=backend, name=name)

    @property
    def model(self):
        """The fused torch module (PyTorch backend only)."""
        return getattr(self.backend, "model", None)

    def __call__(self, img: np.ndarray, conf: float | None = None) -> Detections:
        """``img``: BGR uint8 (H, W, 3) as ``core.data.imageio.read_image`` returns; ``conf``: keep
        detections from this score for this call (default: ``self.conf``), so that a caller whose
        floor changes (an inspection whose recipe is switched) shares no mutable threshold."""
        t0 = time.perf_counter()
        x, info = self.preprocess(img)
        t1 = time.perf_counter()
        y = self.backend(x[None])
        t2 = time.perf_counter()
        det = postprocess(y, self.conf if conf is None else conf, self.iou, self.max_det)[0]
        boxes = scale_boxes(det[:, :4], info).numpy() if len(det) else np.zeros((0, 4), np.float32)
        t3 = time.perf_counter()
        return Detections(boxes, det[:, 4].numpy(), det[:, 5].numpy().astype(int), self.names,
                          info.orig_w, info.orig_h,
                          {"preprocess": (t1 - t0) * 1e3, "inference": (t2 - t1) * 1e3, "postprocess": (t3 - t2) * 1e3})
