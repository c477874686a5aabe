"""Predictor: weights -> detections in original image pixels, with the shared preprocessing."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from core.config import MAX_DET, NMS_IOU, PREDICT_CONF
from core.data.preprocess import Preprocess, scale_boxes
from core.model.checkpoint import load_model
from core.util.device import select_device

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
    """Loads a checkpoint once, fuses it, and runs images through preprocess -> model -> NMS."""

    def __init__(self, weights: str, device: str = "auto", imgsz: int | None = None, conf: float = PREDICT_CONF,
                 iou: float = NMS_IOU, max_det: int = MAX_DET, channels_last: bool | None = None):
        self.device = select_device(device)
        model, ckpt = load_model(weights)
        self.checkpoint_meta = {k: v for k, v in ckpt.items() if k not in ("model", "optimizer", "raw_model", "ema")}
        self.names: list[str] = list(ckpt["names"])
        self.preprocess = Preprocess.from_checkpoint(ckpt, imgsz)  # the spec the model was trained with
        self.imgsz = self.preprocess.imgsz
        self.model_id = f"{ckpt.get('model_config', {}).get('name', 'model')}:{str(ckpt.get('hash', ''))[:12]}"
        self.conf, self.iou, self.max_det = conf, iou, max_det
        self.model = model.fuse().to(self.device)
        # channels-last runs the fused 3x3 convs ~25% faster on CPU (benchmarks/latency.py)
        self.channels_last = self.device.type == "cpu" if channels_last is None else channels_last
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.warm = False

    @torch.no_grad()
    def __call__(self, img: np.ndarray) -> Detections:
        """``img``: BGR uint8 (H, W, 3) as ``core.data.imageio.read_image`` returns."""
        t0 = time.perf_counter()
        x, info = self.preprocess(img)
        x = x[None].to(self.device)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        t1 = time.perf_counter()
        y = self.model(x)
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        t2 = time.perf_counter()
        det = postprocess(y.float(), self.conf, self.iou, self.max_det)[0].cpu()
        boxes = scale_boxes(det[:, :4], info).numpy() if len(det) else np.zeros((0, 4), np.float32)
        t3 = time.perf_counter()
        return Detections(boxes, det[:, 4].numpy(), det[:, 5].numpy().astype(int), self.names,
                          info.orig_w, info.orig_h,
                          {"preprocess": (t1 - t0) * 1e3, "inference": (t2 - t1) * 1e3, "postprocess": (t3 - t2) * 1e3})
