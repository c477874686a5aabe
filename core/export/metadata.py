"""What an exported model says of itself: enough for ``predict``, ``val`` and ``inspect`` to run it
with the same preprocessing and thresholds as its checkpoint (``core.infer.backends.read_metadata``)."""
from __future__ import annotations

import time

from core.config import NMS_IOU, PREDICT_CONF
from core.data.preprocess import Preprocess
from core.util.version import VERSION

# checkpoint entries an exported model keeps as they are
KEPT = ("names", "model_config", "metrics", "kind", "epoch", "bundle")


def export_metadata(ckpt_meta: dict, imgsz: int, fmt: str, precision: str, weights: str,
                    params_fused: int, gflops: float) -> dict:
    """The metadata of an export of a checkpoint (``ckpt_meta``: its entries but the weights)."""
    pre = Preprocess.from_checkpoint(ckpt_meta, imgsz)
    meta = {k: ckpt_meta[k] for k in KEPT if k in ckpt_meta}
    meta.update(
        format="sdgas-export", format_version=1, runtime_format=fmt, precision=precision,
        imgsz=pre.imgsz, preprocess=pre.to_dict(),
        thresholds={"conf": PREDICT_CONF, "iou": NMS_IOU},
        input={"name": "images", "shape": ["batch", 3, pre.imgsz, pre.imgsz], "dtype": "float32",
               "range": "[0, 1] after the letterbox in preprocess"},
        output={"name": "output", "shape": ["batch", "anchors", 4 + len(ckpt_meta["names"])],
                "layout": "x1 y1 x2 y2 (input pixels), then class scores in [0, 1]; NMS not included"},
        # the exported model is identified by its source's weights hash (records name the model by it)
        hash=ckpt_meta.get("hash", ""), source_hash=ckpt_meta.get("hash", ""), source_weights=str(weights),
        params_fused=int(params_fused), gflops=float(gflops), version=VERSION, exported=time.time())
    return meta
