"""Run a model over a validated split and score it (the shared preprocessing, boxes mapped back)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from core.config import MAX_DET, NMS_IOU, PREDICT_CONF, VAL_CONF
from core.data.dataset import DetectionDataset, collate, quiet_worker
from core.data.preprocess import Preprocess, scale_boxes
from core.data.validate import Sample
from core.infer.postprocess import postprocess
from core.util.io import write_json

from .metrics import EvalResult, ImageResult, evaluate
from .plots import plot_confusion, plot_pr_curves


@torch.no_grad()
def run_validation(model, samples: list[Sample], names: list[str], imgsz: int, batch: int = 16,
                   device="cpu", conf: float = VAL_CONF, iou: float = NMS_IOU, max_det: int = MAX_DET,
                   workers: int = 0, dataset: DetectionDataset | None = None,
                   verdict_conf: float = PREDICT_CONF,
                   preprocess: Preprocess | None = None) -> tuple[EvalResult, list[ImageResult]]:
    """Evaluate ``model`` (an ``nn.Module``, put in eval mode, or a ``core.infer.backends`` backend)
    on ``samples``; returns the metrics and per-image results."""
    pre = preprocess or (dataset.preprocess if dataset is not None else Preprocess(imgsz))
    ds = dataset or DetectionDataset(samples, imgsz, augment=False, preprocess=pre)
    dl = DataLoader(ds, batch_size=batch, shuffle=False, num_workers=workers, collate_fn=collate,
                    worker_init_fn=quiet_worker)
    module = isinstance(model, torch.nn.Module)
    was_training = model.training if module else False
    if module:
        model.eval()
    results: list[ImageResult] = []
    dtype = next(model.parameters()).dtype if module else torch.float32
    for imgs, _, idx in dl:
        x = pre.to_input(imgs, device if module else None, dtype)
        preds = postprocess(model(x).float(), conf_thres=conf, iou_thres=iou, max_det=max_det, multi_label=True)
        for p, i in zip(preds, idx):
            s = ds.samples[i]
            d = p.cpu().numpy()
            if len(d):
                d[:, :4] = scale_boxes(d[:, :4], pre.geometry(s.width, s.height))
            g = np.concatenate([s.classes[:, None].astype(float), s.boxes.astype(float)], 1)
            results.append(ImageResult(d, g))
    if module:
        model.train(was_training)
    return evaluate(results, names, conf=verdict_conf), results


def run_validation_tiled(predictor, samples: list[Sample], names: list[str],
                         verdict_conf: float = PREDICT_CONF) -> tuple[EvalResult, list[ImageResult]]:
    """Evaluate a (tiled) predictor image by image at its own confidence and IoU."""
    from core.data.imageio import ImageError, read_image

    results: list[ImageResult] = []
    for s in samples:
        try:
            det = predictor(read_image(s.image))
        except ImageError:
            continue
        d = np.concatenate([det.boxes, det.scores[:, None], det.classes[:, None]], 1).astype(float) \
            if len(det) else np.zeros((0, 6))
        g = np.concatenate([s.classes[:, None].astype(float), s.boxes.astype(float)], 1)
        results.append(ImageResult(d, g))
    return evaluate(results, names, conf=verdict_conf), results


def save_outputs(res: EvalResult, names: list[str], folder: str | Path | None = None,
                 json_path: str | Path | None = None) -> None:
    """What a validation leaves behind: PR_curve.png and confusion_matrix.png in ``folder``, the
    metrics as JSON at ``json_path`` (either may be None)."""
    if folder:
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        plot_pr_curves(res.pr_curves, names, res.ap50, out / "PR_curve.png")
        plot_confusion(res.confusion, names, out / "confusion_matrix.png")
    if json_path:
        write_json(json_path, res.to_json())
