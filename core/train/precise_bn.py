"""Precise BatchNorm: a copy of the EMA model whose BatchNorm statistics are recomputed for its
weights on un-augmented training images (``TrainConfig.precise_bn_images``).

The EMA's running statistics lag its weights early in a run and on tiny sets; each validation
scores both and keeps the better (docs/training.md).
"""
from __future__ import annotations

import copy

import torch
from torch.utils.data import DataLoader

from core.data.dataset import DetectionDataset, collate
from core.model.blocks import BN_MOMENTUM


@torch.no_grad()
def calibrated_copy(model, train_ds: DetectionDataset, n: int, batch: int, seed: int, preprocess, device):
    """A copy of ``model`` in eval mode, its BatchNorm statistics the average over ``n`` training
    images (seeded choice; ``n`` <= 0: the copy as it is)."""
    model = copy.deepcopy(model)
    n = min(n, len(train_ds))
    if n <= 0:
        return model.eval()
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batches
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(train_ds), generator=g)[:n].tolist()
    calib = DetectionDataset([train_ds.samples[i] for i in idx], train_ds.imgsz, augment=False)
    calib._cache = [train_ds._cache[i] for i in idx] if train_ds._cache is not None else None
    model.train()
    for imgs, _, _ in DataLoader(calib, batch_size=batch, shuffle=False, num_workers=0, collate_fn=collate):
        if len(imgs) < 2:
            continue
        model(preprocess.to_input(imgs, device))
    for m in bns:
        m.momentum = BN_MOMENTUM
    return model.eval()
