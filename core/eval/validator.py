"""Run a model over a validated split and score it (the shared letterbox, boxes mapped back)."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader

from core.data.dataset import DetectionDataset, collate, quiet_worker
from core.data.preprocess import LetterboxInfo, scale_boxes
from core.data.validate import Sample
from core.infer.postprocess import postprocess

from .metrics import EvalResult, ImageResult, evaluate


def letterbox_info(s: Sample, imgsz: int) -> LetterboxInfo:
    """The letterbox geometry of ``preprocess.letterbox`` for an image of the sample's size."""
    r = min(imgsz / s.height, imgsz / s.width)
    nw, nh = int(round(s.width * r)), int(round(s.height * r))
    return LetterboxInfo(r, int(round((imgsz - nw) / 2 - 0.1)), int(round((imgsz - nh) / 2 - 0.1)), s.width, s.height)


@torch.no_grad()
def run_validation(model, samples: list[Sample], names: list[str], imgsz: int, batch: int = 16,
                   device="cpu", conf: float = 0.001, iou: float = 0.65, max_det: int = 300,
                   workers: int = 0, dataset: DetectionDataset | None = None,
                   verdict_conf: float = 0.25) -> tuple[EvalResult, list[ImageResult]]:
    """Evaluate ``model`` (eval mode) on ``samples``; returns the metrics and per-image results."""
    ds = dataset or DetectionDataset(samples, imgsz, augment=False)
    dl = DataLoader(ds, batch_size=batch, shuffle=False, num_workers=workers, collate_fn=collate,
                    worker_init_fn=quiet_worker)
    was_training = model.training
    model.eval()
    results: list[ImageResult] = []
    dtype = next(model.parameters()).dtype
    for imgs, _, idx in dl:
        x = imgs.to(device, non_blocking=True).to(dtype) / 255.0
        preds = postprocess(model(x).float(), conf_thres=conf, iou_thres=iou, max_det=max_det, multi_label=True)
        for p, i in zip(preds, idx):
            s = ds.samples[i]
            d = p.cpu().numpy()
            if len(d):
                d[:, :4] = scale_boxes(d[:, :4], letterbox_info(s, imgsz))
            g = np.concatenate([s.classes[:, None].astype(float), s.boxes.astype(float)], 1)
            results.append(ImageResult(d, g))
    model.train(was_training)
    return evaluate(results, names, conf=verdict_conf), results
